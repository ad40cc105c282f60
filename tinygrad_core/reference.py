"""What every op of the op set computes: the one executable definition, written with numpy. The conformance kit
checks every backend against it, the CPU backend runs it, and docs/ops.md describes it in words.

Host arrays hold a dtype's bits as `dtype.np` does (bfloat16 as uint16 bits); `values` and `bits` convert between
those and arrays you can compute with (bfloat16 values are float32 arrays). `alu` evaluates one ALU op on values,
`ALU` is the table of the ops that need no dtype, `reduce` reduces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.ops import Ops


# --- host representation ---
def values(host: np.ndarray, dtype: DType) -> np.ndarray:
    """Computable values of a host array: bfloat16 bits become float32, everything else is as it is."""
    if dtype == dtypes.bfloat16:
        return (np.asarray(host, np.uint16).astype(np.uint32) << 16).view(np.float32)
    return np.asarray(host, dtype.np)


def bits(vals: Any, dtype: DType) -> np.ndarray:
    """The host array holding `vals` as `dtype` (bfloat16: rounded to nearest even, kept as uint16 bits)."""
    if dtype == dtypes.bfloat16:
        as_int = np.asarray(vals, np.float32).view(np.uint32).astype(np.uint64)
        rounded = (as_int + 0x7FFF + ((as_int >> 16) & 1)) >> 16
        nan = np.isnan(np.asarray(vals, np.float32))
        return np.where(nan, 0x7FC0, rounded).astype(np.uint16)
    with np.errstate(all="ignore"):
        return np.asarray(vals).astype(dtype.np)


def compute_dtype(dtype: DType) -> np.dtype:
    """The numpy dtype `alu` computes `dtype` in (float32 for bfloat16)."""
    return np.dtype(np.float32) if dtype == dtypes.bfloat16 else dtype.np


# --- the ops ---
def _width(dtype: np.dtype) -> int:
    return dtype.itemsize * 8


def _idiv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype == np.bool_:
        return a & b
    nonzero = np.where(b == 0, 1, b)
    quotient = np.abs(a) // np.abs(nonzero)  # truncation toward zero, like C
    negative = (a < 0) != (b < 0)
    return np.where(b == 0, 0, np.where(negative, -quotient, quotient)).astype(a.dtype)


def _mod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "iu":
        return np.where(b == 0, 0, np.fmod(a, np.where(b == 0, 1, b))).astype(a.dtype)
    return np.fmod(a, b)


def _shl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    width = _width(a.dtype)
    return np.where(b >= width, 0, np.left_shift(a, np.minimum(b, width - 1))).astype(a.dtype)


def _shr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.right_shift(a, np.minimum(b, _width(a.dtype) - 1)).astype(a.dtype)


def _bool_or(numeric: Callable[..., Any], logical: Callable[..., Any]) -> Callable[..., Any]:
    return lambda a, b: logical(a, b) if a.dtype == np.bool_ else numeric(a, b)


def _recip(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "f":
        return np.reciprocal(x)
    return np.where(x == 0, 0, 1 // np.where(x == 0, 1, x))  # integers: 1 // x, and 0 for 0


ALU: dict[Ops, Callable[..., Any]] = {
    Ops.EXP2: np.exp2,
    Ops.LOG2: np.log2,
    Ops.SIN: np.sin,
    Ops.SQRT: np.sqrt,
    Ops.RECIP: _recip,
    Ops.NEG: lambda x: np.logical_not(x) if x.dtype == np.bool_ else np.negative(x),
    Ops.TRUNC: lambda x: np.trunc(x) if x.dtype.kind == "f" else x,
    Ops.ADD: _bool_or(np.add, np.logical_or),
    Ops.MUL: _bool_or(np.multiply, np.logical_and),
    Ops.IDIV: _idiv,
    Ops.MOD: _mod,
    Ops.MAX: np.maximum,
    Ops.CMPLT: np.less,
    Ops.CMPNE: np.not_equal,
    Ops.AND: np.bitwise_and,
    Ops.OR: np.bitwise_or,
    Ops.XOR: np.bitwise_xor,
    Ops.SHL: _shl,
    Ops.SHR: _shr,
    Ops.WHERE: np.where,
}


def alu(op: Ops, dtype: DType, *srcs: np.ndarray) -> np.ndarray:
    """`op` on values (see `values`); `dtype` is the result's. CAST converts like C (in-range values only)."""
    with np.errstate(all="ignore"):
        if op is Ops.CAST:
            (x,) = srcs
            if dtype == dtypes.bool:
                return np.asarray(x != 0)
            if dtypes.is_int(dtype) and x.dtype.kind == "f":
                x = np.trunc(x)
            return np.asarray(x).astype(compute_dtype(dtype))
        result = np.asarray(ALU[op](*srcs))
        return result if op in (Ops.CMPLT, Ops.CMPNE) else result.astype(compute_dtype(dtype))


def reduce(op: Ops, x: np.ndarray, axes: tuple[int, ...], dtype: DType) -> np.ndarray:
    """SUM or MAX over `axes`, keeping them as size-1 dims; an empty reduction gives 0 or the dtype's minimum."""
    if any(x.shape[a] == 0 for a in axes):
        fill = 0 if op is Ops.SUM else dtypes.min(dtype)
        return np.full(tuple(1 if i in axes else n for i, n in enumerate(x.shape)), fill, compute_dtype(dtype))
    if op is Ops.MAX:
        return np.max(x, axis=axes, keepdims=True)
    accumulate = np.float64 if x.dtype.kind == "f" else x.dtype
    with np.errstate(all="ignore"):
        return np.sum(x, axis=axes, keepdims=True, dtype=accumulate).astype(compute_dtype(dtype))
