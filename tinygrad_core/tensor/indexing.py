"""Indexing: t[...] reads and writes (ints, slices, None, Ellipsis, integer tensors, boolean masks), gather and
scatter, and writing through a view into the memory it shows."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_core.dtype import dtypes
from tinygrad_core.errors import ArgumentError, ShapeError
from tinygrad_core.lazy import LazyBuffer
from tinygrad_core.ops import Ops
from tinygrad_core.schedule import realize
from tinygrad_core.tensor.checks import defer
from tinygrad_core.view import View

if TYPE_CHECKING:
    from tinygrad_core.tensor.tensor import Scalar, Tensor, TensorLike


def getitem(self: Tensor, indices: Any) -> Tensor:
    """numpy indexing: ints, slices with steps, None, Ellipsis, negative indices, integer tensors or lists, and
    boolean masks (which, as in PyTorch, read the mask's values to learn the result's shape)."""
    indices = self._normalize_index(indices)
    x, dim = self, 0
    shape_out: list[tuple[str, Tensor | None]] = []
    bounds, flips, strides = [], [], []
    for index in indices:
        if index is None:
            shape_out.append(("new", None))
            continue
        size = self.shape[dim]
        if isinstance(index, type(self)):
            if dtypes.is_float(index.dtype):
                raise IndexError(f"tensors used as indices must be integers, got {index.dtype}")
            bounds.append((0, size))
            flips.append(False)
            strides.append(1)
            shape_out.append(("tensor", index))
        elif isinstance(index, slice):
            if any(isinstance(part, type(self)) for part in (index.start, index.stop, index.step)):
                # tinygrad's rule (a one-element tensor would pass as an int through __index__): bounds are ints
                raise TypeError(f"slice bounds must be ints, not Tensors: {index}; use int(t) for a value read back")
            start, stop, step = index.indices(size)
            if step > 0:
                count = max(0, math.ceil((stop - start) / step))
                bounds.append((start, start + (count - 1) * step + 1) if count else (0, 0))
            else:
                count = max(0, math.ceil((start - stop) / -step))
                bounds.append((start + (count - 1) * step, start + 1) if count else (0, 0))
            flips.append(step < 0)
            strides.append(abs(step))
            shape_out.append(("keep", None))
        elif isinstance(index, (int, np.integer)):
            position = int(index) + size if index < 0 else int(index)
            if not 0 <= position < size:
                raise IndexError(f"index {index} is out of bounds for dim {dim} with size {size}")
            bounds.append((position, position + 1))
            flips.append(False)
            strides.append(1)
            shape_out.append(("drop", None))
        dim += 1
    x = x.shrink(bounds).flip(tuple(i for i, f in enumerate(flips) if f))
    if any(s != 1 for s in strides):
        x = x._stride(strides)
    # rebuild the shape: dropped dims go, new dims come
    kept_shape: list[int] = []
    tensor_positions: list[tuple[int, Tensor]] = []
    axis = 0
    for kind, index in shape_out:
        if kind == "new":
            kept_shape.append(1)
        elif kind == "drop":
            axis += 1
        else:
            if kind == "tensor":
                assert isinstance(index, type(self))
                tensor_positions.append((len(kept_shape), index))
            kept_shape.append(x.shape[axis])
            axis += 1
    x = x.reshape(kept_shape)
    if tensor_positions:
        x = x._gather_tensors(tensor_positions)
    return x


def setitem(self: Tensor, indices: Any, value: TensorLike) -> None:
    """t[idx] = value, writing into t's memory now (and into the tensor t is a view of), as in PyTorch and
    tinygrad; value broadcasts to t[idx]'s shape and must have t's dtype. Duplicate indices: the last write wins.

    `t = Tensor.zeros(3); t[1] = 7; t.tolist()` -> [0.0, 7.0, 0.0]"""
    if not isinstance(value, type(self)):
        value = type(self)(value, device=self.device, dtype=self.dtype)
    if self.requires_grad or value.requires_grad:
        raise NotImplementedError("setitem: writing into (or from) a tensor that requires grad has no gradient")
    if value.dtype != self.dtype:
        raise RuntimeError(f"setitem dtype mismatch: a {value.dtype} value into a {self.dtype} tensor; cast it")
    if self.lazydata.base.op is Ops.CONST:  # a constant has no memory: this tensor gets its own first
        self.lazydata = self.lazydata.contiguous(force=True)
        realize(self.lazydata)
    parts = self._normalize_index(indices)
    target = self[parts]
    value = value.to(self.device)
    try:
        value = value.expand(target.shape) if value.shape != target.shape else value
    except ShapeError:
        raise ShapeError(f"setitem: a value of shape {value.shape} can't fill t[...] of shape {target.shape}") from None
    if not any(isinstance(part, type(self)) for part in parts):
        target.assign(value)  # a view of this tensor's memory: written through
        return
    if any(part is None for part in parts):
        raise NotImplementedError("setitem: None in an index with integer tensors is not supported")
    self._setitem_indexed(parts, value)


def _setitem_indexed(self: Tensor, parts: tuple[Any, ...], value: Tensor) -> None:
    """t[parts] = value where some parts are integer tensors: each element of the view the other parts select
    takes the value of the last index combination that names it. Costs (index combinations) x (view elements)."""
    basic = tuple(slice(None) if isinstance(part, type(self)) else part for part in parts)
    view = self[basic]
    tensor_dims, rest_dims, dim = [], [], 0  # positions in `view` of the tensor-indexed dims and of the others
    indexes = []
    for part in parts:
        if isinstance(part, int):
            continue
        if isinstance(part, type(self)):
            size = view.shape[dim]
            indexes.append(part.lt(0).where(part + size, part))
            tensor_dims.append(dim)
        else:
            rest_dims.append(dim)
        dim += 1
    batch = tuple(np.broadcast_shapes(*(i.shape for i in indexes)))
    nb, nt = len(batch), len(tensor_dims)
    # numpy puts the batch dims where the first tensor index was when they are adjacent, else in front
    adjacent = tensor_dims == list(range(tensor_dims[0], tensor_dims[0] + nt))
    at = sum(1 for d in rest_dims if d < tensor_dims[0]) if adjacent else 0
    order = list(range(at, at + nb)) + [d for d in range(value.ndim) if not at <= d < at + nb]
    value = value.permute(order)  # (batch..., rest...)
    hit = None
    for k, (d, index) in enumerate(zip(tensor_dims, indexes)):
        size = view.shape[d]
        shape = batch + tuple(size if j == k else 1 for j in range(nt))
        onehot = (
            index.expand(batch).reshape(batch + (1,) * nt).eq(self.arange(size, device=self.device).reshape(shape[nb:]))
        )
        hit = onehot if hit is None else hit & onehot  # (batch..., indexed dims...)
    assert hit is not None
    count = math.prod(batch)
    number = self.arange(count, device=self.device).reshape(batch + (1,) * nt)
    winner = hit.where(number, -1).max(tuple(range(nb))) if nb else hit.where(number, -1)
    chosen = hit & number.eq(winner)
    rest = len(rest_dims)
    picked = chosen.reshape(chosen.shape + (1,) * rest).where(value.reshape(batch + (1,) * nt + value.shape[nb:]), 0)
    placed = picked.sum(tuple(range(nb)), dtype=self.dtype) if nb else picked  # (indexed dims..., rest...)
    inverse = sorted(range(view.ndim), key=(tensor_dims + rest_dims).__getitem__)
    placed = placed.permute(inverse)
    written = winner.ge(0).reshape(winner.shape + (1,) * rest).permute(inverse)
    view.assign(written.where(placed, view))


def _index_part(self: Tensor, index: Any) -> Any:
    """One part of an index as __getitem__ takes it: sequences and arrays become Tensors on this device."""
    if isinstance(index, (list, tuple, np.ndarray)):
        array = np.asarray(index)
        if array.dtype == np.bool_:
            return type(self)(array, device=self.device)
        if array.size and array.dtype.kind not in "iu":
            raise IndexError(f"index {index!r} holds {array.dtype} values; only integers and booleans index")
        return type(self)(array.astype(np.int32), device=self.device)
    if isinstance(index, type(self)) and index.device != self.device:
        return index.to(self.device)
    if isinstance(index, np.integer):
        return int(index)
    if isinstance(index, bool) or (isinstance(index, type(self)) and index.dtype == dtypes.bool and index.ndim == 0):
        raise IndexError("a single True or False as an index is not supported; use where() or masked_select()")
    if index is None or index is Ellipsis or isinstance(index, (int, slice, type(self))):
        return index
    raise IndexError(f"unsupported index {index!r} (use ints, slices, None, ..., integer or boolean tensors)")


def _normalize_index(self: Tensor, indices: Any) -> tuple[Any, ...]:
    """A full index: one part per dim (ints, slices, integer Tensors) plus Nones, with the Ellipsis expanded and
    boolean masks replaced by the integer positions of their True values (read from the device)."""
    given = indices if isinstance(indices, tuple) else (indices,)
    parts = tuple(self._index_part(i) for i in given)
    # integer sequences from the host are checked here, at once (index tensors on the device: at the next read)
    host = {id(part): np.asarray(i) for i, part in zip(given, parts) if isinstance(i, (list, tuple, np.ndarray))}
    if sum(1 for i in parts if i is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis")

    def width(part: Any) -> int:
        if isinstance(part, type(self)) and part.dtype == dtypes.bool:
            return part.ndim  # a mask indexes as many dims as it has
        return 0 if part is None or part is Ellipsis else 1

    consuming = sum(width(i) for i in parts)
    if consuming > self.ndim:
        raise IndexError(f"too many indices ({consuming} dims) for a tensor of shape {self.shape}")
    at = next((k for k, i in enumerate(parts) if i is Ellipsis), len(parts))
    parts = parts[:at] + (slice(None),) * (self.ndim - consuming) + parts[at + 1 :]
    out: list[Any] = []
    dim = 0
    for part in parts:
        if isinstance(part, type(self)) and part.dtype == dtypes.bool:
            covered = self.shape[dim : dim + part.ndim]
            if part.shape != covered:
                raise IndexError(f"boolean index of shape {part.shape} does not match dims {covered} of {self.shape}")
            out.extend(type(self)(p.astype(np.int32), device=self.device) for p in np.nonzero(part.numpy()))
        else:
            values = host.get(id(part))
            if values is not None and values.size and values.dtype != np.bool_:
                size = self.shape[dim]
                if values.min() < -size or values.max() >= size:
                    raise IndexError(f"index {values.tolist()} is out of bounds for dim {dim} with size {size}")
            out.append(part)
        dim += width(part)
    return tuple(out)


def _stride(self: Tensor, strides: list[int]) -> Tensor:
    """Every strides[d]-th element along each dim d (the tensor already starts at the first one)."""
    x = self
    for d, step in enumerate(strides):
        if step == 1:
            continue
        count = math.ceil(x.shape[d] / step)
        pad = [(0, 0)] * x.ndim
        pad[d] = (0, count * step - x.shape[d])
        x = x.pad(pad)
        x = x.reshape(x.shape[:d] + (count, step) + x.shape[d + 1 :])
        bounds: list[tuple[int, int] | None] = [None] * x.ndim
        bounds[d + 1] = (0, 1)
        x = x.shrink(bounds).reshape(x.shape[:d] + (count,) + x.shape[d + 2 :])
    return x


def _gather_tensors(self: Tensor, positions: list[tuple[int, Tensor]]) -> Tensor:
    """numpy's advanced indexing: integer tensors index dims jointly, with their shapes broadcast together."""
    dims = [d for d, _ in positions]
    indexes = [idx.to(self.device) for _, idx in positions]
    batch = tuple(np.broadcast_shapes(*(i.shape for i in indexes)))
    # one-hot masks: x[..., i, ...] = sum_j x[..., j, ...] * (i == j)
    rest = [d for d in range(self.ndim) if d not in dims]
    x = self.cast(dtypes.uint8) if self.dtype == dtypes.bool else self
    x = x.permute(dims + rest)  # indexed dims first
    x = x.reshape((1,) * len(batch) + x.shape)
    for k, (d, idx) in enumerate(zip(dims, indexes)):
        size = self.shape[d]
        fixed = idx.lt(0).where(idx + size, idx).expand(batch) if batch else idx.lt(0).where(idx + size, idx)
        onehot = fixed.reshape(batch + (1,)) == self.arange(size, device=self.device).reshape(
            (1,) * len(batch) + (size,)
        )
        remaining = len(dims) - k - 1
        onehot = onehot.reshape(batch + (size,) + (1,) * (remaining + len(rest)))
        x = onehot.where(x, 0).sum(len(batch), dtype=x.dtype)  # select, not multiply: inf and nan stay exact
    # x is now batch + rest dims; numpy puts batch dims at the first index's place when the indexed dims are
    # adjacent
    if dims == list(range(dims[0], dims[0] + len(dims))):
        nb = len(batch)
        order = list(range(nb, nb + dims[0])) + list(range(nb)) + list(range(nb + dims[0], x.ndim))
        x = x.permute(order)
    out = x.cast(self.dtype)
    for d, idx in zip(dims, indexes):
        size = self.shape[d]
        message = f"index tensor has values out of bounds for dim {d} with size {size} (valid: -{size} to {size - 1})"
        defer((idx < -size) | (idx >= size), IndexError, message, out)
    return out


def one_hot(self: Tensor, num_classes: int = -1) -> Tensor:
    """int32 one-hot codes in a new last dim (tinygrad's default int; PyTorch gives int64); -1 infers the count.

    `Tensor([0, 2]).one_hot(3).tolist()` -> [[1, 0, 0], [0, 0, 1]]"""
    if dtypes.is_float(self.dtype):
        raise TypeError(f"one_hot needs integer class indices, got {self.dtype}")
    if num_classes == -1:
        num_classes = int(self.max().item()) + 1 if self.numel() else 0
    out = self.unsqueeze(-1).eq(self.arange(num_classes, device=self.device)).where(1, 0)
    message = f"one_hot: a class value is out of range (0 to {num_classes - 1} for num_classes={num_classes})"
    defer((self < 0) | (self >= num_classes), IndexError, message, out)
    return out


def gather(self: Tensor, dim: int, index: Tensor) -> Tensor:
    """out[i][j] = self[index[i][j]][j] for dim 0 (and likewise for other dims), like torch.gather.

    `Tensor([[1, 2], [3, 4]]).gather(1, Tensor([[1], [0]])).tolist()` -> [[2], [3]]"""
    dim = self._axis(dim)
    if index.ndim != self.ndim or any(i > s for d, (i, s) in enumerate(zip(index.shape, self.shape)) if d != dim):
        raise ShapeError(f"gather: index {index.shape} must have {self.ndim} dims, none larger than input {self.shape}")
    if dtypes.is_float(index.dtype):
        raise TypeError(f"gather: index must be an integer tensor, got {index.dtype}")
    size = self.shape[dim]
    x = self.shrink([(0, i) if d != dim else None for d, i in enumerate(index.shape)])
    # x gets a size-1 dim at `dim` (broadcast over the index positions) and the gathered axis at the end
    x = x.unsqueeze(-1).transpose(-1, dim)
    kind = dtypes.uint8 if x.dtype == dtypes.bool else x.dtype
    onehot = index.unsqueeze(-1).eq(self.arange(size, device=self.device))
    out = onehot.where(x.cast(kind), 0).sum(-1, dtype=kind).cast(self.dtype)
    message = f"gather: index out of range for dim {dim} (size {size}: 0 to {size - 1})"
    defer((index < 0) | (index >= size), IndexError, message, out)
    return out


def _pre_scatter(self: Tensor, dim: int, index: Tensor, src: TensorLike, op: str) -> tuple[int, Tensor, Tensor]:
    """dim, src values (index.shape + (1,)) and the one-hot target mask (index.shape + (self.shape[dim],))."""
    dim = self._axis(dim)
    if index.ndim != self.ndim or any(i > s for d, (i, s) in enumerate(zip(index.shape, self.shape)) if d != dim):
        raise ShapeError(f"{op}: index {index.shape} must have {self.ndim} dims, none larger than input {self.shape}")
    if isinstance(src, (int, float, bool)):
        src = self.full(index.shape, src, dtype=self.dtype, device=self.device)
    elif src.dtype != self.dtype:
        raise ArgumentError(f"{op}: src has dtype {src.dtype}, the tensor {self.dtype}; cast one first")
    if src.ndim != index.ndim or any(i > s for i, s in zip(index.shape, src.shape)):
        raise ShapeError(f"{op}: index {index.shape} is larger than src {src.shape} in some dim")
    src = src.shrink([(0, i) for i in index.shape]).cast(self.dtype)
    size = self.shape[dim]
    mask = index.unsqueeze(-1).eq(self.arange(size, device=self.device))
    defer(
        (index < 0) | (index >= size),
        IndexError,
        f"{op}: index out of range for dim {dim} (size {size}: 0 to {size - 1})",
        mask,
    )
    return dim, src.unsqueeze(-1), mask


def _post_scatter(self: Tensor, dim: int, reduced: Tensor, fill: Scalar) -> Tensor:
    """(index.shape with dim 1, plus the target axis) -> self.shape, padding untouched positions with fill."""
    out = reduced.transpose(dim, -1).squeeze(-1)
    return out.pad([(0, s - o) for s, o in zip(self.shape, out.shape)], value=fill)


def scatter(self: Tensor, dim: int, index: Tensor, src: TensorLike, reduce: str | None = None) -> Tensor:
    """Write src into a copy of self at index along dim (reduce None, "add" or "multiply"); the last duplicate
    wins. `Tensor([0, 0, 0]).scatter(0, Tensor([2]), Tensor([7])).tolist()` -> [0, 0, 7]"""
    if reduce is not None and isinstance(src, type(self)):
        raise TypeError("scatter: reduce= takes a scalar src (tinygrad's rule); for a tensor src use scatter_reduce")
    dim, src, mask = self._pre_scatter(dim, index, src, "scatter")
    if reduce == "add":
        return self + self._post_scatter(dim, mask.where(src, 0).sum(dim, keepdim=True, dtype=self.dtype), 0)
    if reduce == "multiply":
        return self * self._post_scatter(dim, mask.where(src, 1).prod(dim, keepdim=True, dtype=self.dtype), 1)
    if reduce is not None:
        raise TypeError(f"scatter: reduce must be None, 'add' or 'multiply', got {reduce!r}")
    position = (
        type(self)
        .arange(index.shape[dim], device=self.device)
        .reshape((1,) * dim + (index.shape[dim],) + (1,) * (index.ndim - dim))
    )
    last = mask.where(position, -1).max(dim, keepdim=True)
    chosen = mask & position.eq(last)
    value = chosen.where(src, 0).sum(dim, keepdim=True, dtype=self.dtype)
    hit = self._post_scatter(dim, mask.any(dim, keepdim=True), False)
    return hit.where(self._post_scatter(dim, value, 0), self)


def scatter_reduce(
    self: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, include_self: bool = True
) -> Tensor:
    """Reduce src into self at index along dim: reduce is "sum", "prod", "mean", "amax" or "amin".

    `Tensor([1, 1]).scatter_reduce(0, Tensor([0, 0]), Tensor([2, 3]), "sum").tolist()` -> [6, 1]"""
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise ArgumentError(f"scatter_reduce: reduce must be sum, prod, mean, amax or amin, got {reduce!r}")
    if isinstance(src, type(self)) and src.dtype != self.dtype:
        raise ArgumentError(f"scatter_reduce: src has dtype {src.dtype}, self {self.dtype}; cast one first")
    dim, src, mask = self._pre_scatter(dim, index, src, "scatter_reduce")
    hit = self._post_scatter(dim, mask.any(dim, keepdim=True), False)
    if reduce in ("sum", "mean"):
        total = self._post_scatter(dim, mask.where(src, 0).sum(dim, keepdim=True, dtype=self.dtype), 0)
        if reduce == "sum":
            return hit.where(total + self, self) if include_self else hit.where(total, self)
        count = self._post_scatter(dim, mask.sum(dim, keepdim=True), 0) + int(include_self)
        total = total + self if include_self else total
        count = count.maximum(1)  # positions nothing hits keep self (below): never divide by their zero count
        mean = total / count if dtypes.is_float(self.dtype) else total._floordiv(count.cast(self.dtype))
        return hit.where(mean, self)
    if reduce == "prod":
        product = self._post_scatter(dim, mask.where(src, 1).prod(dim, keepdim=True, dtype=self.dtype), 1)
        return hit.where(product * self, self) if include_self else hit.where(product, self)
    fill = dtypes.min(self.dtype) if reduce == "amax" else dtypes.max(self.dtype)
    sign = 1 if reduce == "amax" else -1
    extreme = sign * (sign * mask.where(src, fill)).max(dim, keepdim=True)
    extreme = self._post_scatter(dim, extreme, fill)
    if include_self:
        extreme = extreme.maximum(self) if reduce == "amax" else extreme.minimum(self)
    return hit.where(extreme, self)


def masked_select(self: Tensor, mask: Tensor) -> Tensor:
    """The elements where mask is True, as a 1-D tensor (realizes the mask to learn the length).

    `Tensor([1, 2, 3]).masked_select(Tensor([True, False, True])).tolist()` -> [1, 3]"""
    x, keep = self._broadcasted(mask, op="masked_select", match_dtype=False)
    flat = x.flatten()
    positions = np.flatnonzero(keep.cast(dtypes.bool).numpy())
    if positions.size == 0:
        return flat.shrink(((0, 0),))
    return flat[type(self)(positions.astype(np.int32), device=self.device)]


def nonzero(self: Tensor) -> Tensor:
    """The int32 indices of the nonzero elements, one row per element (reads the values to learn how many).

    `Tensor([[0, 3], [5, 0]]).nonzero().tolist()` -> [[0, 1], [1, 0]]"""
    return type(self)(np.argwhere(self.numpy()).astype(np.int32), device=self.device)


def _write_through(view: LazyBuffer, value: Tensor) -> None:
    """Write `value` (shaped like `view`) into the memory of view's base, now, where the view shows it."""
    base = view.base
    if not base.realized:
        realize(base)
    (st,) = view.st.views if len(view.st.views) == 1 else (None,)
    if st is None or st.mask is not None:
        raise ArgumentError(
            f"assign: can't write through a view of shape {view.shape} that is padded or reshaped across a "
            "permutation; make it contiguous() first"
        )
    inside = value.ones(view.shape, dtype=dtypes.bool, device=view.device)
    placed, inside = _place(value, st, base.size), _place(inside, st, base.size)
    old = type(value)(base, device=view.device)
    new = inside.to(view.device).reshape(base.shape).where(placed.reshape(base.shape), old)
    realize(base.assign(new.lazydata))


def _place(x: Tensor, view: View, size: int) -> Tensor:
    """The flat tensor of `size` elements that `view` reads as x (zeros where it reads nothing): the inverse of a
    strided view, built from pads and reshapes. Views that read one element twice (expand) have no inverse."""
    dims = [(n, st) for n, st in zip(view.shape, view.strides) if n != 1]
    x = x.reshape([n for n, _ in dims])
    offset = view.offset
    for axis, (n, st) in enumerate(dims):
        if st == 0:
            raise ArgumentError(f"assign: a broadcast view of shape {view.shape} names one element several times")
        if st < 0:
            x, offset, dims[axis] = x.flip(axis), offset + (n - 1) * st, (n, -st)
    order = sorted(range(len(dims)), key=lambda axis: -dims[axis][1])
    x = x.permute(order).unsqueeze(-1)
    span = 1  # elements covered by one block of the dims placed so far
    for n, st in reversed([dims[axis] for axis in order]):
        if st < span:
            raise ArgumentError(f"assign: the view of shape {view.shape} names some elements several times")
        x = x.pad([(0, 0)] * (x.ndim - 1) + [(0, st - span)]).flatten(-2)
        span = (n - 1) * st + span
        x = x.shrink([None] * (x.ndim - 1) + [(0, span)])
    return x.reshape(span).pad(((offset, size - offset - span),))


class IndexingMixin:
    """Tensor's indexing methods: the functions above, bound by Tensor, which inherits this class."""

    __getitem__ = getitem
    __setitem__ = setitem
    _setitem_indexed = _setitem_indexed
    _index_part = _index_part
    _normalize_index = _normalize_index
    _stride = _stride
    _gather_tensors = _gather_tensors
    one_hot = one_hot
    gather = gather
    _pre_scatter = _pre_scatter
    _post_scatter = _post_scatter
    scatter = scatter
    scatter_reduce = scatter_reduce
    masked_select = masked_select
    nonzero = nonzero
