"""The dependency rule of the package layout, enforced (README, "Architecture").

``lint-imports`` checks the contracts in pyproject.toml (layers, independent
backends, the independent reference oracle); the import graph, function-level
imports included, has no cycle.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
grimp = pytest.importorskip("grimp", reason="import-linter (the [test] extra) is not installed")


def _lint_imports():
    exe = Path(sys.executable).with_name("lint-imports")
    return str(exe) if exe.exists() else shutil.which("lint-imports")


def test_import_contracts_kept():
    exe = _lint_imports()
    assert exe, "lint-imports not found: install the [test] extra"
    proc = subprocess.run([exe], cwd=ROOT,   # reads pyproject.toml there
                          capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout and "kept" in proc.stdout


def _cycles(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for u in graph.find_modules_directly_imported_by(v):
            if u not in index:
                visit(u)
                low[v] = min(low[v], low[u])
            elif u in on:
                low[v] = min(low[v], index[u])
        if low[v] == index[v]:
            comp = []
            while True:
                u = stack.pop()
                on.discard(u)
                comp.append(u)
                if u == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    for v in sorted(graph.modules):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_function_level_imports_included():
    graph = grimp.build_graph("corrconv_gpu")
    # function-level imports are in the graph (the dispatcher imports the
    # backends inside run())
    assert "corrconv_gpu._backends.cuda" in graph.find_modules_directly_imported_by(
        "corrconv_gpu._dispatch")
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle():
    """The check above can fail: a graph with a cycle through a function-level
    import is reported."""
    graph = grimp.build_graph("corrconv_gpu")
    graph.add_import(importer="corrconv_gpu._methods.fft", imported="corrconv_gpu._dispatch")
    cycles = _cycles(graph)
    assert any("corrconv_gpu._methods.fft" in c and "corrconv_gpu._dispatch" in c
               for c in cycles)
