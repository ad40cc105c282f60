"""tinygrad-tiny: the smallest tinygrad-core backend, a pure-Python interpreter of the kernel IR."""

__version__ = "0.1.0"
