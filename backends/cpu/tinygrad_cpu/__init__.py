"""tinygrad-cpu: the reference tinygrad-core backend, interpreting kernels with numpy."""

__version__ = "0.1.0"
