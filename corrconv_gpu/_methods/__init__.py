"""Computation methods for 2-D correlation / convolution windows.

Each submodule implements one method against an array namespace ``xp`` (NumPy
on the CPU, CuPy on a GPU):

* :mod:`.fft` -- tiled overlap-save FFT (``fft_correlate_window``,
  ``fft_cost_estimate``).
"""
