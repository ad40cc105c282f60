"""Tensor, the user's API (tensor.py), its methods grouped by concern in this package's other modules."""

from tinygrad_core.tensor.tensor import Scalar, Tensor, TensorLike, no_grad

__all__ = ["Scalar", "Tensor", "TensorLike", "no_grad"]
