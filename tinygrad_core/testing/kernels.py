"""Hand-built kernels for the conformance kit: build a kernel of the IR, run it on one device, read its output.

    x = load(1, dtypes.float32, tracker((3, 4)).permute((1, 0)))
    out = run("CPU", alu(Ops.NEG, dtypes.float32, x), (4, 3), [(dtypes.float32, host)])

Inputs and outputs are host arrays holding each dtype's bits (reference.values turns them into numbers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_core import reference
from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.kernel import BufferSpec, Kernel, KNode
from tinygrad_core.ops import Ops
from tinygrad_core.view import Shape, ShapeTracker


def tracker(shape: Shape) -> ShapeTracker:
    return ShapeTracker.from_shape(tuple(shape))


def load(buf: int, dtype: DType, st: ShapeTracker) -> KNode:
    return KNode(Ops.LOAD, dtype, (), (buf, st))


def const(value: Any, dtype: DType, st: ShapeTracker) -> KNode:
    return KNode(Ops.CONST, dtype, (), (value, st))


def alu(op: Ops, dtype: DType, *src: KNode) -> KNode:
    return KNode(op, dtype, tuple(src))


def reduce(op: Ops, axes: tuple[int, ...], x: KNode) -> KNode:
    return KNode(Ops.REDUCE, x.dtype, (x,), (op, tuple(axes)))


def kernel(value: KNode, shape: Shape, inputs: Sequence[tuple[DType, int]]) -> Kernel:
    """A kernel storing `value` (of `shape`) into buffer 0; inputs are (dtype, size) of buffers 1, 2, ..."""
    store = KNode(Ops.STORE, value.dtype, (value,), (0, tracker(shape)))
    specs = (BufferSpec(value.dtype, math.prod(shape)), *(BufferSpec(dtype, size) for dtype, size in inputs))
    return Kernel(store, specs)


def run(device: str, value: KNode, shape: Shape, inputs: Sequence[tuple[DType, np.ndarray]] = ()) -> np.ndarray:
    """Run the kernel storing `value` on `device`; inputs[i] is buffer i + 1 as (dtype, host array). Returns buf 0."""
    from tinygrad_core.devices import Device
    from tinygrad_core.runtime import Buffer

    k = kernel(value, shape, [(dtype, host.size) for dtype, host in inputs])
    bufs = [Buffer(Device[device], spec.size, spec.dtype) for spec in k.bufs]
    for buf, (_, host) in zip(bufs[1:], inputs):
        if host.size:
            buf.copyin(host)
    Device[device].run(k, [buf.handle for buf in bufs])
    return bufs[0].numpy().reshape(shape)


# --- inputs ---
def sample(
    dtype: DType, shape: Shape, low: float | None = None, high: float | None = None, seed: int = 0
) -> np.ndarray:
    """Random host bits of `dtype` with values in [low, high] (clipped to the dtype's range; floats exact in it)."""
    rng = np.random.default_rng(seed)
    if dtype == dtypes.bool:
        return rng.random(shape) < 0.5
    lo = dtypes.min(dtype) if low is None else max(low, dtypes.min(dtype))
    hi = dtypes.max(dtype) if high is None else min(high, dtypes.max(dtype))
    if dtypes.is_int(dtype):
        return rng.integers(int(lo), int(hi), shape, endpoint=True, dtype=dtype.np)
    lo, hi = max(lo, -1e4), min(hi, 1e4)
    return reference.bits(rng.uniform(lo, hi, shape).astype(np.float32), dtype)
