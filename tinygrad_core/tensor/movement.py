"""Movement: reshape, permute, expand, pad, shrink, flip and what is built from them (cat, stack, split, repeat,
roll, triangles, diagonals, einops-style rearrange). Every one is a view: no data moves until a kernel reads it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tinygrad_core import function as F
from tinygrad_core.dtype import dtypes, least_upper_dtype
from tinygrad_core.errors import ArgumentError, ShapeError
from tinygrad_core.helpers import argfix
from tinygrad_core.tensor.autodiff import apply

if TYPE_CHECKING:
    from tinygrad_core.tensor.tensor import Tensor


def _axis(self: Tensor, axis: int, ndim: int | None = None) -> int:
    ndim = self.ndim if ndim is None else ndim
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise IndexError(f"axis {axis} is out of range for a tensor with {ndim} dims (shape {self.shape})")
    return axis + ndim if axis < 0 else axis


def reshape(self: Tensor, shape: Any, *args: int) -> Tensor:
    """`Tensor.arange(6).reshape(2, -1).shape` -> (2, 3)"""
    given = argfix(shape, *args)
    if given == self.shape:
        return self
    new = tuple(s if s is not None else self.shape[i] for i, s in enumerate(given))
    if new.count(-1) > 1:
        raise ShapeError(f"reshape: only one dim can be -1, got {new}")
    if -1 in new:
        known = math.prod([s for s in new if s != -1])
        if known == 0 or self.numel() % known:
            raise ShapeError(f"reshape: cannot reshape {self.shape} into {new}")
        new = tuple(self.numel() // known if s == -1 else s for s in new)
    if any(s < 0 for s in new) or math.prod(new) != self.numel():
        raise ShapeError(f"reshape: cannot reshape {self.shape} ({self.numel()} elements) into {new}")
    return self if new == self.shape else apply(F.Reshape, self, shape=new)


def view(self: Tensor, *shape: Any) -> Tensor:
    return self.reshape(*shape)


def expand(self: Tensor, shape: Any, *args: int) -> Tensor:
    """Broadcast size-1 dims (and new leading dims). `Tensor([1, 2]).expand(2, 2).tolist()` -> [[1, 2], [1, 2]]"""
    new = argfix(shape, *args)
    if new == self.shape:
        return self
    if len(new) < self.ndim:
        raise ShapeError(f"expand: cannot expand {self.shape} to fewer dims {new}")
    current = (1,) * (len(new) - self.ndim) + self.shape
    new = tuple(old if want == -1 else want for old, want in zip(current, new))
    if any(old != want and old != 1 for old, want in zip(current, new)):
        raise ShapeError(f"expand: cannot expand {self.shape} to {new}")
    if new == current:
        return self.reshape(new)
    return apply(F.Expand, self, shape=new)


def permute(self: Tensor, order: Any, *args: int) -> Tensor:
    """`Tensor.ones(2, 3).permute(1, 0).shape` -> (3, 2)"""
    axes = tuple(self._axis(a) for a in argfix(order, *args))
    if sorted(axes) != list(range(self.ndim)):
        raise ShapeError(f"permute: {axes} is not a permutation of the {self.ndim} dims of {self.shape}")
    return self if axes == tuple(range(self.ndim)) else apply(F.Permute, self, order=axes)


def flip(self: Tensor, axis: Any, *args: int) -> Tensor:
    """Reverse along axes. `Tensor([1, 2, 3]).flip(0).tolist()` -> [3, 2, 1]"""
    given = [self._axis(a) for a in argfix(axis, *args)]
    if len(set(given)) != len(given):
        raise ArgumentError(f"flip: dims {argfix(axis, *args)} name a dim more than once (shape {self.shape})")
    axes = tuple(sorted(given))
    return apply(F.Flip, self, axes=axes) if axes else self


def shrink(self: Tensor, arg: Sequence[tuple[int, int] | None]) -> Tensor:
    """Keep [lo, hi) of each dim (None keeps it all). `Tensor([1, 2, 3]).shrink(((1, 3),)).tolist()` -> [2, 3]"""
    bounds = tuple((0, s) if b is None else (int(b[0]), int(b[1])) for b, s in zip(arg, self.shape))
    if any(not 0 <= lo <= hi <= s for (lo, hi), s in zip(bounds, self.shape)):
        raise ShapeError(f"shrink: bounds {bounds} out of range for shape {self.shape}")
    return self if all(b == (0, s) for b, s in zip(bounds, self.shape)) else apply(F.Shrink, self, bounds=bounds)


def pad(self: Tensor, padding: Sequence[Any], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad with a constant, or mode "reflect", "replicate" or "circular". Accepts ((before, after), ...) per dim,
    or PyTorch's flat (left, right, top, bottom, ...).

    `Tensor([1, 2]).pad((1, 1), "reflect").tolist()` -> [2, 1, 2, 1]"""
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    if padding and not isinstance(padding[0], (tuple, list)) and padding[0] is not None:
        flat = list(padding)
        if len(flat) % 2 or len(flat) // 2 > self.ndim:
            raise ShapeError(f"pad: flat padding {tuple(flat)} needs an even length of at most 2 * {self.ndim}")
        flat_pairs = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)][::-1]
        padding = [(0, 0)] * (self.ndim - len(flat_pairs)) + flat_pairs
    if len(padding) != self.ndim:
        raise ShapeError(f"pad: {len(padding)} pairs for a tensor with {self.ndim} dims")
    pairs = tuple((0, 0) if p is None else (int(p[0]), int(p[1])) for p in padding)
    if all(p == (0, 0) for p in pairs):
        return self
    if any(b < 0 or a < 0 for b, a in pairs):
        positive = tuple((max(b, 0), max(a, 0)) for b, a in pairs)
        if mode in ("constant", "circular"):
            shrink = tuple((-min(b, 0), s + min(a, 0)) for (b, a), s in zip(pairs, self.shape))
            return self.shrink(shrink).pad(positive, mode, value)
        # PyTorch reflects and replicates from the whole input, then crops the negative sides
        padded = self.pad(positive, mode, value)
        crop = tuple((-min(b, 0), n + min(a, 0)) for (b, a), n in zip(pairs, padded.shape))
        return padded.shrink(crop)
    if mode != "constant":
        return self._pad_mode(pairs, mode)
    padded = apply(F.Pad, self, padding=pairs)
    if value == 0:
        return padded
    inside = apply(F.Pad, self.ones(self.shape, dtype=dtypes.bool, device=self.device), padding=pairs)
    return inside.where(padded, value)


def _pad_mode(self: Tensor, pairs: tuple[tuple[int, int], ...], mode: str) -> Tensor:
    """Non-constant padding, one dim at a time: the borrowed edges are shrunk (and flipped) views, joined by cat."""
    x = self
    for dim, (before, after) in enumerate(pairs):
        if before == after == 0:
            continue
        size = x.shape[dim]
        limit = size - 1 if mode == "reflect" else size if mode == "circular" else math.inf
        if max(before, after) > limit or size == 0:
            raise ShapeError(f"pad: {mode} padding {(before, after)} is too large for dim {dim} of shape {x.shape}")

        def part(lo: int, hi: int, dim: int = dim, x: Tensor = x) -> Tensor:
            return x.shrink([(lo, hi) if d == dim else None for d in range(x.ndim)])

        if mode == "reflect":
            left, right = part(1, before + 1).flip(dim), part(size - after - 1, size - 1).flip(dim)
        elif mode == "circular":
            left, right = part(size - before, size), part(0, after)
        else:
            edge = list(x.shape)
            left = part(0, 1).expand(edge[:dim] + [before] + edge[dim + 1 :])
            right = part(size - 1, size).expand(edge[:dim] + [after] + edge[dim + 1 :])
        pieces = [piece for piece in (left, x, right) if piece.shape[dim]]
        x = pieces[0].cat(*pieces[1:], dim=dim)
    return x


def shrink_to(self: Tensor, shape: Any, *args: int | None) -> Tensor:
    """Keep the first `n` of each dim (None keeps it all). `Tensor([1, 2, 3]).shrink_to(2).tolist()` -> [1, 2]"""
    sizes = argfix(shape, *args)
    if len(sizes) != self.ndim:
        raise ShapeError(f"shrink_to: {len(sizes)} sizes for a tensor of shape {self.shape}")
    return self.shrink([None if n is None else (0, n) for n in sizes])


def pad_to(self: Tensor, shape: Any, *args: int | None, value: float = 0.0) -> Tensor:
    """Pad each dim at its end up to a size (None keeps it). `Tensor([1, 2]).pad_to(4).tolist()` -> [1, 2, 0, 0]"""
    sizes = argfix(shape, *args)
    if len(sizes) != self.ndim:
        raise ShapeError(f"pad_to: {len(sizes)} sizes for a tensor of shape {self.shape}")
    return self.pad([(0, 0 if n is None else n - s) for s, n in zip(self.shape, sizes)], value=value)


def transpose(self: Tensor, dim0: int = 1, dim1: int = 0) -> Tensor:
    """Swap two dims. `Tensor.ones(2, 3).transpose().shape` -> (3, 2)"""
    order = list(range(self.ndim))
    a, b = self._axis(dim0), self._axis(dim1)
    order[a], order[b] = order[b], order[a]
    return self.permute(order)


def T(self: Tensor) -> Tensor:
    return self.transpose() if self.ndim == 2 else self.permute(tuple(reversed(range(self.ndim))))


def flatten(self: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """`Tensor.ones(2, 3, 4).flatten(1).shape` -> (2, 12)"""
    if self.ndim == 0:
        return self.reshape(1)
    start, end = self._axis(start_dim), self._axis(end_dim)
    return self.reshape(self.shape[:start] + (math.prod(self.shape[start : end + 1]),) + self.shape[end + 1 :])


def unflatten(self: Tensor, dim: int, sizes: tuple[int, ...]) -> Tensor:
    dim = self._axis(dim)
    return self.reshape(self.shape[:dim] + tuple(sizes) + self.shape[dim + 1 :])


def unsqueeze(self: Tensor, dim: int) -> Tensor:
    """`Tensor([1, 2]).unsqueeze(0).shape` -> (1, 2)"""
    dim = self._axis(dim, self.ndim + 1)
    return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])


def squeeze(self: Tensor, dim: int | None = None) -> Tensor:
    """Drop size-1 dims. `Tensor.ones(1, 2, 1).squeeze().shape` -> (2,)"""
    if dim is None:
        return self.reshape(tuple(s for s in self.shape if s != 1))
    dim = self._axis(dim)
    if self.ndim == 0:
        return self
    return self if self.shape[dim] != 1 else self.reshape(self.shape[:dim] + self.shape[dim + 1 :])


def cat(self: Tensor, *others: Tensor, dim: int = 0) -> Tensor:
    """Join along a dim. `Tensor([1]).cat(Tensor([2, 3])).tolist()` -> [1, 2, 3]"""
    tensors = (self, *others)
    dim = self._axis(dim)
    for t in others:
        if t.ndim != self.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, self.shape)) if i != dim):
            raise ShapeError(f"cat: shapes {self.shape} and {t.shape} differ outside dim {dim}")
    kind = least_upper_dtype(*(t.dtype for t in tensors))
    total = sum(t.shape[dim] for t in tensors)
    parts, start = [], 0
    for t in tensors:
        padding = [(0, 0)] * self.ndim
        padding[dim] = (start, total - start - t.shape[dim])
        parts.append(t.cast(kind).pad(padding))
        start += t.shape[dim]
    out = parts[0]
    for part in parts[1:]:
        out = out + part
    return out


def stack(cls: type[Tensor], *tensors: Tensor, dim: int = 0) -> Tensor:
    """Join along a new dim. `Tensor.stack(Tensor([1]), Tensor([2])).tolist()` -> [[1], [2]]"""
    tensors = argfix(*tensors)
    first = tensors[0]
    for t in tensors[1:]:
        if t.shape != first.shape:
            raise ShapeError(f"stack: shapes {first.shape} and {t.shape} differ")
    dim = first._axis(dim, first.ndim + 1)
    return tensors[0].unsqueeze(dim).cat(*(t.unsqueeze(dim) for t in tensors[1:]), dim=dim)


def split(self: Tensor, sizes: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of `sizes` (an int: equal pieces, the last may be smaller) along a dim."""
    dim = self._axis(dim)
    length = self.shape[dim]
    if isinstance(sizes, int):
        if sizes <= 0:
            raise ValueError(f"split: size must be positive, got {sizes}")
        sizes = [min(sizes, length - i) for i in range(0, length, sizes)] or [0]
    if sum(sizes) != length:
        raise ShapeError(f"split: sizes {list(sizes)} don't add up to {length} (dim {dim} of {self.shape})")
    out, start = [], 0
    for size in sizes:
        bounds: list[tuple[int, int] | None] = [None] * self.ndim
        bounds[dim] = (start, start + size)
        out.append(self.shrink(bounds))
        start += size
    return tuple(out)


def chunk(self: Tensor, chunks: int, dim: int = 0) -> list[Tensor]:
    """`chunks` nearly equal pieces along a dim."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    length = self.shape[self._axis(dim)]
    return list(self.split(max(math.ceil(length / chunks), 1) if length else 1, dim=dim))


def repeat(self: Tensor, repeats: Any, *args: int) -> Tensor:
    """Tile the tensor. `Tensor([1, 2]).repeat(2).tolist()` -> [1, 2, 1, 2]"""
    reps = argfix(repeats, *args)
    if len(reps) < self.ndim:
        raise ShapeError(f"repeat: {len(reps)} repeats for a tensor with {self.ndim} dims")
    x = self.reshape((1,) * (len(reps) - self.ndim) + self.shape)
    interleaved = [d for s in x.shape for d in (1, s)]
    expanded = [d for r, s in zip(reps, x.shape) for d in (r, s)]
    return x.reshape(interleaved).expand(expanded).reshape(tuple(r * s for r, s in zip(reps, x.shape)))


def _tri(self: Tensor, diagonal: int, upper: bool) -> Tensor:
    if self.ndim < 2:
        raise ShapeError(f"{'triu' if upper else 'tril'}: needs at least 2 dims, got shape {self.shape}")
    rows, cols = self.shape[-2:]
    offset = self.arange(cols, device=self.device).reshape(1, cols) - self.arange(rows, device=self.device).reshape(
        rows, 1
    )
    keep = offset.ge(diagonal) if upper else offset.le(diagonal)
    return keep.where(self, self.zeros_like())


def triu(self: Tensor, diagonal: int = 0) -> Tensor:
    """Zero below the diagonal. `Tensor.ones(2, 2).triu().tolist()` -> [[1.0, 1.0], [0.0, 1.0]]"""
    return self._tri(diagonal, upper=True)


def tril(self: Tensor, diagonal: int = 0) -> Tensor:
    """Zero above the diagonal. `Tensor.ones(2, 2).tril().tolist()` -> [[1.0, 0.0], [1.0, 1.0]]"""
    return self._tri(diagonal, upper=False)


def diagonal(self: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal of two dims, as a new last dim (a view).

    `Tensor([[1, 2], [3, 4]]).diagonal().tolist()` -> [1, 4]"""
    a, b = self._axis(dim1), self._axis(dim2)
    if a == b:
        raise ArgumentError(f"diagonal: dim1 and dim2 must differ, got {dim1} and {dim2}")
    rest = [d for d in range(self.ndim) if d not in (a, b)]
    x = self.permute(rest + [a, b])
    rows, cols = x.shape[-2:]
    keep: list[tuple[int, int] | None] = [None] * len(rest)
    row_bounds = (min(-offset, rows), rows) if offset < 0 else (0, rows)
    col_bounds = (min(offset, cols), cols) if offset > 0 else (0, cols)
    x = x.shrink(keep + [row_bounds, col_bounds])
    m = min(x.shape[-2:])
    prefix = x.shape[:-2]
    if m == 0:
        return x.shrink(keep + [(0, 0), (0, 1)] if x.shape[-1] else keep + [(0, 0), (0, 0)]).reshape(prefix + (0,))
    # every (m+1)-th element of the flattened square lies on its diagonal
    x = x.shrink(keep + [(0, m), (0, m)]).reshape(prefix + (m * m,)).pad(keep + [(0, m)])
    return x.reshape(prefix + (m, m + 1)).shrink(keep + [(0, m), (0, 1)]).reshape(prefix + (m,))


def diag(self: Tensor, diagonal: int = 0) -> Tensor:
    """1-D -> a square matrix with self on a diagonal (tinygrad); 2-D -> its diagonal (PyTorch's extension).

    `Tensor([1, 2]).diag().tolist()` -> [[1, 0], [0, 2]]"""
    if self.ndim == 2:
        return self.diagonal(diagonal)
    if self.ndim != 1:
        raise ShapeError(f"diag: needs a 1-D or 2-D tensor, got shape {self.shape}")
    n = self.shape[0]
    square = self.unsqueeze(-1).pad(((0, 0), (0, n))).reshape(n * (n + 1))[: n * n].reshape(n, n)
    k = abs(diagonal)
    return square.pad(((0, k), (k, 0)) if diagonal >= 0 else ((k, 0), (0, k)))


def roll(self: Tensor, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Tensor:
    """Rotate elements along dims (all of them, flattened, when dims is None).

    `Tensor([1, 2, 3]).roll(1).tolist()` -> [3, 1, 2]"""
    if dims is None:
        if not isinstance(shifts, int) and len(shifts) != 1:
            raise ArgumentError(f"roll: {len(shifts)} shifts need as many dims, got dims=None")
        return self.flatten().roll(shifts, 0).reshape(self.shape)
    shift_list = [shifts] if isinstance(shifts, int) else list(shifts)
    dim_list = [dims] if isinstance(dims, int) else list(dims)
    if len(shift_list) != len(dim_list):
        raise ArgumentError(f"roll: {len(shift_list)} shifts for {len(dim_list)} dims")
    x = self
    for shift, dim in zip(shift_list, dim_list):
        dim = x._axis(dim)
        size = x.shape[dim]
        shift = shift % size if size else 0
        if shift:
            head = x.shrink([(size - shift, size) if d == dim else None for d in range(x.ndim)])
            tail = x.shrink([(0, size - shift) if d == dim else None for d in range(x.ndim)])
            x = head.cat(tail, dim=dim)
    return x


def repeat_interleave(self: Tensor, repeats: int, dim: int | None = None) -> Tensor:
    """Repeat each element in place. `Tensor([1, 2]).repeat_interleave(2).tolist()` -> [1, 1, 2, 2]"""
    x = self.flatten() if dim is None else self
    axis = 0 if dim is None else x._axis(dim)
    expanded = x.unsqueeze(axis + 1).expand(x.shape[: axis + 1] + (repeats,) + x.shape[axis + 1 :])
    return expanded.flatten(axis, axis + 1)


def meshgrid(self: Tensor, *args: Tensor, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors ("ij" or "xy" indexing).

    `[t.tolist() for t in Tensor([1, 2]).meshgrid(Tensor([3]))]` -> [[[1], [2]], [[3], [3]]]"""
    if indexing not in ("ij", "xy"):
        raise ArgumentError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    tensors = (self, *args)
    shape = [t.numel() for t in tensors]
    positions = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
        positions[0], positions[1] = 1, 0
    grids = []
    for t, position in zip(tensors, positions):
        view = [1] * len(tensors)
        view[position] = t.numel()
        grids.append(t.reshape(view).expand(shape))
    return tuple(grids)


def rearrange(self: Tensor, formula: str, **sizes: int) -> Tensor:
    """einops-style reshape and permute by dim names, with (groups) and "..."; sizes name split dims.

    `Tensor.ones(2, 3, 4).rearrange("a b c -> c (a b)").shape` -> (4, 6)"""
    lhs, arrow, rhs = formula.partition("->")
    if not arrow:
        raise ValueError(f"rearrange: formula {formula!r} needs '->'")
    if lhs.count("...") > 1:
        raise ValueError(f"rearrange: {formula!r} has more than one '...' on the left")
    named = len(_einops_groups(lhs, []))
    ellipsis = [f"...{i}" for i in range(self.ndim - named)] if "..." in lhs else []
    left, right = _einops_groups(lhs, ellipsis), _einops_groups(rhs, ellipsis)
    if len(left) != self.ndim:
        raise ShapeError(f"rearrange: {lhs.strip()!r} names {len(left)} dims, the tensor has shape {self.shape}")
    known = dict(sizes)
    for group, size in zip(left, self.shape):
        unknown = [name for name in group if name not in known]
        product = math.prod([known[name] for name in group if name in known])
        if len(unknown) > 1 or (unknown and (product == 0 or size % product)):
            raise ShapeError(f"rearrange: can't split dim of size {size} into {group} (give sizes by name)")
        if unknown:
            known[unknown[0]] = size // product
        elif product != size:
            raise ShapeError(f"rearrange: group {group} has size {product}, but the dim has size {size}")
    names = [name for group in left for name in group]
    out_names = [name for group in right for name in group]
    if sorted(names) != sorted(out_names):
        raise ValueError(f"rearrange: {formula!r} must use the same names on both sides")
    x = self.reshape([known[name] for name in names]).permute([names.index(name) for name in out_names])
    return x.reshape([math.prod([known[name] for name in group]) for group in right])


def _einops_groups(side: str, ellipsis: list[str]) -> list[list[str]]:
    """ "b (h w) c" -> [["b"], ["h", "w"], ["c"]], one group per dim; a lone "..." becomes one group per name in
    `ellipsis`, a "..." inside parentheses adds those names to its group."""
    groups: list[list[str]] = []
    current: list[str] | None = None
    for token in side.replace("(", " ( ").replace(")", " ) ").split():
        names = ellipsis if token == "..." else [token]
        if token == "(":
            if current is not None:
                raise ValueError(f"rearrange: nested parentheses in {side!r}")
            current = []
        elif token == ")":
            if current is None:
                raise ValueError(f"rearrange: unbalanced ')' in {side!r}")
            groups.append(current)
            current = None
        elif current is not None:
            current.extend(names)
        else:
            groups.extend([name] for name in names)
    if current is not None:
        raise ValueError(f"rearrange: unbalanced '(' in {side!r}")
    return groups


class MovementMixin:
    """Tensor's movement methods: the functions above, bound by Tensor, which inherits this class."""

    _axis = _axis
    reshape = reshape
    view = view
    expand = expand
    permute = permute
    flip = flip
    shrink = shrink
    pad = pad
    _pad_mode = _pad_mode
    shrink_to = shrink_to
    pad_to = pad_to
    transpose = transpose
    T = property(T)
    flatten = flatten
    unflatten = unflatten
    unsqueeze = unsqueeze
    squeeze = squeeze
    cat = cat
    stack = classmethod(stack)
    split = split
    chunk = chunk
    repeat = repeat
    _tri = _tri
    triu = triu
    tril = tril
    diagonal = diagonal
    diag = diag
    roll = roll
    repeat_interleave = repeat_interleave
    meshgrid = meshgrid
    rearrange = rearrange
