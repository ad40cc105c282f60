"""MultiLazyBuffer: one value spread over several devices of this process, one LazyBuffer (one lazy graph) each.

A value is replicated (axis None: every device holds all of it) or sharded along `axis` (device i holds the
contiguous slice bounds[i] of that axis, chunks of ceil(size / devices) elements, the last one shorter). It has the
LazyBuffer methods function.py's rules call (alu, cast, r, const_like, contiguous, the movement ops), each done on
every device, so autodiff runs over it unchanged. Work crosses devices only through explicit COPY nodes:
- an op mixing a replicated operand with sharded ones reads each device's slice of the replicated one (a view);
- a reduction over the sharded axis reduces on each device, copies the partials to the first device, combines
  them there and copies the result to every device: a replicated result. This is where the gradient of a
  replicated weight broadcast over a sharded batch is summed across devices (Expand's backward is such a SUM);
- gathering (a host read, `.to(device)`, a change of layout) copies every shard to the device, pads each to the
  whole axis and adds them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.errors import ArgumentError, DeviceError, ShapeError
from tinygrad_core.lazy import LazyBuffer
from tinygrad_core.ops import Ops
from tinygrad_core.view import Shape

Bounds = tuple[tuple[int, int], ...]
_COMBINE = {Ops.SUM: Ops.ADD, Ops.MAX: Ops.MAX}  # how the partial reductions of two devices combine


def parts(value: LazyBuffer | MultiLazyBuffer) -> tuple[LazyBuffer, ...]:
    """A value's LazyBuffers: one per device of a MultiLazyBuffer, or the LazyBuffer itself."""
    return value.lbs if isinstance(value, MultiLazyBuffer) else (value,)


def shard_bounds(size: int, devices: tuple[str, ...], axis: int) -> Bounds:
    """Each device's [lo, hi) of an axis of `size` split in ceil-div chunks; every device must get one element."""
    chunk = -(-size // len(devices))
    bounds = tuple((min(i * chunk, size), min((i + 1) * chunk, size)) for i in range(len(devices)))
    if any(lo >= hi for lo, hi in bounds):
        raise ShapeError(
            f"shard: axis {axis} of size {size} can't be split over {len(devices)} devices {devices} in chunks of "
            f"{chunk} (a device would get nothing); shard an axis of at least {chunk * (len(devices) - 1) + 1} "
            "elements, or use fewer devices"
        )
    return bounds


class MultiLazyBuffer:
    """One value on the devices `device` (a tuple): replicated (axis None) or sharded along `axis`. See the module
    docstring."""

    __slots__ = ("__weakref__", "axis", "bounds", "device", "dtype", "lbs", "shape")

    def __init__(self, lbs: tuple[LazyBuffer, ...], axis: int | None):
        self.lbs, self.axis = lbs, axis
        self.device: tuple[str, ...] = tuple(lb.device for lb in lbs)
        self.dtype: DType = lbs[0].dtype
        first = lbs[0].shape
        if axis is None:
            self.shape: Shape = first
            self.bounds: Bounds | None = None
        else:
            ends = tuple(itertools.accumulate(lb.shape[axis] for lb in lbs))
            self.bounds = tuple(zip((0, *ends[:-1]), ends))
            self.shape = first[:axis] + (ends[-1],) + first[axis + 1 :]

    # --- construction ---
    @staticmethod
    def shard(lazy: LazyBuffer, devices: tuple[str, ...], axis: int | None) -> MultiLazyBuffer:
        """`lazy` copied to every device (axis None), or its slices along `axis`, one per device; each device gets
        memory of its own, even the device `lazy` is on, so assigning to one never writes another."""
        pieces = [lazy] * len(devices)
        if axis is not None:
            pieces = [
                lazy.shrink(_along(lazy.shape, axis, bound)) for bound in shard_bounds(lazy.shape[axis], devices, axis)
            ]
        return MultiLazyBuffer(
            tuple(
                piece.clone() if device == piece.device else piece.copy_to_device(device)
                for piece, device in zip(pieces, devices)
            ),
            axis,
        )

    @staticmethod
    def const(
        value: Any, dtype: DType, device: tuple[str, ...], shape: Shape = (), shared: bool = False
    ) -> MultiLazyBuffer:
        """`value` everywhere in `shape`, replicated: LazyBuffer.const's signature with a tuple of devices."""
        return MultiLazyBuffer(tuple(LazyBuffer.const(value, dtype, name, shape, shared) for name in device), None)

    def const_like(self, value: Any) -> MultiLazyBuffer:
        return self.map(lambda lb: lb.const_like(value))

    # --- properties ---
    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def realized(self) -> bool:
        return all(lb.realized for lb in self.lbs)

    def __repr__(self) -> str:
        layout = "replicated" if self.axis is None else f"sharded along axis {self.axis} as {self.bounds}"
        return f"<MLB {self.device} {self.shape} {self.dtype} {layout}>"

    def map(self, fn: Callable[[LazyBuffer], LazyBuffer]) -> MultiLazyBuffer:
        """`fn` on every device's LazyBuffer, in this layout."""
        return MultiLazyBuffer(tuple(fn(lb) for lb in self.lbs), self.axis)

    # --- layout: where each element lives ---
    def _slice(self, index: int, axis: int | None, bounds: Bounds | None) -> LazyBuffer:
        """Device `index`'s part of this value in the layout (axis, bounds), which must be this one's or, for a
        replicated value, any: a replicated value's slice is a view, with no copy."""
        lb = self.lbs[index]
        if axis is None or self.axis is not None:
            return lb
        assert bounds is not None
        return lb.shrink(_along(lb.shape, axis, bounds[index]))

    def copy_to_device(self, device: str) -> LazyBuffer:
        """The whole value on one device: a replicated value's copy, or every shard copied there and put together."""
        if self.axis is None:
            source = self.lbs[self.device.index(device)] if device in self.device else self.lbs[0]
            return source.copy_to_device(device)
        assert self.bounds is not None
        # PAD is a view reading 0 outside the shard, so adding the padded shards puts them side by side
        add = Ops.OR if self.dtype == dtypes.bool else Ops.ADD
        total: LazyBuffer | None = None
        for lb, (lo, hi) in zip(self.lbs, self.bounds):
            piece = lb.copy_to_device(device).pad(_padding(len(lb.shape), self.axis, (lo, self.shape[self.axis] - hi)))
            total = piece if total is None else total.alu(add, piece)
        assert total is not None
        return total

    def to_layout(self, axis: int | None, bounds: Bounds | None = None) -> MultiLazyBuffer:
        """This value sharded along `axis` (with these bounds, else ceil-div chunks), or replicated (axis None)."""
        if axis == self.axis and (bounds is None or bounds == self.bounds):
            return self
        full = self if self.axis is None else MultiLazyBuffer(tuple(self.copy_to_device(d) for d in self.device), None)
        if axis is None:
            return full
        bounds = bounds or shard_bounds(self.shape[axis], self.device, axis)
        return MultiLazyBuffer(tuple(full._slice(i, axis, bounds) for i in range(len(self.lbs))), axis)

    def like(self, other: MultiLazyBuffer) -> MultiLazyBuffer:
        """This value in `other`'s layout (same devices)."""
        return self.to_layout(other.axis, other.bounds)

    # --- compute ---
    def alu(self, op: Ops, *others: MultiLazyBuffer, dtype: DType | None = None) -> MultiLazyBuffer:
        """`op` on every device. A replicated operand joins sharded ones through its slice on each device; two
        sharded ones must be sharded alike."""
        axis, bounds = self.axis, self.bounds
        for other in others:
            if not isinstance(other, MultiLazyBuffer) or other.device != self.device:
                raise DeviceError(
                    f"{op.name} mixes a value on {self.device} with one on {other.device}; move one with .to(...) or "
                    f".shard(...)"
                )
            if other.axis is None:
                continue
            if axis is None:
                axis, bounds = other.axis, other.bounds
            elif (other.axis, other.bounds) != (axis, bounds):
                raise DeviceError(
                    f"{op.name} mixes values on {self.device} sharded along axis {axis} {bounds} and axis "
                    f"{other.axis} {other.bounds}; reshard one with .shard(devices, axis)"
                )
        values = (self, *others)
        lbs = tuple(
            values[0]._slice(i, axis, bounds).alu(op, *(v._slice(i, axis, bounds) for v in values[1:]), dtype=dtype)
            for i in range(len(self.lbs))
        )
        return MultiLazyBuffer(lbs, axis)

    def cast(self, dtype: DType, bitcast: bool = False) -> MultiLazyBuffer:
        return self if dtype == self.dtype else self.map(lambda lb: lb.cast(dtype, bitcast))

    def r(self, op: Ops, axes: tuple[int, ...]) -> MultiLazyBuffer:
        """Reduce over `axes`, keeping them as size-1 dims. Over the sharded axis: partial results on each device,
        combined on the first one, the result copied to every device (replicated)."""
        if self.axis is None or self.axis not in axes:
            return self.map(lambda lb: lb.r(op, axes))
        partials = [lb.r(op, axes) for lb in self.lbs]
        home = self.device[0]
        total = partials[0]
        for partial in partials[1:]:
            total = total.alu(_COMBINE[op], partial.copy_to_device(home))
        return MultiLazyBuffer(tuple(total.copy_to_device(device) for device in self.device), None)

    def contiguous(self, force: bool = False) -> MultiLazyBuffer:
        return self.map(lambda lb: lb.contiguous(force))

    def clone(self) -> MultiLazyBuffer:
        return self.map(LazyBuffer.clone)

    def assign(self, value: LazyBuffer | MultiLazyBuffer) -> MultiLazyBuffer:
        """Compute `value` into each device's memory, in this value's layout (a single-device value is copied to
        every device first). A device whose part was never realized just takes the new part."""
        multi = value if isinstance(value, MultiLazyBuffer) else MultiLazyBuffer.shard(value, self.device, None)
        if multi.device != self.device:
            raise DeviceError(
                f"assign: a value on {multi.device} into a tensor on {self.device}; move it with .to(...)"
            )
        parts = multi.like(self).lbs
        out = []
        for lb, part in zip(self.lbs, parts):
            if not lb.realized:
                out.append(part)
            elif lb._base is not None:
                raise ArgumentError(
                    f"assign into a view of a tensor on {self.device} is not supported; assign the whole tensor"
                )
            else:
                out.append(lb.assign(part))
        return MultiLazyBuffer(tuple(out), self.axis)

    # --- movement: the sharded axis must stay whole within each device ---
    def _keep_axis(self, what: str, touched: bool) -> None:
        if touched:
            raise ShapeError(
                f"{what} of the sharded axis {self.axis} of a tensor of shape {self.shape} on {self.device} would "
                "cross shards; gather it first with .to(device), or replicate it with .to(devices)"
            )

    def reshape(self, shape: Shape) -> MultiLazyBuffer:
        shape = tuple(shape)
        if self.axis is None:
            return self.map(lambda lb: lb.reshape(shape))
        assert self.bounds is not None
        new_axis, rest = _reshaped_axis(self.shape, shape, self.axis, self.bounds)
        self._keep_axis(f"reshape to {shape}", new_axis is None)
        assert new_axis is not None
        inner = math.prod(self.shape[self.axis + 1 :])
        return MultiLazyBuffer(
            tuple(lb.reshape(_replaced(shape, new_axis, lb.shape[self.axis] * inner // rest)) for lb in self.lbs),
            new_axis,
        )

    def permute(self, order: tuple[int, ...]) -> MultiLazyBuffer:
        order = tuple(order)
        axis = None if self.axis is None else order.index(self.axis)
        return MultiLazyBuffer(tuple(lb.permute(order) for lb in self.lbs), axis)

    def expand(self, shape: Shape) -> MultiLazyBuffer:
        if self.axis is None:
            return self.map(lambda lb: lb.expand(shape))
        axis = self.axis
        self._keep_axis(f"expand to {tuple(shape)}", shape[axis] != self.shape[axis])
        return self.map(lambda lb: lb.expand(_replaced(tuple(shape), axis, lb.shape[axis])))

    def pad(self, padding: tuple[tuple[int, int], ...]) -> MultiLazyBuffer:
        self._keep_axis(f"pad {padding}", self.axis is not None and tuple(padding[self.axis]) != (0, 0))
        return self.map(lambda lb: lb.pad(padding))

    def shrink(self, bounds: tuple[tuple[int, int], ...]) -> MultiLazyBuffer:
        if self.axis is None:
            return self.map(lambda lb: lb.shrink(bounds))
        axis = self.axis
        self._keep_axis(f"shrink to {bounds}", tuple(bounds[axis]) != (0, self.shape[axis]))
        return self.map(
            lambda lb: lb.shrink(
                tuple((0, lb.shape[axis]) if a == axis else (lo, hi) for a, (lo, hi) in enumerate(bounds))
            )
        )

    def flip(self, axes: tuple[int, ...]) -> MultiLazyBuffer:
        self._keep_axis(f"flip {axes}", self.axis in axes)
        return self.map(lambda lb: lb.flip(axes))


def _along(shape: Shape, axis: int, bound: tuple[int, int]) -> tuple[tuple[int, int], ...]:
    """Shrink bounds taking `bound` of `axis` and all of every other dim."""
    return tuple(bound if a == axis else (0, size) for a, size in enumerate(shape))


def _padding(ndim: int, axis: int, pad: tuple[int, int]) -> tuple[tuple[int, int], ...]:
    return tuple(pad if a == axis else (0, 0) for a in range(ndim))


def _replaced(shape: Shape, axis: int, size: int) -> Shape:
    return shape[:axis] + (size,) + shape[axis + 1 :]


def _reshaped_axis(old: Shape, new: Shape, axis: int, bounds: Bounds) -> tuple[int | None, int]:
    """Where the sharded `axis` goes when `old` is reshaped to `new`, and the product of the dims after it there:
    the first axis whose leading dims hold as many elements as those before `axis`, and at which every shard
    boundary falls on a whole step (so each device's elements stay one contiguous run of that axis)."""
    before, inner = math.prod(old[:axis]), math.prod(old[axis + 1 :])
    for candidate in range(len(new)):
        if math.prod(new[:candidate]) != before:
            continue
        rest = math.prod(new[candidate + 1 :])
        if rest and all((lo * inner) % rest == 0 and (hi * inner) % rest == 0 for lo, hi in bounds):
            return candidate, rest
    return None, 1
