"""The frontends' shared room: argument checks and messages (``validate``),
``output=`` (``output``), docstring fragments (``docs``) and the
implementations of the public functions (``numpy1d``, ``signal2d``, ``ndimage``)."""
