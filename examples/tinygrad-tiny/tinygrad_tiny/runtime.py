"""TINY: interprets the kernel IR in pure Python, one output element at a time. Slow, short, and complete."""

import itertools
import math
import struct

from tinygrad_core import runtime
from tinygrad_core.dtype import ALL_DTYPES, dtypes
from tinygrad_core.ops import Ops

FORMATS = {dtypes.bool: "?", dtypes.int8: "b", dtypes.uint8: "B", dtypes.int16: "h", dtypes.uint16: "H"}
FORMATS |= {dtypes.int32: "i", dtypes.uint32: "I", dtypes.int64: "q", dtypes.uint64: "Q"}
FORMATS |= {dtypes.float16: "e", dtypes.float32: "f", dtypes.float64: "d"}


def fit(value, dtype):
    """`value` as `dtype` holds it: integers wrap around, floats round to the dtype's precision."""
    if dtype == dtypes.bool:
        return bool(value)
    if dtypes.is_int(dtype):
        bits = 8 * dtype.itemsize
        value = int(value) & ((1 << bits) - 1)
        return value - (1 << bits) if not dtypes.is_unsigned(dtype) and value >> (bits - 1) else value
    try:
        return struct.unpack("=" + FORMATS[dtype], struct.pack("=" + FORMATS[dtype], value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


def ieee(fn, x, edge):
    """math raises where IEEE 754 returns inf or NaN: log2(0), sqrt(-1), sin(inf), ..."""
    try:
        return fn(x)
    except (ValueError, OverflowError, ZeroDivisionError):
        return edge(x)


def c_div(a, b):
    """Integer division truncating toward zero, like C; a / 0 is 0."""
    return 0 if b == 0 else abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)


def c_mod(a, b):
    """The remainder with the sign of a, like C's % and fmod; an integer a % 0 is 0."""
    if isinstance(a, float):
        return ieee(lambda a: math.fmod(a, b), a, lambda a: math.nan)
    return 0 if b == 0 else a - b * c_div(a, b)


ALU = {
    Ops.EXP2: lambda x: ieee(math.exp2, x, lambda x: math.inf),
    Ops.LOG2: lambda x: ieee(math.log2, x, lambda x: -math.inf if x == 0 else math.nan),
    Ops.SIN: lambda x: ieee(math.sin, x, lambda x: math.nan),
    Ops.SQRT: lambda x: ieee(math.sqrt, x, lambda x: math.nan),
    Ops.RECIP: lambda x: ieee(lambda x: 1 / x, x, lambda x: math.copysign(math.inf, x)),
    Ops.NEG: lambda x: not x if isinstance(x, bool) else -x,
    Ops.TRUNC: lambda x: float(math.trunc(x)) if math.isfinite(x) else x,
    Ops.ADD: lambda a, b: a or b if isinstance(a, bool) else a + b,
    Ops.MUL: lambda a, b: a and b if isinstance(a, bool) else a * b,
    Ops.IDIV: c_div,
    Ops.MOD: c_mod,
    Ops.MAX: max,
    Ops.CMPLT: lambda a, b: a < b,
    Ops.CMPNE: lambda a, b: a != b,
    Ops.AND: lambda a, b: a & b,
    Ops.OR: lambda a, b: a | b,
    Ops.XOR: lambda a, b: a ^ b,
    Ops.WHERE: lambda c, a, b: a if c else b,
}


def address(tracker, idx):
    """Buffer position of index `idx` through a ShapeTracker, and whether it lies inside every mask."""
    valid = True
    for depth, view in enumerate(reversed(tracker.views)):  # outermost first
        valid = valid and all(lo <= i < hi for i, (lo, hi) in zip(idx, view.mask or ()))
        position = view.offset + sum(i * s for i, s in zip(idx, view.strides))
        if depth + 1 < len(tracker.views):  # unravel into the next inner view's shape
            idx = []
            for size in reversed(tracker.views[-depth - 2].shape):
                idx.insert(0, position % size)
                position //= size
    return position, valid


class TinyAllocator(runtime.Allocator):
    def alloc(self, nbytes):
        return bytearray(nbytes)

    def copyin(self, handle, src):
        handle[:] = src

    def copyout(self, dest, handle):
        dest[:] = handle


class TinyDevice(runtime.Device):
    dtypes = frozenset(ALL_DTYPES) - {dtypes.bfloat16}
    missing_dtype_reason = "Python's struct module has no bfloat16"

    def make_allocator(self):
        return TinyAllocator()

    def run(self, kernel, handles):
        store = kernel.ast
        cache = {}  # shared by every output element: a row kernel's reductions are computed once per row
        for idx in itertools.product(*map(range, store.arg[1].shape)):
            value = self.eval(store.src[0], idx, kernel, handles, cache)
            position, _ = address(store.arg[1], idx)
            struct.pack_into("=" + FORMATS[store.dtype], handles[0], position * store.dtype.itemsize, value)

    def eval(self, node, idx, kernel, handles, cache):
        """The value of `node` at index `idx`; `cache` holds the nodes already evaluated."""
        if node.op is Ops.REDUCE:  # its value is the same along the reduced axes (read broadcast by a row kernel)
            idx = tuple(0 if axis in node.arg[1] else i for axis, i in enumerate(idx))
        if (node, idx) in cache:
            return cache[node, idx]
        if node.op in (Ops.LOAD, Ops.CONST):
            position, valid = address(node.arg[1], idx)
            if not valid:
                value = fit(0, node.dtype)
            elif node.op is Ops.LOAD:
                buf = handles[node.arg[0]]
                value = struct.unpack_from("=" + FORMATS[node.dtype], buf, position * node.dtype.itemsize)[0]
            else:
                value = fit(node.arg[0], node.dtype)
        elif node.op is Ops.REDUCE:
            op, axes = node.arg
            value = fit(0 if op is Ops.SUM else dtypes.min(node.dtype), node.dtype)
            for inner in itertools.product(*(range(kernel.full_shape[axis]) for axis in axes)):
                full = list(idx)
                for axis, i in zip(axes, inner):
                    full[axis] = i
                x = self.eval(node.src[0], tuple(full), kernel, handles, cache)
                value = ALU[Ops.ADD if op is Ops.SUM else Ops.MAX](value, x)  # in Python's precision
            value = fit(value, node.dtype)
        elif node.op is Ops.CAST:
            value = fit(self.eval(node.src[0], idx, kernel, handles, cache), node.dtype)
        elif node.op is Ops.BITCAST:
            source = node.src[0]
            raw = struct.pack("=" + FORMATS[source.dtype], self.eval(source, idx, kernel, handles, cache))
            value = struct.unpack("=" + FORMATS[node.dtype], raw)[0]
        elif node.op in (Ops.SHL, Ops.SHR):
            a, b = (self.eval(s, idx, kernel, handles, cache) for s in node.src)
            width = 8 * node.dtype.itemsize
            value = fit(a << b if b < width else 0, node.dtype) if node.op is Ops.SHL else a >> min(b, width - 1)
        else:
            srcs = [self.eval(s, idx, kernel, handles, cache) for s in node.src]
            value = fit(ALU[node.op](*srcs), node.dtype)
        cache[node, idx] = value
        return value
