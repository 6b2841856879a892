"""The examples in the docstrings run and print what they show."""

import doctest
import importlib

import pytest

MODULES = ["corrconv_gpu._frontend.numpy1d", "corrconv_gpu._frontend.signal2d", "corrconv_gpu.signal",
           "corrconv_gpu.ndimage", "corrconv_gpu._dispatch.backend",
           "corrconv_gpu._backends.cuda.outofcore"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
