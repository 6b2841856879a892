"""Named docstring fragments of the public functions and the one docfiller
(as scipy.ndimage's ``_ni_docstrings``): a fragment is written once."""

boundary = """boundary : str {'fill', 'wrap', 'symm'}, optional
        How the input ``in1`` is extended beyond its edges (SciPy's flags)::

            'fill' (or 'pad')          k k k k | a b c d | k k k k
            'wrap' (or 'circular')     a b c d | a b c d | a b c d
            'symm' (or 'symmetric')    d c b a | a b c d | d c b a

        ``k`` is `fillvalue`. 'wrap' and 'symm' are periodic (periods ``n``
        and ``2n``), so kernels larger than the input work."""

ext = """method : {'auto', 'direct', 'separable', 'fft'}, optional
        Extension. 'direct' sums the products (exact for integers);
        'separable' runs r pairs of 1-D passes when the kernel has rank
        r <= 2 within the float tolerance (integer kernels only when the
        factors are exact integers), else 'direct'; 'fft' uses tiled
        overlap-save FFTs (float and complex only); 'auto' picks by a cost
        model. Integer and bool input never takes the FFT, nor does input or
        a fill value holding NaN or Inf (whatever `method` says: an FFT would
        spread them over a whole tile, where SciPy confines them to the
        outputs that read them).
    fast_float32 : bool, optional
        Extension. By default float32 FFTs are computed in float64, which
        keeps the local accuracy of high-dynamic-range images; True computes
        them in float32 (1.3-1.6x faster on large images, with relative
        errors up to ~1e-1 on pixels near 1e-4 of the maximum)."""

stack = """axes : pair of int, optional
        Extension (keyword-only). The axes of ``in1`` that ``in2``'s two axes
        run along, e.g. ``(-2, -1)``. Any other axes of ``in1`` index a stack
        of 2-D frames, each filtered with the same 2-D kernel ``in2`` in one
        backend call: the result equals a loop of this function over the
        frames, the filtered axes holding the output's two dimensions. By
        default (None) both inputs must be 2-D, as in SciPy: an ``in1`` of
        more dimensions raises SciPy's ``ValueError`` (an RGB image
        ``(H, W, 3)`` is not a stack of H frames of ``(W, 3)``).
    output : ndarray or dtype, optional
        Extension (keyword-only), as in `scipy.ndimage`: the array in which
        to place the result (of the output's shape, else ``RuntimeError
        ("output shape not correct")``; it may overlap ``in1``), or the dtype
        of the returned array (the result is cast to it with NumPy's
        unsafe cast; a float result converts to an integer dtype as
        scipy.ndimage's outputs do, C's conversion on x86-64, the same on
        every element and platform). By default a new array of the common
        dtype. A complex result needs a complex ``output`` (a real dtype is
        promoted, with a warning)."""

# ------------------------------------------------------- scipy.ndimage

input = """input : array_like
        The input array. NumPy or CuPy array; never modified."""

output = """output : array or dtype, optional
        The array in which to place the output (it may overlap `input`), or
        the dtype of the returned array. By default an array of the same
        dtype as input will be created (complex when the input or the
        weights are complex: ``promote_types(input.dtype, complex64)``).
        The sum is computed in float64 (complex128) and stored with C's
        conversion, as SciPy: integer outputs truncate toward zero; sums
        outside the type's range are stored as SciPy stores them on x86-64,
        on every element and platform (README: "Float sums in integer
        outputs")."""

mode = """mode : {'reflect', 'constant', 'nearest', 'mirror', 'wrap'}, optional
        The `mode` parameter determines how the input array is extended
        beyond its boundaries. Default is 'reflect'. Behavior for each valid
        value is as follows:

        'reflect' (`d c b a | a b c d | d c b a`)
            The input is extended by reflecting about the edge of the last
            pixel. This mode is also sometimes referred to as half-sample
            symmetric.

        'constant' (`k k k k | a b c d | k k k k`)
            The input is extended by filling all values beyond the edge with
            the same constant value, defined by the `cval` parameter.

        'nearest' (`a a a a | a b c d | d d d d`)
            The input is extended by replicating the last pixel.

        'mirror' (`d c b | a b c d | c b a`)
            The input is extended by reflecting about the center of the last
            pixel. This mode is also sometimes referred to as whole-sample
            symmetric.

        'wrap' (`a b c d | a b c d | a b c d`)
            The input is extended by wrapping around to the opposite edge.

        For consistency with the interpolation functions, the following mode
        names can also be used:

        'grid-mirror'
            This is a synonym for 'reflect'.

        'grid-constant'
            This is a synonym for 'constant'.

        'grid-wrap'
            This is a synonym for 'wrap'.

        A sequence of modes (one per axis) is refused, as by SciPy."""

cval = """cval : scalar, optional
        Value to fill past edges of input if `mode` is 'constant'. Default
        is 0.0. Complex only for a complex input."""

origin = """origin : int, optional
        Controls the placement of the filter on the input array's pixels.
        A value of 0 (the default) centers the filter over the pixel, with
        positive values shifting the filter to the left, and negative ones
        to the right. Must satisfy ``-(len(weights) // 2) <= origin <=
        (len(weights) - 1) // 2`` (for convolution, after SciPy's change to
        ``-origin``, minus 1 for an even length)."""

origins = """origin : int or sequence, optional
        Controls the placement of the filter on the input array's pixels.
        A value of 0 (the default) centers the filter over the pixel, with
        positive values shifting the filter to the left, and negative ones
        to the right. By passing a sequence of origins with length equal to
        the number of filtered axes, different shifts can be specified along
        each axis."""

axes = """axes : tuple of int or None, optional
        If None, `input` is filtered along all axes. Otherwise, `input` is
        filtered along the specified axes; the others index a stack of
        signals or images, all filtered in one backend call. When `axes` is
        specified, a sequence `origin` must match the length of `axes`, and
        ``weights.ndim == len(axes)``. Weights of any dimensionality: a
        filter over more than two axes runs on the CPU as one pass that adds
        every product in SciPy's C order (SciPy's float64 sums exactly,
        where the kernel fits in the input); on a GPU, for each tap of the
        leading filtered axes, the 2-D filter of the last two, accumulated
        in float64, so an integer output may differ from SciPy's by one
        where the sum lies within rounding of an integer; large kernels
        (``method='fft'``, or 'auto' by the cost model) take whole-array
        transforms."""

ndimage_ext = """method : {'auto', 'direct', 'fft'}, optional
        Extension (keyword-only): as in :func:`corrconv_gpu.correlate2d`.
        'auto' never takes the FFT for an integer or bool output, whose
        truncation would turn its rounding into off-by-one errors.
    fast_float32 : bool, optional
        Extension (keyword-only): as in :func:`corrconv_gpu.correlate2d`."""

notes = """SciPy's correlate/convolve skip the weights with ``|w| <= DBL_EPSILON``
    (NaN weights included); these weights are zeroed here, which gives
    SciPy's values for finite input. A NaN or infinity of the input under a
    zero weight propagates here (0 * NaN) but not in SciPy."""


_FRAGMENTS = {k: v for k, v in dict(globals()).items()
              if isinstance(v, str) and not k.startswith("_")}


def docfill(*functions):
    """Fill each function's ``%(name)s`` placeholders with the fragments."""
    for f in functions:
        f.__doc__ = f.__doc__ % _FRAGMENTS
