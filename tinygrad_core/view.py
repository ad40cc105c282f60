"""Shape, stride, offset and mask arithmetic: movement ops are views of a buffer, never copies.

A View maps an index of its shape to one element of a flat buffer: offset + sum(idx * strides), valid only inside
`mask` (reads outside it yield 0; that is how PAD costs nothing). A ShapeTracker is a stack of Views for the movement
sequences one View can't express (a reshape of a permuted view): the outermost View maps an index to a position in
the flat, contiguous space of the View below it, and so on down to the buffer. Adjacent Views are merged whenever the
composition is again affine, so most trackers hold a single View.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from functools import cached_property

Shape = tuple[int, ...]
Mask = tuple[tuple[int, int], ...] | None


def contiguous_strides(shape: Shape) -> tuple[int, ...]:
    strides, acc = [], 1
    for size in reversed(shape):
        strides.append(0 if size == 1 else acc)
        acc *= size
    return tuple(reversed(strides))


def _unravel(position: int, shape: Shape) -> list[int] | None:
    """Mixed-radix digits of `position` in `shape`, or None when it lies outside."""
    if not 0 <= position < math.prod(shape):
        return None
    digits = []
    for size in reversed(shape):
        digits.append(position % size)
        position //= size
    return digits[::-1]


@functools.lru_cache(maxsize=1 << 14)  # movement ops rebuild the same few views every step of a training loop
def _create_view(shape: Shape, strides: tuple[int, ...] | None, offset: int, mask: Mask) -> View:
    strides = contiguous_strides(shape) if strides is None else strides
    strides = tuple(0 if size == 1 else st for size, st in zip(shape, strides))  # canonical: size-1 dims have stride 0
    if mask is not None:
        mask = tuple((max(0, lo), min(size, hi)) for (lo, hi), size in zip(mask, shape))
        if any(lo >= hi for lo, hi in mask):
            mask = tuple((0, 0) for _ in shape)  # nothing valid: normalise so equal views compare equal
            offset, strides = 0, (0,) * len(shape)
        elif all(m == (0, size) for m, size in zip(mask, shape)):
            mask = None
    return View(shape, strides, offset, mask)


@dataclass(frozen=True, eq=False)
class View:
    """Immutable and interned: View.create returns the same object for the same arguments (most of the time: the
    cache is bounded), so equality is usually identity and the hash is computed once."""

    shape: Shape
    strides: tuple[int, ...]
    offset: int = 0
    mask: Mask = None

    @staticmethod
    def create(shape: Shape, strides: tuple[int, ...] | None = None, offset: int = 0, mask: Mask = None) -> View:
        return _create_view(tuple(shape), strides, offset, mask)

    @cached_property
    def _key(self) -> tuple[Shape, tuple[int, ...], int, Mask]:
        return (self.shape, self.strides, self.offset, self.mask)

    @cached_property
    def _hash(self) -> int:
        return hash(self._key)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, View) and self._hash == other._hash and self._key == other._key)

    @cached_property
    def contiguous(self) -> bool:
        return self.offset == 0 and self.mask is None and self.strides == contiguous_strides(self.shape)

    @cached_property
    def size(self) -> int:
        return math.prod(self.shape)

    def _mask_or_full(self) -> tuple[tuple[int, int], ...]:
        return self.mask if self.mask is not None else tuple((0, size) for size in self.shape)

    # --- movement ---
    def permute(self, order: tuple[int, ...]) -> View:
        mask = None if self.mask is None else tuple(self.mask[i] for i in order)
        return View.create(
            tuple(self.shape[i] for i in order), tuple(self.strides[i] for i in order), self.offset, mask
        )

    def expand(self, shape: Shape) -> View:
        mask = None
        if self.mask is not None:
            mask = tuple(
                m if old == new else ((0, new) if m != (0, 0) else (0, 0))
                for m, old, new in zip(self.mask, self.shape, shape)
            )
        return View.create(shape, self.strides, self.offset, mask)

    def pad(self, padding: tuple[tuple[int, int], ...]) -> View:
        shape = tuple(size + before + after for size, (before, after) in zip(self.shape, padding))
        offset = self.offset - sum(before * st for (before, _), st in zip(padding, self.strides))
        mask = tuple((lo + before, hi + before) for (lo, hi), (before, _) in zip(self._mask_or_full(), padding))
        return View.create(shape, self.strides, offset, mask)

    def shrink(self, bounds: tuple[tuple[int, int], ...]) -> View:
        shape = tuple(hi - lo for lo, hi in bounds)
        offset = self.offset + sum(lo * st for (lo, _), st in zip(bounds, self.strides))
        mask = None
        if self.mask is not None:
            mask = tuple((mlo - lo, mhi - lo) for (mlo, mhi), (lo, _) in zip(self.mask, bounds))
        return View.create(shape, self.strides, offset, mask)

    def flip(self, axes: tuple[int, ...]) -> View:
        strides = tuple(-st if i in axes else st for i, st in enumerate(self.strides))
        offset = self.offset + sum((self.shape[i] - 1) * self.strides[i] for i in axes)
        mask = None
        if self.mask is not None:
            mask = tuple(
                (n - hi, n - lo) if i in axes else (lo, hi)
                for i, ((lo, hi), n) in enumerate(zip(self.mask, self.shape))
            )
        return View.create(self.shape, strides, offset, mask)

    def reshape(self, shape: Shape) -> View | None:
        """The same elements under a new shape, or None when no single View can express it."""
        if shape == self.shape:
            return self
        if self.contiguous or math.prod(shape) == 0:
            return View.create(shape)
        old = [(size, st, m) for size, st, m in zip(self.shape, self.strides, self._mask_or_full()) if size != 1]
        if any(m == (0, 0) for m in self._mask_or_full()):
            # NOTE: a 0-d view has no dim to carry "nothing is valid": it takes a view of its own (None here)
            return View.create(shape, mask=tuple((0, 0) for _ in shape)) if shape else None
        new_strides: list[int] = []
        new_mask: list[tuple[int, int]] = []
        i = j = 0
        while j < len(shape):
            if shape[j] == 1:
                new_strides.append(0)
                new_mask.append((0, 1))
                j += 1
                continue
            group_old, group_new = [old[i]], [j]
            old_prod, new_prod = old[i][0], shape[j]
            while old_prod != new_prod:
                if old_prod < new_prod:
                    i += 1
                    group_old.append(old[i])
                    old_prod *= old[i][0]
                else:
                    j += 1
                    group_new.append(j)
                    new_prod *= shape[j]
            i, j = i + 1, j + 1
            # the old dims of a group must walk memory as one dim
            if any(outer[1] != inner[1] * inner[0] for outer, inner in itertools.pairwise(group_old)):
                return None
            full = all(m == (0, size) for size, _, m in group_old)
            real_new = [k for k in group_new if shape[k] != 1]
            if not full and (len(group_old) != 1 or len(real_new) != 1):
                return None
            stride = group_old[-1][1]
            group_strides = []
            for k in reversed(group_new):
                group_strides.append(stride)
                stride *= shape[k]
            new_strides.extend(reversed(group_strides))
            new_mask.extend(group_old[0][2] if not full and shape[k] != 1 else (0, shape[k]) for k in group_new)
        return View.create(shape, tuple(new_strides), self.offset, None if self.mask is None else tuple(new_mask))


@functools.lru_cache(maxsize=8192)  # the scheduler composes the same views over and over
def merge_views(inner: View, outer: View) -> View | None:
    """One View equal to `outer` read through `inner` (outer indexes inner's flat space), or None if not affine."""
    if inner.contiguous:
        return outer
    ranges = outer._mask_or_full()
    if any(lo >= hi for lo, hi in ranges):
        return View.create(outer.shape, mask=ranges)
    # Walk the outer view from its first valid index; every coordinate of inner must stay an affine function
    # of the outer index without carries, which we check at the extremes of the valid box.
    base = outer.offset + sum(lo * st for (lo, _), st in zip(ranges, outer.strides))
    origin = _unravel(base, inner.shape)
    if origin is None:
        return None
    digits: list[list[int]] = []  # digits[i][j]: how far one step along outer dim i moves inner coordinate j
    for (lo, hi), st in zip(ranges, outer.strides):
        if hi - lo == 1 or st == 0:
            digits.append([0] * len(inner.shape))
            continue
        magnitude = _unravel(abs(st), inner.shape)
        if magnitude is None:
            return None
        digits.append([d if st > 0 else -d for d in magnitude])
    inner_mask = inner._mask_or_full()
    bounds = [(0, hi - lo) for lo, hi in ranges]  # valid steps per outer dim, narrowed by inner's mask below
    moving = [[(i, digits[i][j]) for i in range(len(ranges)) if digits[i][j] != 0] for j in range(len(inner.shape))]
    for j, size in enumerate(inner.shape):
        low = origin[j] + sum(d * (bounds[i][1] - 1) for i, d in moving[j] if d < 0)
        high = origin[j] + sum(d * (bounds[i][1] - 1) for i, d in moving[j] if d > 0)
        if low < 0 or high >= size:
            return None
    for j, (mlo, mhi) in enumerate(inner_mask):
        if (mlo, mhi) == (0, inner.shape[j]):
            continue
        if not moving[j]:
            if not mlo <= origin[j] < mhi:
                nothing = tuple((0, 0) for _ in outer.shape)
                return View.create(outer.shape, mask=nothing) if outer.shape else None  # see View.reshape
            continue
        if len(moving[j]) > 1:
            return None
        i, d = moving[j][0]
        # origin + k*d must lie in [mlo, mhi)
        k_lo, k_hi = ((mlo - origin[j]) + d - 1) // d, (mhi - 1 - origin[j]) // d + 1
        if d < 0:
            k_lo, k_hi = -((origin[j] - (mhi - 1)) // d), (origin[j] - mlo) // -d + 1
        bounds[i] = (max(bounds[i][0], k_lo), min(bounds[i][1], k_hi))
    strides = tuple(sum(d * st for d, st in zip(row, inner.strides)) for row in digits)
    offset = inner.offset + sum(c * st for c, st in zip(origin, inner.strides))
    offset -= sum(lo * st for (lo, _), st in zip(ranges, strides))
    mask = tuple((lo + klo, lo + khi) for (lo, _), (klo, khi) in zip(ranges, bounds))
    return View.create(outer.shape, strides, offset, mask)


@dataclass(frozen=True, eq=False)
class ShapeTracker:
    """Immutable, with its hash computed once; from_shape and the movement ops are memoized, so a training loop that
    moves the same shapes every step builds each tracker once."""

    views: tuple[View, ...]

    @staticmethod
    def from_shape(shape: Shape) -> ShapeTracker:
        return _from_shape(tuple(shape))

    @cached_property
    def _hash(self) -> int:
        return hash(self.views)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        return isinstance(other, ShapeTracker) and self._hash == other._hash and self.views == other.views

    @cached_property
    def shape(self) -> Shape:
        return self.views[-1].shape

    @cached_property
    def size(self) -> int:
        return self.views[-1].size

    @cached_property
    def contiguous(self) -> bool:
        return len(self.views) == 1 and self.views[0].contiguous

    def __add__(self, other: ShapeTracker) -> ShapeTracker:
        """`other` read through `self`: other's outermost index space, self's buffer."""
        return _compose(self, other)

    def _simplify(self) -> ShapeTracker:
        views = list(self.views)
        while len(views) >= 2:
            merged = merge_views(views[-2], views[-1])
            if merged is None:
                break
            views[-2:] = [merged]
        return ShapeTracker(tuple(views))

    def _replace_top(self, view: View) -> ShapeTracker:
        if view is self.views[-1]:
            return self
        return ShapeTracker((*self.views[:-1], view))._simplify()

    # --- movement (memoized per tracker and argument) ---
    @functools.lru_cache(maxsize=1 << 14)  # noqa: B019  (trackers are immutable and few: caching holds them alive)
    def reshape(self, shape: Shape) -> ShapeTracker:
        view = self.views[-1].reshape(tuple(shape))
        if view is None:
            return ShapeTracker((*self.views, View.create(tuple(shape))))
        return self._replace_top(view)

    @functools.lru_cache(maxsize=1 << 14)  # noqa: B019
    def permute(self, order: tuple[int, ...]) -> ShapeTracker:
        return self._replace_top(self.views[-1].permute(order))

    @functools.lru_cache(maxsize=1 << 14)  # noqa: B019
    def expand(self, shape: Shape) -> ShapeTracker:
        return self._replace_top(self.views[-1].expand(tuple(shape)))

    @functools.lru_cache(maxsize=1 << 14)  # noqa: B019
    def pad(self, padding: tuple[tuple[int, int], ...]) -> ShapeTracker:
        return self._replace_top(self.views[-1].pad(padding))

    @functools.lru_cache(maxsize=1 << 14)  # noqa: B019
    def shrink(self, bounds: tuple[tuple[int, int], ...]) -> ShapeTracker:
        return self._replace_top(self.views[-1].shrink(bounds))

    @functools.lru_cache(maxsize=1 << 14)  # noqa: B019
    def flip(self, axes: tuple[int, ...]) -> ShapeTracker:
        return self._replace_top(self.views[-1].flip(axes))


@functools.lru_cache(maxsize=1 << 12)
def _from_shape(shape: Shape) -> ShapeTracker:
    return ShapeTracker((View.create(shape),))


@functools.lru_cache(maxsize=8192)
def _compose(inner: ShapeTracker, outer: ShapeTracker) -> ShapeTracker:
    tracker = inner
    for view in outer.views:
        tracker = ShapeTracker((*tracker.views, view))._simplify()
    return tracker
