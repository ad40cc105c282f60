"""tinygrad-torch: an out-of-tree tinygrad-core backend that runs kernels with PyTorch tensor operations."""

__version__ = "0.1.0"
