"""Backends execute a :class:`~corrconv_gpu._plan.Plan` with a method the
dispatcher chose: ``cpu`` (NumPy arrays) and ``cuda`` (CuPy arrays, or the
CPU emulator). They never import each other or the layers above."""
