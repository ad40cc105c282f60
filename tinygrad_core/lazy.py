"""LazyBuffer, one node of the lazy graph: it records what to compute and runs nothing.

A LazyBuffer is either a base (an op over source LazyBuffers, computed in its own contiguous shape) or a view of a
base (a ShapeTracker over the base's elements, made by movement ops). Once a base is realized it holds a Buffer and
drops its sources, so the graph behind it can be freed.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from tinygrad_core.devices import Device
from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.errors import DeviceError
from tinygrad_core.ops import ALU, COMPARISONS, Ops
from tinygrad_core.runtime import Buffer
from tinygrad_core.view import Shape, ShapeTracker


class LazyBuffer:
    __slots__ = ("__weakref__", "_base", "arg", "buffer", "device", "dtype", "op", "shape", "srcs", "st")

    def __init__(
        self,
        device: str,
        st: ShapeTracker,
        dtype: DType,
        op: Ops | None = None,
        srcs: tuple[LazyBuffer, ...] = (),
        arg: Any = None,
        base: LazyBuffer | None = None,
        buffer: Buffer | None = None,
    ):
        self.device, self.st, self.dtype, self.shape = device, st, dtype, st.shape
        self._base = base
        # base-only fields; op is None once realized
        self.op, self.srcs, self.arg, self.buffer = op, srcs, arg, buffer

    # --- construction ---
    @staticmethod
    def from_numpy(array: np.ndarray, dtype: DType, device: str) -> LazyBuffer:
        buffer = Buffer(Device[device], array.size, dtype)
        if array.size:
            buffer.copyin(array)
        return LazyBuffer(device, ShapeTracker.from_shape(array.shape), dtype, buffer=buffer)

    @staticmethod
    def const(value: Any, dtype: DType, device: str, shape: Shape = (), shared: bool = False) -> LazyBuffer:
        """`value` everywhere in `shape`. `shared`: for operands no Tensor the user holds will ever point to (a Python
        scalar in `x * 2`): the same (value, dtype, device, shape) then gives the same node while it is unrealized, so
        a training loop's scalars are not rebuilt every step and the scheduler sees each once. A node a user can
        reach is never shared: realized and assigned to, it would change every tensor sharing it."""
        arg = _as_dtype(value, dtype)
        key = (repr(arg), dtype, device, tuple(shape))  # repr: NaN equals itself, -0.0 differs from 0.0
        if shared:
            cached = _shared_constants.get(key)
            if cached is not None and cached.base.op is Ops.CONST:
                return cached
        scalar = LazyBuffer(device, ShapeTracker.from_shape(()), dtype, Ops.CONST, arg=arg)
        lazy = LazyBuffer(device, _broadcast_scalar(key[3]), dtype, base=scalar) if shape else scalar
        if shared:
            if len(_shared_constants) >= 4096:
                _shared_constants.clear()
            _shared_constants[key] = lazy
        return lazy

    @staticmethod
    def empty(shape: Shape, dtype: DType, device: str) -> LazyBuffer:
        return LazyBuffer(
            device, ShapeTracker.from_shape(shape), dtype, buffer=Buffer(Device[device], math.prod(shape), dtype)
        )

    def const_like(self, value: Any) -> LazyBuffer:
        return LazyBuffer.const(value, self.dtype, self.device, self.shape)

    # --- properties ---
    @property
    def base(self) -> LazyBuffer:
        return self if self._base is None else self._base

    @property
    def size(self) -> int:
        return self.st.size

    @property
    def realized(self) -> bool:
        return self.base.op is None

    def __repr__(self) -> str:
        what = "realized" if self.realized else self.base.op
        return f"<LB {self.device} {self.shape} {self.dtype} {what}{'' if self._base is None else ' view'}>"

    # --- compute ---
    def alu(self, op: Ops, *others: LazyBuffer, dtype: DType | None = None) -> LazyBuffer:
        srcs = (self, *others)
        for src in others:
            if src.device != self.device:
                raise DeviceError(f"{op.name} mixes devices {self.device} and {src.device}; move one with .to(device)")
            assert src.shape == self.shape, f"{op.name} got shapes {self.shape} and {src.shape}"
        if dtype is None:
            dtype = dtypes.bool if op in COMPARISONS else srcs[-1].dtype
        return LazyBuffer(self.device, ShapeTracker.from_shape(self.shape), dtype, op, srcs)

    def cast(self, dtype: DType, bitcast: bool = False) -> LazyBuffer:
        if dtype == self.dtype:
            return self
        return self.alu(Ops.BITCAST if bitcast else Ops.CAST, dtype=dtype)

    def r(self, op: Ops, axes: tuple[int, ...]) -> LazyBuffer:
        """Reduce over `axes`, keeping them as size-1 dims."""
        axes = tuple(sorted(a for a in axes if self.shape[a] != 1 or self.size == 0))
        if not axes:
            return self
        shape = tuple(1 if i in axes else s for i, s in enumerate(self.shape))
        if self.size == 0:  # nothing to reduce: every output is the identity, and no kernel reads the empty input
            identity = 0 if op is Ops.SUM else dtypes.min(self.dtype)
            return LazyBuffer.const(identity, self.dtype, self.device, shape)
        return LazyBuffer(self.device, ShapeTracker.from_shape(shape), self.dtype, Ops.REDUCE, (self,), (op, axes))

    def contiguous(self, force: bool = False) -> LazyBuffer:
        """These elements in a contiguous base. An unrealized elementwise or constant base in its own shape is
        returned as is (the scheduler inlines it into its readers) unless `force`: then it gets a buffer of its own,
        as Tensor.contiguous() (a kernel boundary) and a COPY (which reads a buffer) need."""
        inlined = self.base.op in ALU or self.base.op is Ops.CONST
        if self.st.contiguous and self.shape == self.base.shape and not (force and inlined):
            return self.base
        return LazyBuffer(self.device, ShapeTracker.from_shape(self.shape), self.dtype, Ops.CONTIGUOUS, (self,))

    def clone(self) -> LazyBuffer:
        """These elements in a new buffer of their own, even when they already are a realized contiguous base."""
        return LazyBuffer(self.device, ShapeTracker.from_shape(self.shape), self.dtype, Ops.CONTIGUOUS, (self,))

    def copy_to_device(self, device: str) -> LazyBuffer:
        if device == self.device:
            return self
        source = self.contiguous(force=True)
        return LazyBuffer(device, ShapeTracker.from_shape(self.shape), self.dtype, Ops.COPY, (source,))

    def assign(self, value: LazyBuffer) -> LazyBuffer:
        """Compute `value` into this buffer's memory (optimizers and the JIT need stable buffers)."""
        target = self.base
        assert target.buffer is not None, "assign needs a realized target"
        assert self.st.contiguous, "assign needs a contiguous target"
        assert target.shape == self.shape, "assign needs the whole target"
        return LazyBuffer(
            self.device, ShapeTracker.from_shape(self.shape), self.dtype, Ops.ASSIGN, (value,), buffer=target.buffer
        )

    # --- movement: views of the same base ---
    def _view(self, st: ShapeTracker) -> LazyBuffer:
        if st == self.st:
            return self
        if any(view.mask is not None and any(lo >= hi for lo, hi in view.mask) for view in st.views):
            return LazyBuffer.const(0, self.dtype, self.device, st.shape)  # reads outside every mask: all zeros
        if self.base.op is Ops.CONST and all(view.mask is None for view in st.views):
            # a constant looks the same through any unmasked view: keep the graph small
            return LazyBuffer.const(self.base.arg, self.dtype, self.device, st.shape)
        return LazyBuffer(self.device, st, self.dtype, base=self.base)

    def reshape(self, shape: Shape) -> LazyBuffer:
        return self._view(self.st.reshape(tuple(shape)))

    def permute(self, order: tuple[int, ...]) -> LazyBuffer:
        return self._view(self.st.permute(tuple(order)))

    def expand(self, shape: Shape) -> LazyBuffer:
        return self._view(self.st.expand(tuple(shape)))

    def pad(self, padding: tuple[tuple[int, int], ...]) -> LazyBuffer:
        return self._view(self.st.pad(tuple((before, after) for before, after in padding)))

    def shrink(self, bounds: tuple[tuple[int, int], ...]) -> LazyBuffer:
        return self._view(self.st.shrink(tuple((lo, hi) for lo, hi in bounds)))

    def flip(self, axes: tuple[int, ...]) -> LazyBuffer:
        return self._view(self.st.flip(tuple(axes)))


_shared_constants: dict[tuple[str, DType, str, Shape], LazyBuffer] = {}


@functools.lru_cache(maxsize=1024)
def _broadcast_scalar(shape: Shape) -> ShapeTracker:
    return ShapeTracker.from_shape(()).reshape((1,) * len(shape)).expand(shape)


def _as_dtype(value: Any, dtype: DType) -> Any:
    """A Python scalar holding `value` as `dtype` holds it (ints wrap, bools are bools)."""
    if dtype == dtypes.bool:
        return bool(value)
    if dtypes.is_int(dtype):
        return int(np.array(value).astype(dtype.np)) if not isinstance(value, float) or math.isfinite(value) else 0
    return float(value)
