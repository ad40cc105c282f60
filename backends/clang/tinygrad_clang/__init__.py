"""tinygrad-clang: the C backend of tinygrad-core (device CLANG)."""

__version__ = "0.1.0"
