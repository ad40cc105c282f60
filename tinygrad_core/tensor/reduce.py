"""Reductions: sum, max, min, mean, variance, products, arg-extremes, scans (cumsum & co.), sorting, and the
products that reduce (dot, matmul, einsum, newton_schulz)."""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tinygrad_core import function as F
from tinygrad_core.dtype import DType, dtypes, to_dtype
from tinygrad_core.errors import ArgumentError, ShapeError
from tinygrad_core.tensor.autodiff import apply

if TYPE_CHECKING:
    from tinygrad_core.tensor.tensor import Tensor


_SCAN_BLOCK = 64  # cumsum & co. split longer axes into blocks of this many elements


def _reduce_axes(self: Tensor, axis: int | Sequence[int] | None) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(self.ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    resolved = [self._axis(a) for a in axes]
    if len(set(resolved)) != len(resolved):
        raise ArgumentError(f"axis {axes} names a dim more than once (tensor of shape {self.shape})")
    return tuple(sorted(resolved)) if self.ndim else ()  # a 0-d tensor takes axis 0 or -1, as in PyTorch


def _reduce(self: Tensor, fn: type[F.Function], axis: int | Sequence[int] | None, keepdim: bool) -> Tensor:
    axes = self._reduce_axes(axis)
    out = apply(fn, self, axis=axes) if axes else self
    if keepdim:
        return out
    return out.reshape(tuple(s for i, s in enumerate(self.shape) if i not in axes))


def sum(
    self,
    axis: int | Sequence[int] | None = None,
    keepdim: bool = False,
    acc_dtype: DType | None = None,
    dtype: DType | None = None,
) -> Tensor:
    """`Tensor([[1, 2], [3, 4]]).sum(axis=1).tolist()` -> [3, 7]"""
    kind = to_dtype(dtype) if dtype is not None else to_dtype(acc_dtype) if acc_dtype is not None else None
    if kind is None:
        if self.dtype == dtypes.bool or (dtypes.is_int(self.dtype) and self.dtype.itemsize < 4):
            kind = dtypes.uint32 if dtypes.is_unsigned(self.dtype) else dtypes.int32
        else:
            kind = self.dtype
    if kind in (dtypes.float16, dtypes.bfloat16):
        return self.cast(dtypes.float32)._reduce(F.Sum, axis, keepdim).cast(kind)
    return self.cast(kind)._reduce(F.Sum, axis, keepdim)


def max(self: Tensor, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
    """`Tensor([[1, 5], [7, 2]]).max(axis=0).tolist()` -> [7, 5]"""
    if self.dtype == dtypes.bool:
        return self.cast(dtypes.uint8).max(axis, keepdim).cast(dtypes.bool)
    return self._reduce(F.Max, axis, keepdim)


def min(self: Tensor, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
    """`Tensor([3, 1, 2]).min().item()` -> 1"""
    if self.dtype == dtypes.bool:
        return self.logical_not().max(axis, keepdim).logical_not()
    if dtypes.is_unsigned(self.dtype):
        top = dtypes.max(self.dtype)
        return top - (top - self).max(axis, keepdim)
    if dtypes.is_int(self.dtype):
        return ~((~self).max(axis, keepdim))  # ~x = -x - 1 reverses the order without overflowing at the minimum
    return -((-self).max(axis, keepdim))


def mean(self: Tensor, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
    """`Tensor([1.0, 2.0, 3.0]).mean().item()` -> 2.0"""
    x = self._float()
    count = math.prod([self.shape[a] for a in self._reduce_axes(axis)])
    total = x.sum(axis, keepdim)
    return total / count if count else total * float("nan")


def var(self: Tensor, axis: int | Sequence[int] | None = None, keepdim: bool = False, correction: int = 1) -> Tensor:
    """Variance with Bessel's correction by default. `Tensor([1.0, 3.0]).var().item()` -> 2.0"""
    x = self._float()
    count = math.prod([self.shape[a] for a in self._reduce_axes(axis)])
    deviation = x - x.mean(axis, keepdim=True)
    return (deviation * deviation).sum(axis, keepdim) / builtins.max(count - correction, 0)


def std(self: Tensor, axis: int | Sequence[int] | None = None, keepdim: bool = False, correction: int = 1) -> Tensor:
    return self.var(axis, keepdim, correction).sqrt()


def std_mean(
    self, axis: int | Sequence[int] | None = None, keepdim: bool = False, correction: int = 1
) -> tuple[Tensor, Tensor]:
    return self.std(axis, keepdim, correction), self.mean(axis, keepdim)


def prod(self, axis: int | Sequence[int] | None = None, keepdim: bool = False, dtype: DType | None = None) -> Tensor:
    """Product of elements. `Tensor([2, 3, 4]).prod().item()` -> 24"""
    x = self.cast(to_dtype(dtype)) if dtype is not None else self
    if dtype is None and (x.dtype == dtypes.bool or (dtypes.is_int(x.dtype) and x.dtype.itemsize < 4)):
        x = x.cast(dtypes.uint32 if dtypes.is_unsigned(x.dtype) else dtypes.int32)
    axes = self._reduce_axes(axis)
    rest = [a for a in range(self.ndim) if a not in axes]
    # reduce by multiplying halves: exact for integers, log2(n) small kernels
    flat = x.permute(rest + list(axes)).reshape(
        tuple(self.shape[a] for a in rest) + (math.prod([self.shape[a] for a in axes]),)
    )
    while flat.shape[-1] > 1:
        if flat.shape[-1] % 2:
            flat = flat.pad([(0, 0)] * (flat.ndim - 1) + [(0, 1)], value=1)
        halves = flat.reshape(flat.shape[:-1] + (flat.shape[-1] // 2, 2))
        flat = (halves[..., 0] * halves[..., 1]).contiguous().contiguous_backward()
    if flat.shape[-1] == 0:
        flat = flat.pad([(0, 0)] * (flat.ndim - 1) + [(0, 1)], value=1)
    out = flat.reshape(tuple(self.shape[a] for a in rest))
    if keepdim:
        out = out.reshape(tuple(1 if i in axes else s for i, s in enumerate(self.shape)))
    return out


def argmax(self: Tensor, axis: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first maximum; of the first NaN where there is one (the max is NaN then), as numpy and PyTorch.
    `Tensor([1, 9, 3]).argmax().item()` -> 1"""
    if axis is None:
        return self.flatten().argmax(0)
    axis = self._axis(axis)
    n = self.shape[axis]
    if n == 0:
        raise ValueError(f"argmax of an empty dim (shape {self.shape})")
    is_max = self.eq(self.max(axis, keepdim=True))
    if dtypes.is_float(self.dtype):
        is_max = is_max | self.isnan()  # a row with a NaN has a NaN maximum, equal to nothing
    # count down from n so the first maximum wins the max below
    countdown = self.arange(n, 0, -1, device=self.device).reshape((n,) + (1,) * (self.ndim - axis - 1))
    return (n - (is_max.cast(dtypes.int32) * countdown).max(axis, keepdim)).cast(dtypes.int32)


def argmin(self: Tensor, axis: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first minimum."""
    if self.dtype == dtypes.bool:
        return self.logical_not().argmax(axis, keepdim)
    if dtypes.is_unsigned(self.dtype):
        return (dtypes.max(self.dtype) - self).argmax(axis, keepdim)
    if dtypes.is_int(self.dtype):
        return (~self).argmax(axis, keepdim)
    return (-self).argmax(axis, keepdim)


def any(self: Tensor, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
    return self.bool().max(axis, keepdim)


def all(self: Tensor, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
    return self.logical_not().any(axis, keepdim).logical_not()


def dot(self: Tensor, w: Tensor) -> Tensor:
    """numpy's matmul: 1-D and batched operands. `Tensor([1, 2]) @ Tensor([[1], [1]])` -> [3]"""
    if self.ndim == 0 or w.ndim == 0:
        raise ShapeError(f"matmul: both operands need at least 1 dim, got {self.shape} and {w.shape}")
    x = self.unsqueeze(0) if self.ndim == 1 else self
    y = w.unsqueeze(1) if w.ndim == 1 else w
    if x.shape[-1] != y.shape[-2]:
        raise ShapeError(f"matmul: shapes {self.shape} and {w.shape} are not aligned ({x.shape[-1]} != {y.shape[-2]})")
    x = x.reshape(x.shape[:-1] + (1, x.shape[-1]))  # (..., n, 1, k)
    y = y.transpose(-1, -2).reshape(y.shape[:-2] + (1,) + (y.shape[-1], y.shape[-2]))  # (..., 1, m, k)
    out = (x * y).sum(-1)
    if self.ndim == 1:
        out = out.squeeze(-2)
    if w.ndim == 1:
        out = out.squeeze(-1)
    return out


def matmul(self: Tensor, x: Tensor, reverse: bool = False) -> Tensor:
    if isinstance(x, np.ndarray):  # `array @ tensor`: numpy leaves it to Tensor.__rmatmul__
        x = type(self)(x, device=self.device)
    return x.dot(self) if reverse else self.dot(x)


def newton_schulz(self: Tensor, steps: int, params: tuple[float, ...], eps: float = 1e-7) -> Tensor:
    """Orthogonalize the last two dims by `steps` Newton-Schulz iterations of the odd polynomial with coefficients
    `params`: X <- sum_i params[i] * (X X^T)^i X, starting from X / ||X|| (Muon's inner loop; tinygrad's name).

    `Tensor.eye(2).newton_schulz(5, (2.0, -1.5, 0.5)).shape` -> (2, 2)"""
    if self.ndim < 2:
        raise ShapeError(f"newton_schulz: needs at least 2 dims, got shape {self.shape}")
    if self.shape[-2] > self.shape[-1]:
        return self.transpose(-2, -1).newton_schulz(steps, params, eps).transpose(-2, -1)
    x = self / (self.square().sum(axis=(-2, -1), keepdim=True).sqrt() + eps)
    for _ in range(steps):
        gram = x @ x.transpose(-2, -1)
        term, total = x, x * params[0]
        for coefficient in params[1:]:
            term = gram @ term
            total = total + term * coefficient
        x = total
    return x


def cumsum(self: Tensor, axis: int = 0) -> Tensor:
    """Running sum along an axis. `Tensor([1, 2, 3]).cumsum().tolist()` -> [1, 3, 6]"""
    return self._scan(axis, "sum")


def cumprod(self: Tensor, axis: int = 0) -> Tensor:
    """Running product along an axis. `Tensor([1, 2, 3]).cumprod().tolist()` -> [1, 2, 6]"""
    return self._scan(axis, "prod")


def cummax(self: Tensor, axis: int = 0) -> tuple[Tensor, Tensor]:
    """Running max along an axis and the int32 index where each was reached (the latest, on ties), as PyTorch and
    tinygrad return them. `Tensor([1, 3, 2]).cummax()[0].tolist()` -> [1, 3, 3]"""
    values = self._scan(axis, "max")
    return values, self._scan_index(values, axis)


def cummin(self: Tensor, axis: int = 0) -> tuple[Tensor, Tensor]:
    """Running min along an axis and the int32 index where each was reached (the latest, on ties).

    `Tensor([3, 1, 2]).cummin()[0].tolist()` -> [3, 1, 1]"""
    flipped = self.logical_not() if self.dtype == dtypes.bool else ~self if dtypes.is_int(self.dtype) else -self
    best = flipped._scan(axis, "max")
    values = best.logical_not() if self.dtype == dtypes.bool else ~best if dtypes.is_int(self.dtype) else -best
    return values, self._scan_index(values, axis)


def _scan_index(self: Tensor, values: Tensor, axis: int) -> Tensor:
    """Where a running extreme was last reached: a running max over the positions where self equals it."""
    if self.ndim == 0 or self.numel() == 0:
        return self.zeros_like(dtype=dtypes.int32)
    axis = self._axis(axis)
    n = self.shape[axis]
    position = self.arange(n, device=self.device).reshape((n,) + (1,) * (self.ndim - axis - 1))
    return self.eq(values).where(position, -1)._scan(axis, "max")


def logcumsumexp(self: Tensor, axis: int = 0) -> Tensor:
    """log(cumsum(exp(x))), stable. `Tensor([0.0, 0.0]).logcumsumexp().tolist()` -> [0.0, 0.6931...]"""
    return self._float()._scan(axis, "logsumexp")


def _scan(self: Tensor, axis: int, op: str) -> Tensor:
    axis = self._axis(axis)
    if self.ndim == 0 or self.numel() == 0:
        return self
    x = self.transpose(axis, -1)
    if op == "sum" and (x.dtype == dtypes.bool or (dtypes.is_int(x.dtype) and x.dtype.itemsize < 4)):
        x = x.cast(dtypes.uint32 if dtypes.is_unsigned(x.dtype) else dtypes.int32)
    return x._scan_last(op).transpose(axis, -1)


def _scan_last(self: Tensor, op: str) -> Tensor:
    """Inclusive scan of the last axis. Axes longer than _SCAN_BLOCK are split into blocks: a scan inside each
    block, a scan of the block totals, and one combine, so memory stays O(n * _SCAN_BLOCK), not O(n^2)."""
    n = self.shape[-1]
    identity = {"sum": 0, "prod": 1, "max": dtypes.min(self.dtype), "logsumexp": -math.inf}[op]
    lead = [(0, 0)] * (self.ndim - 1)
    if n <= _SCAN_BLOCK:
        # row i of the windows holds n - 1 - i identities and then x[0..i]: a reduce finishes the scan
        windows = self.pad(lead + [(n - 1, 0)], value=identity)._pool((n,), (1,), (1,))
        return getattr(windows, op)(-1)  # Tensor.sum, .prod, .max or .logsumexp
    blocks = math.ceil(n / _SCAN_BLOCK)
    x = self.pad(lead + [(0, blocks * _SCAN_BLOCK - n)], value=identity)
    inner = x.reshape(self.shape[:-1] + (blocks, _SCAN_BLOCK))._scan_last(op)
    totals = inner.shrink([None] * (inner.ndim - 1) + [(_SCAN_BLOCK - 1, _SCAN_BLOCK)]).squeeze(-1)
    # what comes before each block: the scan of the totals, shifted right by one block
    carry = totals._scan_last(op).pad(lead + [(1, -1)], value=identity).unsqueeze(-1)
    combine = {"sum": "add", "prod": "mul", "max": "maximum", "logsumexp": "logaddexp"}[op]
    out = getattr(inner, combine)(carry).reshape(self.shape[:-1] + (blocks * _SCAN_BLOCK,))
    return out.shrink([None] * (self.ndim - 1) + [(0, n)])


def sort(self: Tensor, dim: int = -1, descending: bool = False) -> tuple[Tensor, Tensor]:
    """Sorted values and their int32 indices (stable: ties keep their order) along dim, by a bitonic network.

    `Tensor([3, 1, 2]).sort()[0].tolist()` -> [1, 2, 3]"""
    if self.ndim == 0 or self.shape[self._axis(dim)] <= 1:
        return self, self.zeros_like(dtype=dtypes.int32)
    dim = self._axis(dim)
    x = self.transpose(dim, -1)
    n = x.shape[-1]
    if x.dtype == dtypes.bool:
        values, order = self.cast(dtypes.uint8).sort(dim, descending)
        return values.cast(dtypes.bool), order
    size = 1 << (n - 1).bit_length()
    lead = [(0, 0)] * (x.ndim - 1)
    # padding sorts last either way: it is the extreme value and, among equals, has the largest index
    values = x.pad(lead + [(0, size - n)], value=dtypes.min(x.dtype) if descending else dtypes.max(x.dtype))
    index = self.arange(size, device=self.device, dtype=dtypes.int32).expand(values.shape)
    stages = size.bit_length() - 1
    for stage in range(1, stages + 1):
        values, index = _bitonic_step(values, index, 1 << stage, True, descending)
        for sub in range(stage - 1, 0, -1):
            values, index = _bitonic_step(values, index, 1 << sub, False, descending)
    keep = [None] * (x.ndim - 1) + [(0, n)]
    return values.shrink(keep).transpose(dim, -1), index.shrink(keep).transpose(dim, -1)


def argsort(self: Tensor, dim: int = -1, descending: bool = False) -> Tensor:
    """int32 indices that sort along dim. `Tensor([3, 1, 2]).argsort().tolist()` -> [1, 2, 0]"""
    return self.sort(dim, descending)[1]


def topk(self: Tensor, k: int, dim: int = -1, largest: bool = True, sorted_: bool = True) -> tuple[Tensor, Tensor]:
    """The k largest (or smallest) values and their int32 indices along dim, sorted.

    `Tensor([1, 3, 2]).topk(2)[0].tolist()` -> [3, 2]"""
    dim = self._axis(dim)
    if not 0 <= k <= (self.shape[dim] if self.ndim else 1):
        raise ValueError(f"topk: k={k} is out of range for dim {dim} of shape {self.shape}")
    values, index = self.sort(dim, descending=largest)
    keep = [(0, k) if d == dim else None for d in range(self.ndim)]
    return values.shrink(keep), index.shrink(keep)


def einsum(
    cls: type[Tensor], formula: str, *operands: Tensor | Sequence[Tensor], dtype: DType | str | None = None
) -> Tensor:
    """Einstein summation with "->" (or numpy's implicit output), "..." and repeated letters (diagonals).

    `Tensor.einsum("ij,j->i", Tensor([[1, 2], [3, 4]]), Tensor([1, 1])).tolist()` -> [3, 7]"""
    if len(operands) == 1 and not isinstance(operands[0], cls):
        tensors = list(operands[0])
    else:
        tensors = [t for t in operands if isinstance(t, cls)]
    formula = formula.replace(" ", "")
    lhs, arrow, rhs = formula.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(tensors):
        raise ValueError(f"einsum: {formula!r} names {len(terms)} operands, got {len(tensors)}")
    # "..." becomes letters the formula doesn't use, right-aligned across operands
    spare = [c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba" if c not in formula]
    widths = [t.ndim - len(term.replace("...", "")) if "..." in term else 0 for term, t in zip(terms, tensors)]
    ellipsis = "".join(spare[: builtins.max(widths, default=0)])[::-1]
    terms = [term.replace("...", ellipsis[len(ellipsis) - w :] if w else "") for term, w in zip(terms, widths)]
    if arrow:
        output = rhs.replace("...", ellipsis)
    else:
        letters = "".join(terms)
        output = ellipsis + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ellipsis))
    order = list(output) + sorted({c for term in terms for c in term} - set(output))
    aligned = []
    for term, t in zip(terms, tensors):
        if len(term) != t.ndim:
            raise ShapeError(f"einsum: operand {term!r} of {formula!r} has shape {t.shape} ({t.ndim} dims)")
        while len(set(term)) < len(term):  # a repeated letter: take that diagonal
            letter = next(c for c in term if term.count(c) > 1)
            first = term.index(letter)
            second = term.index(letter, first + 1)
            t = t.diagonal(0, first, second)
            term = term[:first] + term[first + 1 : second] + term[second + 1 :] + letter
        present = [c for c in order if c in term]
        t = t.permute([term.index(c) for c in present])
        aligned.append(t.reshape([t.shape[present.index(c)] if c in term else 1 for c in order]))
    product = aligned[0]
    for t in aligned[1:]:
        product = product * t
    summed = tuple(range(len(output), len(order)))
    kind = to_dtype(dtype) if dtype is not None else None
    out = product.sum(summed, dtype=kind) if summed else product
    return out.cast(kind) if kind is not None else out


def var_mean(
    self, axis: int | Sequence[int] | None = None, keepdim: bool = False, correction: int = 1
) -> tuple[Tensor, Tensor]:
    """(var, mean) in one call. `[t.item() for t in Tensor([1.0, 3.0]).var_mean()]` -> [2.0, 2.0]"""
    return self.var(axis, keepdim, correction), self.mean(axis, keepdim)


def _bitonic_step(values: Tensor, index: Tensor, block: int, mirror: bool, descending: bool) -> tuple[Tensor, Tensor]:
    """One layer of a bitonic sorting network over the last dim: a compare-exchange inside every block of `block`
    elements, pairing i with i + block/2, or with block-1-i when `mirror` (that merges two sorted halves).
    Ties are ordered by index, so the network sorts (value, index) pairs: a stable sort."""
    shape = values.shape
    split = shape[:-1] + (shape[-1] // block, 2, block // 2)
    lead: list[tuple[int, int] | None] = [None] * (len(split) - 2)
    v, i = values.reshape(split), index.reshape(split)
    v_a, v_b = v.shrink([*lead, (0, 1), None]), v.shrink([*lead, (1, 2), None])
    i_a, i_b = i.shrink([*lead, (0, 1), None]), i.shrink([*lead, (1, 2), None])
    if mirror:
        v_b, i_b = v_b.flip(-1), i_b.flip(-1)
    after = v_b.gt(v_a) if descending else v_a.gt(v_b)
    swap = after | (v_a.eq(v_b) & i_a.gt(i_b))
    first_v, second_v = swap.where(v_b, v_a), swap.where(v_a, v_b)
    first_i, second_i = swap.where(i_b, i_a), swap.where(i_a, i_b)
    if mirror:
        second_v, second_i = second_v.flip(-1), second_i.flip(-1)
    # a kernel boundary per layer, forward and backward: inlined, each layer would read the previous one twice
    values = first_v.cat(second_v, dim=-2).reshape(shape).contiguous().contiguous_backward()
    index = first_i.cat(second_i, dim=-2).reshape(shape).contiguous()
    return values, index


class ReduceMixin:
    """Tensor's reduction methods: the functions above, bound by Tensor, which inherits this class."""

    _reduce_axes = _reduce_axes
    _reduce = _reduce
    sum = sum
    max = max
    min = min
    mean = mean
    var = var
    std = std
    std_mean = std_mean
    prod = prod
    argmax = argmax
    argmin = argmin
    any = any
    all = all
    dot = dot
    matmul = matmul
    newton_schulz = newton_schulz
    cumsum = cumsum
    cumprod = cumprod
    cummax = cummax
    cummin = cummin
    _scan_index = _scan_index
    logcumsumexp = logcumsumexp
    _scan = _scan
    _scan_last = _scan_last
    sort = sort
    argsort = argsort
    topk = topk
    einsum = classmethod(einsum)
    var_mean = var_mean
