"""Data types: DType, the `dtypes` namespace, and the promotion lattice."""

from __future__ import annotations

import builtins  # the dtypes class names aliases float, int and bool: its annotations say builtins.*
import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from tinygrad_core.errors import DTypeError


@dataclass(frozen=True, eq=False)
class DType:
    priority: int  # orders dtypes of one kind; also breaks ties in the promotion lattice
    itemsize: int
    name: str
    fmt: str  # numpy dtype string; bfloat16 has no numpy dtype and is stored as raw uint16 bits

    # Interned: DType(...) with the same fields is the same object (unpickled and copied ones too), so equality and
    # hashing are identity, at C speed: dtypes are compared and hashed on every op.
    _interned: ClassVar[dict[tuple[int, int, str, str], DType]] = {}

    def __new__(cls, priority: int, itemsize: int, name: str, fmt: str) -> DType:
        key = (priority, itemsize, name, fmt)
        found = cls._interned.get(key)
        if found is None:
            found = cls._interned[key] = super().__new__(cls)
        return found

    def __reduce__(self) -> tuple[type[DType], tuple[int, int, str, str]]:
        return DType, (self.priority, self.itemsize, self.name, self.fmt)

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"dtypes.{self.name}"

    @property
    def np(self) -> np.dtype:
        """The numpy dtype holding this dtype's bits (bfloat16 is held as uint16)."""
        return np.dtype(self.fmt)


class dtypes:  # lower case, tinygrad's spelling: `dtypes.float32`
    bool = DType(0, 1, "bool", "?")
    int8 = DType(1, 1, "char", "i1")
    uint8 = DType(2, 1, "uchar", "u1")
    int16 = DType(3, 2, "short", "i2")
    uint16 = DType(4, 2, "ushort", "u2")
    int32 = DType(5, 4, "int", "i4")
    uint32 = DType(6, 4, "uint", "u4")
    int64 = DType(7, 8, "long", "i8")
    uint64 = DType(8, 8, "ulong", "u8")
    float16 = DType(9, 2, "half", "f2")
    bfloat16 = DType(10, 2, "bfloat16", "u2")
    float32 = DType(11, 4, "float", "f4")
    float64 = DType(12, 8, "double", "f8")
    # tinygrad/PyTorch aliases
    half, float, double = float16, float32, float64
    char, uchar, short, ushort, int, uint, long, ulong = int8, uint8, int16, uint16, int32, uint32, int64, uint64
    default_float: DType = float32
    default_int: DType = int32

    @staticmethod
    def is_float(dtype: DType) -> builtins.bool:
        return dtype in FLOAT_SET

    @staticmethod
    def is_int(dtype: DType) -> builtins.bool:
        return dtype in INT_SET

    @staticmethod
    def is_unsigned(dtype: DType) -> builtins.bool:
        return dtype in UINT_SET

    @staticmethod
    def from_np(dtype: np.dtype | type) -> DType:
        key = np.dtype(dtype)
        if key not in _FROM_NP:
            raise TypeError(f"numpy dtype {key} has no tinygrad_core equivalent; supported: {sorted(_FROM_NP)}")
        return _FROM_NP[key]

    @staticmethod
    def from_py(value: object) -> DType:
        """The dtype a Python scalar or nested list gets: bool, else default_int, else default_float."""
        if isinstance(value, (list, tuple)):
            return max((dtypes.from_py(v) for v in value), key=lambda d: d.priority, default=dtypes.default_float)
        if isinstance(value, bool):
            return dtypes.bool
        return dtypes.default_int if isinstance(value, int) else dtypes.default_float

    @staticmethod
    def min(dtype: DType) -> builtins.float | builtins.int | builtins.bool:
        if dtype == dtypes.bool:
            return False
        if dtype in INTS:
            return 0 if dtype in UINTS else -(2 ** (8 * dtype.itemsize - 1))
        return -math.inf

    @staticmethod
    def max(dtype: DType) -> builtins.float | builtins.int | builtins.bool:
        if dtype == dtypes.bool:
            return True
        if dtype in INTS:
            return 2 ** (8 * dtype.itemsize - (0 if dtype in UINTS else 1)) - 1
        return math.inf

    @staticmethod
    def fields() -> dict[str, DType]:
        return {
            name: dt for name, dt in vars(dtypes).items() if isinstance(dt, DType) and not name.startswith("default")
        }


UINTS = (dtypes.uint8, dtypes.uint16, dtypes.uint32, dtypes.uint64)
INTS = (dtypes.int8, dtypes.int16, dtypes.int32, dtypes.int64, *UINTS)
FLOATS = (dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64)
ALL_DTYPES = (dtypes.bool, *INTS, *FLOATS)
UINT_SET, INT_SET, FLOAT_SET = frozenset(UINTS), frozenset(INTS), frozenset(FLOATS)  # membership by hash
_FROM_NP = {dt.np: dt for dt in ALL_DTYPES if dt != dtypes.bfloat16}

# Promotion lattice (the one tinygrad and JAX use): an edge points to the types a value converts to without loss,
# or to the nearest float where no integer type holds both (uint64 + int64 -> float).
_PARENTS: dict[DType, tuple[DType, ...]] = {
    dtypes.bool: (dtypes.int8, dtypes.uint8),
    dtypes.int8: (dtypes.int16,),
    dtypes.int16: (dtypes.int32,),
    dtypes.int32: (dtypes.int64,),
    dtypes.int64: (dtypes.float16, dtypes.bfloat16),
    dtypes.uint8: (dtypes.int16, dtypes.uint16),
    dtypes.uint16: (dtypes.int32, dtypes.uint32),
    dtypes.uint32: (dtypes.int64, dtypes.uint64),
    dtypes.uint64: (dtypes.float16, dtypes.bfloat16),
    dtypes.float16: (dtypes.float32,),
    dtypes.bfloat16: (dtypes.float32,),
    dtypes.float32: (dtypes.float64,),
    dtypes.float64: (),
}


@functools.cache
def _ancestors(dtype: DType) -> frozenset[DType]:
    return frozenset({dtype}).union(*(_ancestors(parent) for parent in _PARENTS[dtype]))


def least_upper_dtype(*ds: DType) -> DType:
    """The smallest dtype every argument promotes to: int8 + uint8 -> int16, int32 + float16 -> float16."""
    common = frozenset.intersection(*(_ancestors(d) for d in ds))
    return min(common, key=lambda d: d.priority)


def least_upper_float(dtype: DType) -> DType:
    """The dtype of a float-only op (exp, sqrt, /) applied to `dtype`: itself if float, else default_float."""
    return dtype if dtypes.is_float(dtype) else least_upper_dtype(dtype, dtypes.default_float)


def to_dtype(value: DType | str | np.dtype | type) -> DType:
    """Accepts a DType, a name ('float32', 'half') or a numpy dtype; anything else is a DTypeError."""
    if isinstance(value, DType):
        return value
    if isinstance(value, str):
        if value not in dtypes.fields():
            raise DTypeError(f"unknown dtype {value!r}; known names: {', '.join(dtypes.fields())}")
        return dtypes.fields()[value]
    try:
        return dtypes.from_np(value)  # type: ignore[arg-type]
    except TypeError as e:
        raise DTypeError(f"{value!r} is not a dtype: {e}") from None
