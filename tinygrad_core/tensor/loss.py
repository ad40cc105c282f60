"""Losses: cross entropy and its variants, negative log likelihood, binary cross entropy, regression losses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinygrad_core.dtype import dtypes
from tinygrad_core.errors import ShapeError
from tinygrad_core.tensor.checks import defer

if TYPE_CHECKING:
    from tinygrad_core.tensor.tensor import Tensor


def _do_reduction(self: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return self.mean()
    if reduction == "sum":
        return self.sum()
    if reduction == "none":
        return self
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _class_onehot(self: Tensor, target: Tensor, class_dim: int, op: str, ignore_index: int | None = None) -> Tensor:
    """A bool one-hot of integer class indices, shaped like self (classes along class_dim); a label outside the
    classes (other than ignore_index) raises an IndexError at the next read of a result (tensor/checks.py)."""
    expected = self.shape[:class_dim] + self.shape[class_dim + 1 :]
    if target.shape != expected:
        raise ShapeError(f"{op}: target {target.shape} should have shape {expected} for input {self.shape}")
    if dtypes.is_float(target.dtype):
        raise TypeError(f"{op}: class-index targets must be integers, got {target.dtype}")
    classes = self.shape[class_dim]
    arange = self.arange(classes, device=self.device).reshape((classes,) + (1,) * (self.ndim - class_dim - 1))
    onehot = target.unsqueeze(class_dim).eq(arange)
    bad = (target < 0) | (target >= classes)
    if ignore_index is not None:
        bad = bad & target.ne(ignore_index)
    defer(bad, IndexError, f"{op}: a target label is out of range (classes 0 to {classes - 1})", onehot)
    return onehot


def cross_entropy(
    self,
    Y: Tensor,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    ignore_index: int = -100,
) -> Tensor:
    """Softmax cross entropy of logits (classes in dim 1, or dim 0 for 1-D) against class indices or class
    probabilities (same shape as self). ignore_index (PyTorch's; index targets only) drops those entries.

    `Tensor([[0.0, 0.0]]).cross_entropy(Tensor([1])).item()` -> 0.6931..."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    class_dim = 0 if self.ndim == 1 else 1
    classes = self.shape[class_dim]
    log_probs = self.log_softmax(class_dim)
    if Y.shape == self.shape and dtypes.is_float(Y.dtype):
        target = Y * (1 - label_smoothing) + label_smoothing / classes
        return (-(log_probs * target).sum(class_dim))._do_reduction(reduction)
    onehot = self._class_onehot(Y, class_dim, "cross_entropy", ignore_index)
    keep = Y.ne(ignore_index)
    picked = (log_probs * onehot).sum(class_dim)
    loss = -((1 - label_smoothing) * picked + label_smoothing * log_probs.mean(class_dim)) * keep
    return loss.sum() / keep.sum() if reduction == "mean" else loss._do_reduction(reduction)


def sparse_categorical_crossentropy(
    self,
    Y: Tensor,
    ignore_index: int = -1,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """Softmax cross entropy of logits with classes in the LAST dim against integer labels (tinygrad's).

    `Tensor([[0.0, 0.0]]).sparse_categorical_crossentropy(Tensor([1])).item()` -> 0.6931..."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"sparse_categorical_crossentropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    log_probs = self.log_softmax(-1)
    onehot = self._class_onehot(Y, self.ndim - 1, "sparse_categorical_crossentropy", ignore_index)
    keep = Y.ne(ignore_index)
    picked = (log_probs * onehot).sum(-1)
    loss = -((1 - label_smoothing) * picked + label_smoothing * log_probs.mean(-1)) * keep
    return loss.sum() / keep.sum() if reduction == "mean" else loss._do_reduction(reduction)


def nll_loss(
    self,
    Y: Tensor,
    weight: Tensor | None = None,
    ignore_index: int | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log likelihood of log-probabilities (classes in dim 1) at integer labels; "mean" divides by the
    total weight. `Tensor([[-1.0, -2.0]]).nll_loss(Tensor([1])).item()` -> 2.0"""
    class_dim = 0 if self.ndim == 1 else 1
    onehot = self._class_onehot(Y, class_dim, "nll_loss", ignore_index)
    if weight is None:
        sample_weight = onehot.any(class_dim).where(1.0, 0.0)
    else:
        if weight.shape != (self.shape[class_dim],):
            raise ShapeError(f"nll_loss: weight {weight.shape} should have shape ({self.shape[class_dim]},)")
        per_class = weight.reshape((weight.shape[0],) + (1,) * (self.ndim - class_dim - 1))
        sample_weight = (onehot * per_class).sum(class_dim)
    if ignore_index is not None:
        sample_weight = sample_weight * Y.ne(ignore_index)
    loss = -(self * onehot).sum(class_dim) * sample_weight
    return loss.sum() / sample_weight.sum() if reduction == "mean" else loss._do_reduction(reduction)


def binary_crossentropy(self: Tensor, Y: Tensor, reduction: str = "mean") -> Tensor:
    """-(Y log p + (1 - Y) log(1 - p)) of probabilities, each log clamped at -100 like PyTorch.

    `Tensor([0.5]).binary_crossentropy(Tensor([1.0])).item()` -> 0.6931..."""
    loss = -(Y * self.log().maximum(-100) + (1 - Y) * (1 - self).log().maximum(-100))
    return loss._do_reduction(reduction)


def binary_crossentropy_logits(self, Y: Tensor, reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """binary_crossentropy of sigmoid(self), computed stably from the logits.

    `Tensor([0.0]).binary_crossentropy_logits(Tensor([1.0])).item()` -> 0.6931..."""
    positive = Y * self.logsigmoid() if pos_weight is None else pos_weight * Y * self.logsigmoid()
    return (-(positive + (1 - Y) * (-self).logsigmoid()))._do_reduction(reduction)


def mse_loss(self: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error (PyTorch's name; tinygrad has none).

    `Tensor([1.0, 3.0]).mse_loss(Tensor([0.0, 0.0])).item()` -> 5.0"""
    return (self - target).square()._do_reduction(reduction)


def l1_loss(self: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean absolute error (PyTorch's name). `Tensor([1.0, -3.0]).l1_loss(Tensor([0.0, 0.0])).item()` -> 2.0"""
    return (self - target).abs()._do_reduction(reduction)


def smooth_l1_loss(self: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Quadratic below beta, linear above (PyTorch's name).

    `Tensor([0.5, 3.0]).smooth_l1_loss(Tensor([0.0, 0.0])).item()` -> 1.3125"""
    diff = (self - target).abs()
    if beta == 0:
        return diff._do_reduction(reduction)
    return diff.lt(beta).where(0.5 * diff * diff / beta, diff - 0.5 * beta)._do_reduction(reduction)


def huber_loss(self: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """Quadratic below delta, delta * (|d| - delta / 2) above (PyTorch's name).

    `Tensor([3.0]).huber_loss(Tensor([0.0])).item()` -> 2.5"""
    diff = (self - target).abs()
    return diff.lt(delta).where(0.5 * diff * diff, delta * (diff - 0.5 * delta))._do_reduction(reduction)


class LossMixin:
    """Tensor's loss methods: the functions above, bound by Tensor, which inherits this class."""

    _do_reduction = _do_reduction
    _class_onehot = _class_onehot
    cross_entropy = cross_entropy
    sparse_categorical_crossentropy = sparse_categorical_crossentropy
    nll_loss = nll_loss
    binary_crossentropy = binary_crossentropy
    binary_crossentropy_logits = binary_crossentropy_logits
    mse_loss = mse_loss
    l1_loss = l1_loss
    smooth_l1_loss = smooth_l1_loss
    huber_loss = huber_loss
