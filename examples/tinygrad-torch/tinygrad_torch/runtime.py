"""TORCH: interprets each kernel of the IR with PyTorch tensor operations on PyTorch's device.

TORCH is cuda:0 when PyTorch sees a GPU (TORCH:1 is cuda:1), else the CPU. A buffer is a uint8 tensor on that
device; a LOAD is a strided view of it where one View can express the read, and a gather otherwise. PyTorch has no
arithmetic on uint16/uint32/uint64, so those are computed in a wider signed type (uint16 in int32, uint32 in int64)
and masked back, and uint64 in int64 with the same bits: + - * and shifts left agree, comparisons flip the sign bit.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from tinygrad_core import runtime
from tinygrad_core.dtype import ALL_DTYPES, DType, dtypes
from tinygrad_core.errors import DeviceError
from tinygrad_core.kernel import Kernel, KNode
from tinygrad_core.ops import Ops
from tinygrad_core.view import ShapeTracker, View

# our dtype -> (how its bits are stored, what it is computed in)
_TORCH = {
    dtypes.bool: (torch.bool, torch.bool),
    dtypes.int8: (torch.int8, torch.int8),
    dtypes.uint8: (torch.uint8, torch.uint8),
    dtypes.int16: (torch.int16, torch.int16),
    dtypes.uint16: (torch.int16, torch.int32),
    dtypes.int32: (torch.int32, torch.int32),
    dtypes.uint32: (torch.int32, torch.int64),
    dtypes.int64: (torch.int64, torch.int64),
    dtypes.uint64: (torch.int64, torch.int64),
    dtypes.float16: (torch.float16, torch.float16),
    dtypes.bfloat16: (torch.bfloat16, torch.bfloat16),
    dtypes.float32: (torch.float32, torch.float32),
    dtypes.float64: (torch.float64, torch.float64),
}
_MASK = {dtypes.uint16: 0xFFFF, dtypes.uint32: 0xFFFFFFFF}  # the widened unsigned types
_SIGN = -(1 << 63)  # xor with this maps uint64 bits to an int64 of the same order


def _wrap(x: torch.Tensor, dtype: DType) -> torch.Tensor:
    return x & _MASK[dtype] if dtype in _MASK else x


def _ordered(x: torch.Tensor, dtype: DType) -> torch.Tensor:
    """x as a tensor whose signed order is dtype's order (only uint64 needs help)."""
    return x ^ _SIGN if dtype == dtypes.uint64 else x


# --- ALU ops ---
def _idiv(a: torch.Tensor, b: torch.Tensor, dtype: DType) -> torch.Tensor:
    # NOTE: uint64 values of 2**63 and more divide as negative int64s: a known failure, declared on TorchDevice.
    zero = b == 0
    return torch.where(zero, 0, torch.div(a, torch.where(zero, 1, b), rounding_mode="trunc"))


def _mod(a: torch.Tensor, b: torch.Tensor, dtype: DType) -> torch.Tensor:
    if dtypes.is_float(dtype):
        return torch.fmod(a, b)
    zero = b == 0
    return torch.where(zero, 0, torch.fmod(a, torch.where(zero, 1, b)))


def _shl(a: torch.Tensor, b: torch.Tensor, dtype: DType) -> torch.Tensor:
    width = dtype.itemsize * 8
    return _wrap(torch.where(b >= width, 0, a << b.clamp(max=width - 1)), dtype)


def _shr(a: torch.Tensor, b: torch.Tensor, dtype: DType) -> torch.Tensor:
    count = b.clamp(max=dtype.itemsize * 8 - 1)
    if dtype != dtypes.uint64:  # signed: arithmetic; widened unsigned values are non-negative
        return a >> count
    logical = (a >> count) & ((1 << (64 - count.clamp(min=1))) - 1)  # clear the copies of the sign bit
    return torch.where(count == 0, a, logical)


def _max(a: torch.Tensor, b: torch.Tensor, dtype: DType) -> torch.Tensor:
    if dtype == dtypes.bool:
        return a | b
    return torch.where(_ordered(a, dtype) < _ordered(b, dtype), b, a) if dtype == dtypes.uint64 else torch.maximum(a, b)


def _recip(x: torch.Tensor, dtype: DType) -> torch.Tensor:
    return (
        torch.reciprocal(x)
        if dtypes.is_float(dtype)
        else torch.where(x == 0, 0, torch.div(1, x, rounding_mode="trunc"))
    )


def _alu(op: Ops, dtype: DType, src: list[torch.Tensor], src_dtype: DType) -> torch.Tensor:
    """One ALU op; `dtype` is the result's, `src_dtype` the sources' (they differ for CMPLT, CMPNE, WHERE, CAST)."""
    is_bool = src_dtype == dtypes.bool
    if op is Ops.CAST:
        return _cast(src[0], src_dtype, dtype)
    if op is Ops.BITCAST:
        storage, _ = _TORCH[src_dtype]
        return _widen(src[0].to(storage).view(_TORCH[dtype][0]), dtype)
    if op is Ops.CMPLT:
        return _ordered(src[0], src_dtype) < _ordered(src[1], src_dtype)
    if op is Ops.WHERE:
        return torch.where(src[0], src[1], src[2])
    simple = {
        Ops.EXP2: torch.exp2,
        Ops.LOG2: torch.log2,
        Ops.SIN: torch.sin,
        Ops.SQRT: torch.sqrt,
        Ops.NEG: torch.logical_not if is_bool else torch.neg,
        Ops.TRUNC: torch.trunc if dtypes.is_float(dtype) else lambda x: x,
        Ops.ADD: torch.logical_or if is_bool else torch.add,
        Ops.MUL: torch.logical_and if is_bool else torch.mul,
        Ops.CMPNE: torch.ne,
        Ops.AND: torch.bitwise_and,
        Ops.OR: torch.bitwise_or,
        Ops.XOR: torch.bitwise_xor,
    }
    if op in simple:
        return _wrap(simple[op](*src), dtype)
    typed = {Ops.IDIV: _idiv, Ops.MOD: _mod, Ops.SHL: _shl, Ops.SHR: _shr, Ops.MAX: _max, Ops.RECIP: _recip}
    return typed[op](*src, dtype)


def _cast(x: torch.Tensor, src: DType, dst: DType) -> torch.Tensor:
    if dst == dtypes.bool:
        return x != 0
    if src == dtypes.uint64 and dtypes.is_float(dst):  # int64 bits with the top bit set are 2**64 too small
        wide = x.to(torch.float64)
        return torch.where(x < 0, wide + 2.0**64, wide).to(_TORCH[dst][1])
    return _wrap(x.to(_TORCH[dst][1]), dst)


def _widen(stored: torch.Tensor, dtype: DType) -> torch.Tensor:
    """Stored bits -> the compute type (uint16 and uint32 grow and lose the sign they were stored with)."""
    return _wrap(stored.to(_TORCH[dtype][1]), dtype)


# --- reading through views ---
def _compact(st: ShapeTracker) -> tuple[int, ...]:
    """Dims the outermost view broadcasts (stride 0, unmasked) stay size 1: torch broadcasting does the rest."""
    top = st.views[-1]
    mask = top.mask or tuple((0, n) for n in top.shape)
    return tuple(1 if stride == 0 and m == (0, n) else n for n, stride, m in zip(top.shape, top.strides, mask))


def _positions(st: ShapeTracker, shape: tuple[int, ...], device: torch.device) -> tuple[torch.Tensor, Any]:
    """Flat buffer position and validity of every element of `shape` (docs/kernel-ir.md's address(), vectorized)."""
    idx: list[Any] = [
        torch.arange(n, device=device).reshape([-1 if d == i else 1 for i in range(len(shape))])
        for d, n in enumerate(shape)
    ]
    valid: Any = True
    position: Any = 0
    for depth, view in enumerate(reversed(st.views)):
        for i, (lo, hi) in zip(idx, view.mask or ()):
            valid = valid & (i >= lo) & (i < hi)
        position = view.offset + sum(
            (i * s for i, s in zip(idx, view.strides) if s), torch.zeros((), dtype=torch.int64, device=device)
        )
        if depth + 1 < len(st.views):
            idx = []
            for size in reversed(st.views[-depth - 2].shape):
                idx.insert(0, position % size)
                position = position // size
    return position, valid


def _load(flat: torch.Tensor, st: ShapeTracker) -> torch.Tensor:
    shape = _compact(st)
    *inner, view = st.views
    if inner:
        # the outer view indexes the flat, contiguous space of the views below it: materialize that, then view it
        # (contiguous: torch.as_strided below addresses the storage, so the strides of a reshaped view would be lost)
        below = _load(flat, ShapeTracker(tuple(inner))).expand(inner[-1].shape).reshape(-1).contiguous()
        return _load(below, ShapeTracker((view,)))
    if view.mask is not None:
        # a padded view: the valid box read through a plain view, placed in zeros; reads outside touch no memory
        out = torch.zeros(shape, dtype=flat.dtype, device=flat.device)
        if all(lo < hi for lo, hi in view.mask):
            box = tuple(slice(lo, hi) if n != 1 else slice(0, 1) for (lo, hi), n in zip(view.mask, shape))
            out[box] = _load(
                flat, ShapeTracker((View.create(view.shape, view.strides, view.offset).shrink(view.mask),))
            )
        return out
    # a plain view: a strided view of the buffer, no copy; negative strides (flips) become torch.flip
    flipped = [d for d, s in enumerate(view.strides) if s < 0 and shape[d] > 1]
    offset = view.offset + sum((shape[d] - 1) * view.strides[d] for d in flipped)
    strides = [abs(s) if shape[d] > 1 else 0 for d, s in enumerate(view.strides)]
    offset += flat.storage_offset()  # as_strided counts from the start of the storage, not of `flat`
    out = torch.as_strided(flat, shape, strides, offset) if math.prod(shape) else flat.new_empty(shape)
    return out.flip(flipped) if flipped else out


def _const(value: Any, dtype: DType, st: ShapeTracker, device: torch.device) -> torch.Tensor:
    if dtype == dtypes.uint64 and value >= 1 << 63:
        value -= 1 << 64  # the same bits as an int64
    scalar = torch.tensor(value, dtype=_TORCH[dtype][1], device=device).reshape((1,) * len(st.shape))
    if all(view.mask is None for view in st.views):
        return scalar
    _, valid = _positions(st, _compact(st), device)
    return torch.where(valid, scalar, torch.zeros((), dtype=scalar.dtype, device=device))


# --- reductions ---
def _reduce(node: KNode, full_shape: tuple[int, ...], x: torch.Tensor) -> torch.Tensor:
    op, axes = node.arg
    dtype = node.dtype
    out_shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    if any(full_shape[a] == 0 for a in axes):
        empty = 0 if op is Ops.SUM else dtypes.min(dtype)
        return _const(empty, dtype, ShapeTracker.from_shape(out_shape), x.device).expand(out_shape)
    real = [a for a in axes if x.shape[a] != 1]
    repeats = math.prod(full_shape[a] for a in axes if x.shape[a] == 1)  # broadcast axes: each value counts n times
    if op is Ops.MAX:
        if not real:
            return x
        return _ordered(_ordered(x, dtype).amax(dim=real, keepdim=True), dtype)
    if dtype == dtypes.bool:
        return x.any(dim=real, keepdim=True) if real else x
    wide = torch.float32 if dtype in (dtypes.float16, dtypes.bfloat16) else x.dtype
    total = x.sum(dim=real, keepdim=True, dtype=wide) if real else x.to(wide)
    return _wrap(total * repeats if repeats != 1 else total, dtype).to(x.dtype)


def _sum_of_products(a: torch.Tensor, b: torch.Tensor, axes: tuple[int, ...], full: tuple[int, ...]) -> torch.Tensor:
    """SUM(MUL(a, b)) over `axes` as one einsum (a matmul or a convolution), without expanding either factor."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    kept_a = [d for d in range(len(full)) if a.shape[d] != 1]
    kept_b = [d for d in range(len(full)) if b.shape[d] != 1]
    out = [d for d in range(len(full)) if d not in axes and (d in kept_a or d in kept_b)]
    repeats = math.prod(full[d] for d in axes if d not in kept_a and d not in kept_b)
    wide = torch.float32 if a.dtype in (torch.float16, torch.bfloat16) else a.dtype
    subscripts = ["".join(letters[d] for d in dims) for dims in (kept_a, kept_b, out)]
    spec = f"{subscripts[0]},{subscripts[1]}->{subscripts[2]}"
    result = torch.einsum(
        spec, a.reshape([a.shape[d] for d in kept_a]).to(wide), b.reshape([b.shape[d] for d in kept_b]).to(wide)
    )
    shape = [full[d] if d in out else 1 for d in range(len(full))]
    return (result * repeats if repeats != 1 else result).reshape(shape).to(a.dtype)


def _is_product_sum(node: KNode, users: dict[int, int]) -> bool:
    mul = node.src[0]
    return node.arg[0] is Ops.SUM and mul.op is Ops.MUL and dtypes.is_float(node.dtype) and users[id(mul)] == 1


# --- the device ---
class TorchAllocator(runtime.Allocator):
    def __init__(self, device: torch.device):
        self.device = device

    def alloc(self, nbytes: int) -> torch.Tensor:
        return torch.empty(nbytes, dtype=torch.uint8, device=self.device)

    def copyin(self, handle: torch.Tensor, src: memoryview) -> None:
        if handle.numel():
            with warnings.catch_warnings():  # a read-only source is fine: copy_ only reads it
                warnings.simplefilter("ignore", UserWarning)
                handle.copy_(torch.frombuffer(src, dtype=torch.uint8))

    def copyout(self, dest: memoryview, handle: torch.Tensor) -> None:
        if handle.numel():
            torch.frombuffer(dest, dtype=torch.uint8).copy_(handle)

    def host_view(self, handle: torch.Tensor, nbytes: int) -> memoryview | None:
        return handle.numpy().data if handle.device.type == "cpu" else None


class TorchDevice(runtime.Device):
    dtypes = frozenset(ALL_DTYPES)
    known_failures = {  # noqa: RUF012
        "ops::test_binary[IDIV-uint64]": "PyTorch has no unsigned 64-bit division: values >= 2**63 divide as negative",
        "ops::test_binary[MOD-uint64]": "PyTorch has no unsigned 64-bit remainder: values >= 2**63 divide as negative",
    }

    def __init__(self, name: str):
        index = int(name.partition(":")[2] or 0)
        if torch.cuda.is_available():
            self.device = torch.device("cuda", index)
        elif index == 0:
            self.device = torch.device("cpu")
            warnings.warn(f"{name} runs on the CPU: PyTorch {torch.__version__} sees no CUDA device", stacklevel=2)
        else:
            raise DeviceError(f"{name} would be cuda:{index}, but PyTorch {torch.__version__} sees no CUDA device")
        super().__init__(name)

    @classmethod
    def describe(cls) -> str:
        if not torch.cuda.is_available():
            return f"PyTorch {torch.__version__} on the CPU: no CUDA device"
        return f"PyTorch {torch.__version__} on {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"

    def make_allocator(self) -> runtime.Allocator:
        return TorchAllocator(self.device)

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def run(self, kernel: Kernel, handles: list[torch.Tensor]) -> None:
        flats = [handle.view(_TORCH[spec.dtype][0]) for handle, spec in zip(handles, kernel.bufs)]
        order = kernel.ast.toposort()
        users: dict[int, int] = {}
        for node in order:
            for src in node.src:
                users[id(src)] = users.get(id(src), 0) + 1
        fused = {id(n.src[0]) for n in order if n.op is Ops.REDUCE and _is_product_sum(n, users)}
        values: dict[int, torch.Tensor] = {}
        for node in order:
            if id(node) in fused:
                continue  # a MUL whose REDUCE multiplies the factors itself, inside einsum
            if node.op is Ops.LOAD:
                values[id(node)] = _widen(_load(flats[node.arg[0]], node.arg[1]), node.dtype)
            elif node.op is Ops.CONST:
                values[id(node)] = _const(node.arg[0], node.dtype, node.arg[1], self.device)
            elif node.op is Ops.REDUCE and _is_product_sum(node, users):
                a, b = (values[id(s)] for s in node.src[0].src)
                values[id(node)] = _sum_of_products(a, b, node.arg[1], kernel.full_shape)
            elif node.op is Ops.REDUCE:
                values[id(node)] = _reduce(node, kernel.full_shape, values[id(node.src[0])])
            elif node.op is Ops.STORE:
                out = flats[0].view(node.arg[1].shape)
                value = values[id(node.src[0])].to(out.dtype)
                if value.untyped_storage().data_ptr() == out.untyped_storage().data_ptr():
                    value = value.clone()  # an ASSIGN reading its own target: don't write what is still read
                out.copy_(value.expand(out.shape))
            else:
                src_dtype = node.src[-1].dtype if node.op is Ops.WHERE else node.src[0].dtype
                values[id(node)] = _alu(node.op, node.dtype, [values[id(s)] for s in node.src], src_dtype)
