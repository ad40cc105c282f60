"""The CPU backend: interprets each kernel of the IR with numpy, each op as tinygrad_core.reference defines it.

Arrays stay "compact" while a kernel is evaluated: a dim that a view broadcasts (stride 0, no mask) has size 1 and
numpy's broadcasting does the rest, so an expand costs no memory and a SUM over a MUL of two broadcast operands
(a matmul, a convolution) becomes one einsum that numpy hands to BLAS.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_core import reference, runtime
from tinygrad_core.dtype import ALL_DTYPES, DType, dtypes
from tinygrad_core.kernel import Kernel, KNode
from tinygrad_core.ops import Ops
from tinygrad_core.view import ShapeTracker, View

# --- bfloat16: numpy has no such dtype, so buffers hold its bits as uint16 and kernels compute in float32, rounding
# every bfloat16 result to the nearest bfloat16 (ties to even), as hardware with bfloat16 arithmetic would ---
BF16 = dtypes.bfloat16


def _as(values: np.ndarray, dtype: DType) -> np.ndarray:
    """values (of any numeric numpy dtype) as the kernel holds a `dtype` value."""
    if dtype == BF16:
        return reference.values(reference.bits(values, dtype), dtype)
    return np.asarray(values).astype(dtype.np, copy=False)


# --- reading through views ---
def _indices(st: ShapeTracker, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray | bool]:
    """Flat buffer index and validity of every element of `shape` (a compact form of st.shape)."""
    coords: list[Any] = [
        np.arange(n).reshape([n if i == d else 1 for i in range(len(shape))]) for d, n in enumerate(shape)
    ]
    valid: np.ndarray | bool = True
    position: Any = 0
    for depth, view in enumerate(reversed(st.views)):
        if view.mask is not None:
            for coord, (lo, hi) in zip(coords, view.mask):
                valid = valid & (coord >= lo) & (coord < hi)
        position = view.offset + sum((c * s for c, s in zip(coords, view.strides) if s), start=np.int64(0))
        if depth + 1 < len(st.views):
            inner = st.views[-depth - 2].shape
            coords = []
            for size in reversed(inner):
                coords.insert(0, position % size if size != 1 else 0)
                position = position // size
    return np.asarray(position), valid


def _compact_shape(st: ShapeTracker) -> tuple[int, ...]:
    """Dims where the outermost view broadcasts (stride 0) and masks nothing can stay size 1."""
    top = st.views[-1]
    mask = top.mask or tuple((0, n) for n in top.shape)
    return tuple(1 if st_ == 0 and m == (0, n) else n for n, st_, m in zip(top.shape, top.strides, mask))


def _load(flat: np.ndarray, st: ShapeTracker) -> np.ndarray:
    shape = _compact_shape(st)
    view = st.views[0]
    if len(st.views) == 1 and view.mask is None:
        strides = tuple(s * flat.itemsize for s in view.strides)
        return np.lib.stride_tricks.as_strided(flat[view.offset :], shape, strides, writeable=False)
    if len(st.views) == 1:
        # copy the valid box into zeros: reads outside the mask never touch memory
        out = np.zeros(shape, flat.dtype)
        assert view.mask is not None
        box = tuple(slice(lo, hi) if n != 1 else slice(0, 1) for (lo, hi), n in zip(view.mask, shape))
        inner = View.create(view.shape, view.strides, view.offset).shrink(view.mask)
        out[box] = _load(flat, ShapeTracker((inner,)))
        return out
    index, valid = _indices(st, shape)
    if isinstance(valid, bool):
        return flat[index]
    return np.where(valid, flat[np.where(valid, index, 0)], np.zeros((), flat.dtype))


def _const(value: Any, dtype: DType, st: ShapeTracker) -> np.ndarray:
    scalar = _as(np.array(value), dtype).reshape((1,) * len(st.shape))
    if all(v.mask is None for v in st.views):
        return scalar
    _, valid = _indices(st, _compact_shape(st))
    return np.where(valid, scalar, np.zeros((), scalar.dtype))


# --- reductions ---
def _reduce(node: KNode, full_shape: tuple[int, ...], values: dict[int, np.ndarray]) -> np.ndarray:
    op, axes = node.arg
    (src,) = node.src
    dtype = reference.compute_dtype(node.dtype)
    if any(full_shape[a] == 0 for a in axes):
        fill = 0 if op is Ops.SUM else dtypes.min(node.dtype)
        return np.full(tuple(1 if i in axes else n for i, n in enumerate(full_shape)), fill, dtype)
    if op is Ops.SUM and src.op is Ops.MUL and dtype.kind in "fiu":
        return _sum_of_products(values[id(src.src[0])], values[id(src.src[1])], axes, full_shape, dtype)
    x = values[id(src)]
    real = tuple(a for a in axes if x.shape[a] != 1)
    repeats = math.prod(full_shape[a] for a in axes if x.shape[a] == 1)
    if op is Ops.MAX:
        return np.max(x, axis=real, keepdims=True) if real else x
    accumulate = np.float32 if dtype == np.float16 else dtype
    total = np.sum(x, axis=real, keepdims=True, dtype=accumulate) if real else x.astype(accumulate)
    if repeats != 1:
        total = total * np.array(repeats, accumulate)
    return total.astype(dtype, copy=False)


def _sum_of_products(
    a: np.ndarray, b: np.ndarray, axes: tuple[int, ...], full: tuple[int, ...], dtype: np.dtype
) -> np.ndarray:
    """SUM over `axes` of a*b for compact operands, as one batched matrix multiply (BLAS for floats)."""
    accumulate = np.float32 if dtype == np.float16 else dtype
    a, b = a.astype(accumulate, copy=False), b.astype(accumulate, copy=False)
    in_a = [full[i] > 1 and a.shape[i] == full[i] for i in range(len(full))]
    in_b = [full[i] > 1 and b.shape[i] == full[i] for i in range(len(full))]
    # a reduce axis only one side spans is summed on that side first; one neither spans is a repeat count
    only_a = tuple(i for i in axes if in_a[i] and not in_b[i])
    only_b = tuple(i for i in axes if in_b[i] and not in_a[i])
    a = a.sum(only_a, keepdims=True) if only_a else a
    b = b.sum(only_b, keepdims=True) if only_b else b
    repeats = math.prod(full[i] for i in axes if not in_a[i] and not in_b[i])
    batch = [i for i in range(len(full)) if in_a[i] and in_b[i] and i not in axes]
    contract = [i for i in axes if in_a[i] and in_b[i]]
    rows = [i for i in range(len(full)) if in_a[i] and not in_b[i] and i not in axes]
    cols = [i for i in range(len(full)) if in_b[i] and not in_a[i] and i not in axes]
    rest_a = [i for i in range(len(full)) if i not in batch + rows + contract]
    rest_b = [i for i in range(len(full)) if i not in batch + contract + cols]
    sizes = [full[i] for i in batch], math.prod(full[i] for i in rows), math.prod(full[i] for i in contract)
    left = a.transpose(batch + rows + contract + rest_a).reshape(*sizes[0], sizes[1], sizes[2])
    right = b.transpose(batch + contract + cols + rest_b).reshape(*sizes[0], sizes[2], math.prod(full[i] for i in cols))
    result = np.matmul(left, right).reshape([full[i] for i in batch + rows + cols])
    if repeats != 1:
        result = result * np.array(repeats, accumulate)
    order = batch + rows + cols
    result = result.transpose(sorted(range(len(order)), key=order.__getitem__))
    shape = tuple(full[i] if i in order else 1 for i in range(len(full)))
    return result.reshape(shape).astype(dtype, copy=False)


def interpret(kernel: Kernel, arrays: list[np.ndarray]) -> None:
    """Run one kernel: arrays[i] is buffer i as a flat array of its dtype; arrays[0] is written."""
    values: dict[int, np.ndarray] = {}
    order = kernel.ast.toposort()
    users: dict[int, int] = {}
    for node in order:
        for src in node.src:
            users[id(src)] = users.get(id(src), 0) + 1
    fused_mul = {id(n.src[0]) for n in order if n.op is Ops.REDUCE and n.arg[0] is Ops.SUM and n.src[0].op is Ops.MUL}
    fused_mul = {i for i in fused_mul if users[i] == 1}
    with np.errstate(all="ignore"):
        for node in order:
            if id(node) in fused_mul and node.dtype.np.kind in "fiu":
                continue  # the REDUCE reads both factors itself
            if node.op is Ops.LOAD:
                loaded = _load(arrays[node.arg[0]], node.arg[1])
                values[id(node)] = reference.values(loaded, BF16) if node.dtype == BF16 else loaded
            elif node.op is Ops.CONST:
                values[id(node)] = _const(node.arg[0], node.dtype, node.arg[1])
            elif node.op is Ops.REDUCE:
                values[id(node)] = _as(_reduce(node, kernel.full_shape, values), node.dtype)
            elif node.op is Ops.CAST:
                values[id(node)] = _as(values[id(node.src[0])], node.dtype)
            elif node.op is Ops.BITCAST:
                (src,) = node.src
                bits = reference.bits(values[id(src)], BF16) if src.dtype == BF16 else values[id(src)]
                cast = np.ascontiguousarray(bits).view(node.dtype.np)
                values[id(node)] = reference.values(cast, BF16) if node.dtype == BF16 else cast
            elif node.op is Ops.STORE:
                out = arrays[0].reshape(node.arg[1].shape)
                value = values[id(node.src[0])]
                out[...] = np.broadcast_to(reference.bits(value, BF16) if node.dtype == BF16 else value, out.shape)
            else:
                result = reference.ALU[node.op](*(values[id(s)] for s in node.src))
                values[id(node)] = _as(np.asarray(result), node.dtype)


class CPUAllocator(runtime.Allocator):
    def alloc(self, nbytes: int) -> np.ndarray:
        return np.empty(nbytes, np.uint8)

    def copyin(self, handle: np.ndarray, src: memoryview) -> None:
        handle[:] = np.frombuffer(src, np.uint8)

    def copyout(self, dest: memoryview, handle: np.ndarray) -> None:
        np.frombuffer(dest, np.uint8)[:] = handle

    def host_view(self, handle: np.ndarray, nbytes: int) -> memoryview:
        return handle.data


class CPUDevice(runtime.Device):
    dtypes = frozenset(ALL_DTYPES)  # bfloat16 too: uint16 storage, float32 arithmetic (see _as)

    def make_allocator(self) -> runtime.Allocator:
        return CPUAllocator()

    def run(self, kernel: Kernel, handles: list[np.ndarray]) -> None:
        interpret(kernel, [h.view(spec.dtype.np) for h, spec in zip(handles, kernel.bufs)])
