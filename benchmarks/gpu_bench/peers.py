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
                   memory (DLPack); TF32 off, ``cudnn.benchmark`` on.

With ``--fake-gpu-with-emulator`` ours runs on ``use_backend('emulated')``,
scipy.signal / scipy.ndimage stand in for the cupyx peers (the same call
code) and torch is skipped.
"""

import corrconv_gpu

OURS = ("ours", "ours_direct", "ours_fft")
PEERS = ("cupyx_signal", "cupyx_ndimage", "torch")
LABEL = {"ours": "corrconv_gpu (auto)", "ours_direct": "corrconv_gpu direct",
         "ours_fft": "corrconv_gpu fft", "cupyx_signal": "cupyx.scipy.signal.correlate2d",
         "cupyx_ndimage": "cupyx.scipy.ndimage.correlate",
         "torch": "torch.nn.functional.conv2d"}
SHORT = {"ours_fft": "fft", "cupyx_signal": "signal", "cupyx_ndimage": "ndimage",
         "torch": "torch"}
# max|peer - ours| / (sum|w| * max|x|); float16 results are rounded to half
# (2^-11 relative) and a peer may accumulate in half
TOL = {"float16": 1e-2, "float32": 1e-5, "float64": 1e-12}


def _same_origin(k):
    return k - 1 - 2 * (k // 2)


def load(env):
    """Import the peer libraries for ``env`` (a harness.Env; ``env.fake``: the
    SciPy stand-ins) and set ``env.signal``, ``env.ndimage``, ``env.torch``
    (None when unavailable; ``env.signal_why`` / ``env.ndimage_why`` /
    ``env.torch_why`` say why) and ``env.peer_note``."""
    if env.fake:
        import scipy.ndimage
        import scipy.signal
        env.signal, env.ndimage = scipy.signal, scipy.ndimage
        env.torch, env.torch_why = None, "skipped in --fake-gpu-with-emulator"
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
    env.peer_note = ""


def libraries(env, with_torch=True):
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

    def ndimage(x, w):
        origin = [_same_origin(k) for k in w.shape]
        return lambda: env.ndimage.correlate(x, w, mode="constant", cval=0.0, origin=origin)

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
        libs["cupyx_ndimage"] = ndimage
    if with_torch and env.torch is not None:
        libs["torch"] = torch_conv
    return libs


def as_xp(env, r):
    """A library's result as an ``env.xp`` array (torch tensors through DLPack)."""
    if env.torch is not None and isinstance(r, env.torch.Tensor):
        return env.xp.from_dlpack(r.detach().contiguous()).reshape(r.shape[-2:])
    return env.xp.asarray(r)
