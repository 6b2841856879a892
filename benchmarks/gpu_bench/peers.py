"""How each library is called by benchmarks/run_gpu.py.

Every point (size N, dtype, K x K kernel, mode 'same', correlation, zero fill)
calls, on the same device input ``x`` (uniform in [0, 1)) and weights ``w``
(standard normal):

* ``ours``         ``corrconv_gpu.correlate2d(x, w, 'same', 'fill', 0, method='auto')``
                   under ``use_backend('cuda')``; ``ours_direct`` / ``ours_fft``:
                   ``method='direct'`` / ``'fft'``;
* ``cupyx_signal`` ``cupyx.scipy.signal.correlate2d(x, w, 'same', 'fill', 0)``;
* ``cupyx_ndimage`` ``cupyx.scipy.ndimage.correlate(x, w, mode='constant',
                   cval=0, origin=o)``, ``o = K-1-2*(K//2)`` (scipy.signal's 'same'
                   window; 0 for odd K);
* ``torch``        ``torch.nn.functional.conv2d(x[None, None], w[None, None],
                   padding='same')`` (conv2d *is* a correlation; the same window),
                   when torch with CUDA imports; the tensors share the CuPy
                   memory (DLPack); TF32 off, ``cudnn.benchmark`` on;
* ``cucim_ndimage`` ``cucim.skimage._vendored.ndimage.correlate(x, w,
                   mode='constant', cval=0, origin=o)`` (the same ``o``), when
                   cuCIM imports: ``cucim.skimage.filters`` has no generic 2-D
                   correlate, its filters call this vendored ndimage, so this is
                   what a cuCIM user's filtering runs. Looked up as
                   ``cucim.skimage._vendored.ndimage``, then
                   ``cucim.skimage._vendored._ndimage_filters`` (private
                   modules: where ``correlate`` lives may move between releases).

With ``--fake-gpu-with-emulator`` ours runs on ``use_backend('emulated')``,
scipy.signal / scipy.ndimage stand in for the cupyx peers (the same call
code); torch and cuCIM are skipped (cuCIM's call is cupyx_ndimage's, so a
second SciPy stand-in would check nothing new).
"""

import importlib

import corrconv_gpu

OURS = ("ours", "ours_direct", "ours_fft")
PEERS = ("cupyx_signal", "cupyx_ndimage", "torch", "cucim_ndimage")
LABEL = {"ours": "corrconv_gpu (auto)", "ours_direct": "corrconv_gpu direct",
         "ours_fft": "corrconv_gpu fft", "cupyx_signal": "cupyx.scipy.signal.correlate2d",
         "cupyx_ndimage": "cupyx.scipy.ndimage.correlate",
         "torch": "torch.nn.functional.conv2d",
         "cucim_ndimage": "cucim.skimage._vendored.ndimage.correlate"}
SHORT = {"ours_fft": "fft", "cupyx_signal": "signal", "cupyx_ndimage": "ndimage",
         "torch": "torch", "cucim_ndimage": "cucim"}
# where cuCIM keeps its ndimage copy, newest layout first
CUCIM_MODULES = ("cucim.skimage._vendored.ndimage", "cucim.skimage._vendored._ndimage_filters")
# max|peer - ours| / (sum|w| * max|x|); float16 results are rounded to half
# (2^-11 relative) and a peer may accumulate in half
TOL = {"float16": 1e-2, "float32": 1e-5, "float64": 1e-12}


def _same_origin(k):
    return k - 1 - 2 * (k // 2)


def _load_cucim():
    """(module with ``correlate``, cuCIM version, '') or (None, None, why)."""
    whys = []
    for name in CUCIM_MODULES:
        try:
            mod = importlib.import_module(name)
        except Exception as exc:
            whys.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        if callable(getattr(mod, "correlate", None)):
            try:
                version = importlib.import_module("cucim").__version__
            except Exception:
                version = "?"
            return mod, version, ""
        whys.append(f"{name}: no correlate")
    return None, None, "cuCIM not usable (" + "; ".join(whys) + ")"


def load(env):
    """Import the peer libraries for ``env`` (a harness.Env; ``env.fake``: the
    SciPy stand-ins) and set ``env.signal``, ``env.ndimage``, ``env.torch``,
    ``env.cucim`` (None when unavailable; ``env.signal_why`` /
    ``env.ndimage_why`` / ``env.torch_why`` / ``env.cucim_why`` say why),
    ``env.cucim_version`` and ``env.peer_note``."""
    env.cucim, env.cucim_version, env.cucim_why = None, None, ""
    if env.fake:
        import scipy.ndimage
        import scipy.signal
        env.signal, env.ndimage = scipy.signal, scipy.ndimage
        env.torch, env.torch_why = None, "skipped in --fake-gpu-with-emulator"
        env.cucim_why = "skipped in --fake-gpu-with-emulator"
        env.peer_note = ("stand-ins: scipy.signal / scipy.ndimage on the CPU run "
                         "the cupyx call code")
        return
    env.signal = env.ndimage = None
    try:
        import cupyx.scipy.signal
        env.signal = cupyx.scipy.signal
    except Exception as exc:
        env.signal_why = f"{type(exc).__name__}: {exc}"
    try:
        import cupyx.scipy.ndimage
        env.ndimage = cupyx.scipy.ndimage
    except Exception as exc:
        env.ndimage_why = f"{type(exc).__name__}: {exc}"
    env.torch, env.torch_why = None, ""
    try:
        import torch
        if torch.cuda.is_available():
            torch.backends.cudnn.allow_tf32 = False      # full float32 products
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.benchmark = True         # its fastest algorithm
            env.torch = torch
        else:
            env.torch_why = "torch without CUDA"
    except Exception as exc:
        env.torch_why = f"torch not importable ({type(exc).__name__}: {exc})"
    env.cucim, env.cucim_version, env.cucim_why = _load_cucim()
    env.peer_note = ""


def libraries(env, with_torch=True, with_cucim=True):
    """name -> make(x, w) -> call() returning the result array (CuPy / NumPy / torch)."""

    def ours(method):
        def make(x, w):
            def call():
                with corrconv_gpu.use_backend(env.backend):
                    return corrconv_gpu.correlate2d(x, w, "same", "fill", 0, method=method)
            return call
        return make

    def signal(x, w):
        return lambda: env.signal.correlate2d(x, w, "same", "fill", 0)

    def ndimage_of(mod):
        def make(x, w):
            origin = [_same_origin(k) for k in w.shape]
            return lambda: mod.correlate(x, w, mode="constant", cval=0.0, origin=origin)
        return make

    def torch_conv(x, w):
        torch = env.torch
        xt = torch.from_dlpack(x).reshape(1, 1, *x.shape)
        wt = torch.from_dlpack(w).reshape(1, 1, *w.shape)
        f = torch.nn.functional.conv2d
        return lambda: f(xt, wt, padding="same")

    libs = {"ours": ours("auto"), "ours_direct": ours("direct"), "ours_fft": ours("fft")}
    if env.signal is not None:
        libs["cupyx_signal"] = signal
    if env.ndimage is not None:
        libs["cupyx_ndimage"] = ndimage_of(env.ndimage)
    if with_torch and env.torch is not None:
        libs["torch"] = torch_conv
    if with_cucim and env.cucim is not None:
        libs["cucim_ndimage"] = ndimage_of(env.cucim)
    return libs


def as_xp(env, r):
    """A library's result as an ``env.xp`` array (torch tensors through DLPack)."""
    if env.torch is not None and isinstance(r, env.torch.Tensor):
        return env.xp.from_dlpack(r.detach().contiguous()).reshape(r.shape[-2:])
    return env.xp.asarray(r)
