"""Packaging: the kernels ship in the wheel and are found in editable installs."""

import os
import pathlib
import subprocess
import sys
import zipfile

import pytest

import corrconv_gpu
from corrconv_gpu._backends.cuda import kernels as _kernels

from conftest import ROOT
KERNELS = sorted(p.name for p in (ROOT / "kernels").glob("*.cu"))


def test_repo_has_kernels():
    assert "corr2d.cu" in KERNELS


def test_source_checkout_finds_repo_kernels():
    """Editable installs and checkouts read kernels/ of the repository."""
    if pathlib.Path(corrconv_gpu.__file__).resolve().parents[1] != ROOT:
        pytest.skip("corrconv_gpu is not imported from this checkout")
    for name in KERNELS:
        assert _kernels.kernel_source(name) == (ROOT / "kernels" / name).read_text()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("build")
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                           "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheels = list(out.glob("corrconv_gpu-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_wheel_contains_every_kernel_and_the_emulator(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in KERNELS:
        assert f"corrconv_gpu/kernels/{name}" in names
    for part in ("corrconv_gpu/_emu/include/emu_cuda.h",
                 "corrconv_gpu/_emu/runtime/emu_runtime.cpp",
                 "corrconv_gpu/_emu/include/cupy/complex.cuh"):
        assert part in names, part


def test_installed_wheel_runs_its_own_kernels(wheel, tmp_path):
    """Install the wheel into a bare folder and run the emulated GPU path from
    there, far from the repository, reading the kernel from the wheel."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile",
                    "--quiet", "--target", str(target), str(wheel)], check=True)
    code = (
        "import numpy as np, corrconv_gpu as cc, pathlib, scipy.signal as ss\n"
        "from corrconv_gpu._backends.cuda import kernels as _kernels\n"
        f"assert pathlib.Path(cc.__file__).resolve().is_relative_to({str(target.resolve())!r})\n"
        "src = _kernels.kernel_source('corr2d.cu')\n"
        "assert 'corr2d' in src\n"
        "x = np.arange(35.0).reshape(5, 7); w = np.array([[1.0, 2.0], [3.0, -1.0]])\n"
        "with cc.use_backend('emulated'):\n"
        "    got = cc.correlate2d(x, w, 'same', 'symm')\n"
        "assert np.allclose(got, ss.correlate2d(x, w, 'same', 'symm'))\n"
        "print('ok')\n")
    env = dict(os.environ, PYTHONPATH=str(target))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "ok"
