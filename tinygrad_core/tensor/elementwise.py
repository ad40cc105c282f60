"""Elementwise arithmetic, comparisons and bit operations on broadcast operands, casts, clip and pow."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinygrad_core import function as F
from tinygrad_core.dtype import DType, dtypes, least_upper_dtype, least_upper_float, to_dtype
from tinygrad_core.errors import ArgumentError, DeviceError, DTypeError, ShapeError
from tinygrad_core.ops import Ops
from tinygrad_core.tensor.autodiff import apply
from tinygrad_core.tensor.checks import defer

if TYPE_CHECKING:
    from tinygrad_core.tensor.tensor import Tensor, TensorLike


def _broadcasted(
    self, other: TensorLike, reverse: bool = False, op: str = "op", match_dtype: bool = True
) -> tuple[Tensor, Tensor]:
    x: Tensor = self
    if isinstance(other, np.ndarray) and other.ndim:  # numpy leaves `array + tensor` to us (__array_ufunc__ = None)
        other = type(self)(other, device=x.device)
    if not isinstance(other, type(self)):
        if isinstance(other, (np.generic, np.ndarray)):
            other = other.item()
        if not isinstance(other, (bool, int, float)):
            raise TypeError(f"{op}: unsupported operand type {type(other).__name__}")
        # a Python scalar adapts to the tensor's dtype unless it needs a wider kind (float into int); it is made
        # as a constant of x's shape at once, with no graph of its own (it takes no part in autodiff)
        kind = x.dtype
        if isinstance(other, float) and not dtypes.is_float(x.dtype):
            kind = dtypes.default_float
        elif isinstance(other, int) and not isinstance(other, bool) and x.dtype == dtypes.bool:
            kind = dtypes.default_int
        if match_dtype:
            x = x.cast(kind)
        # type(x.lazydata): a MultiLazyBuffer's constant is on each of its devices
        y = type(self)(type(x.lazydata).const(other, kind, x.device, x.shape, shared=True), requires_grad=False)
        return (y, x) if reverse else (x, y)
    y = other
    if y.device != x.device:
        raise DeviceError(f"{op}: tensors on different devices ({x.device} and {y.device}); move one with .to(device)")
    if reverse:
        x, y = y, x
    if match_dtype and x.dtype != y.dtype:
        kind = least_upper_dtype(x.dtype, y.dtype)
        x, y = x.cast(kind), y.cast(kind)
    if x.shape == y.shape:
        return x, y
    a, b = x.shape, y.shape
    a, b = (1,) * (len(b) - len(a)) + a, (1,) * (len(a) - len(b)) + b
    if any(m != n and m != 1 and n != 1 for m, n in zip(a, b)):
        raise ShapeError(f"{op}: shapes {x.shape} and {y.shape} can't be broadcast together")
    shape = tuple(n if m == 1 else m for m, n in zip(a, b))  # numpy's rule, for two shapes at Python speed
    return x.expand(shape), y.expand(shape)


def cast(self: Tensor, dtype: DType | str) -> Tensor:
    """`Tensor([1.7]).cast(dtypes.int32).tolist()` -> [1]"""
    kind = to_dtype(dtype)
    return self if kind == self.dtype else apply(F.Cast, self, dtype=kind)


def bitcast(self: Tensor, dtype: DType | str) -> Tensor:
    """Reinterpret the bits as another dtype of the same size."""
    kind = to_dtype(dtype)
    if kind.itemsize != self.dtype.itemsize:
        raise ValueError(f"bitcast from {self.dtype} to {kind} needs equal item sizes")
    if self.requires_grad:
        raise RuntimeError("bitcast has no gradient")
    return self if kind == self.dtype else apply(F.Cast, self, dtype=kind, bitcast=True)


def half(self: Tensor) -> Tensor:
    return self.cast(dtypes.float16)


def long(self: Tensor) -> Tensor:
    return self.cast(dtypes.int64)


def double(self: Tensor) -> Tensor:
    return self.cast(dtypes.float64)


def _float(self: Tensor) -> Tensor:
    return self.cast(least_upper_float(self.dtype))


def add(self: Tensor, x: TensorLike, reverse: bool = False) -> Tensor:
    """`(Tensor([1, 2]) + 1).tolist()` -> [2, 3]"""
    a, b = self._broadcasted(x, reverse, "add")
    if a.dtype == dtypes.bool:
        return a.bitwise_or(b)
    return apply(F.Add, a, b)


def sub(self: Tensor, x: TensorLike, reverse: bool = False) -> Tensor:
    """`(Tensor([3]) - 1).tolist()` -> [2]"""
    a, b = self._broadcasted(x, reverse, "sub")
    if a.dtype == dtypes.bool:
        raise TypeError("subtracting bool tensors is not supported; use ^ or logical_xor")
    return apply(F.Sub, a, b)


def mul(self: Tensor, x: TensorLike, reverse: bool = False) -> Tensor:
    """`(Tensor([2]) * 3).tolist()` -> [6]"""
    a, b = self._broadcasted(x, reverse, "mul")
    if a.dtype == dtypes.bool:
        return a.bitwise_and(b)
    return apply(F.Mul, a, b)


def div(self: Tensor, x: TensorLike, reverse: bool = False, rounding_mode: str | None = None) -> Tensor:
    """True division gives floats; rounding_mode 'trunc' or 'floor' rounds. `(Tensor([3]) / 2).tolist()` -> [1.5]"""
    a, b = self._broadcasted(x, reverse, "div")
    if rounding_mode == "trunc":
        return a.idiv(b) if not dtypes.is_float(a.dtype) else (a / b).trunc()
    if rounding_mode == "floor":
        return a._floordiv(b)
    if rounding_mode is not None:
        raise ArgumentError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    return apply(F.Div, a._float(), b._float())


def idiv(self: Tensor, x: TensorLike, reverse: bool = False) -> Tensor:
    """Integer division truncating toward zero (C's /). `Tensor([-7]).idiv(2).tolist()` -> [-3]"""
    a, b = self._broadcasted(x, reverse, "idiv")
    if dtypes.is_float(a.dtype):
        raise TypeError(f"idiv needs integer tensors, got {a.dtype}")
    _check_divisor(b, x, reverse, "idiv")
    out = apply(F.NoGrad, a, b, result=a.lazydata.alu(Ops.IDIV, b.lazydata))
    _defer_zero_divisor(b, x, reverse, "idiv", out)
    return out


def _check_divisor(b: Tensor, given: TensorLike, reverse: bool, op: str) -> None:
    """Integer division by zero raises as in PyTorch (C would trap; ours gives 0): at once for a Python 0 ..."""
    if not reverse and not isinstance(given, type(b)) and given == 0:
        raise ZeroDivisionError(f"{op}: integer division by zero")


def _defer_zero_divisor(b: Tensor, given: TensorLike, reverse: bool, op: str, result: Tensor) -> None:
    """... and at the next read of a result for a tensor divisor holding one (tensor/checks.py)."""
    if isinstance(given, type(b)) or reverse:
        defer(b.eq(0), ZeroDivisionError, f"{op}: integer division by zero", result)


def _floordiv(self: Tensor, b: Tensor) -> Tensor:
    if dtypes.is_float(self.dtype):
        return (self / b).floor()
    quotient = self.idiv(b)
    # truncation rounds toward zero; floor differs when the signs differ and there is a remainder
    adjust = ((self.lt(0)) ^ (b.lt(0))) & (quotient * b).ne(self)
    return adjust.where(quotient - 1, quotient)


def mod(self: Tensor, x: TensorLike, reverse: bool = False) -> Tensor:
    """Remainder with the sign of the divisor, like Python and numpy. `(Tensor([-7]) % 3).tolist()` -> [2]"""
    a, b = self._broadcasted(x, reverse, "mod")
    if dtypes.is_float(a.dtype):
        return a - (a / b).floor() * b
    _check_divisor(b, x, reverse, "mod")
    remainder = apply(F.NoGrad, a, b, result=a.lazydata.alu(Ops.MOD, b.lazydata))
    _defer_zero_divisor(b, x, reverse, "mod", remainder)
    fix = remainder.ne(0) & (remainder.lt(0) ^ b.lt(0))
    return fix.where(remainder + b, remainder)


def neg(self: Tensor) -> Tensor:
    if self.dtype == dtypes.bool:
        return self.logical_not()
    return apply(F.Neg, self)


def reciprocal(self: Tensor) -> Tensor:
    return apply(F.Reciprocal, self._float())


def maximum(self: Tensor, x: TensorLike) -> Tensor:
    """Elementwise max. `Tensor([1, 5]).maximum(3).tolist()` -> [3, 5]"""
    a, b = self._broadcasted(x, op="maximum")
    return apply(F.Maximum, a, b)


def minimum(self: Tensor, x: TensorLike) -> Tensor:
    a, b = self._broadcasted(x, op="minimum")
    if a.dtype == dtypes.bool:
        return a & b
    if dtypes.is_float(a.dtype):
        return -apply(F.Maximum, -a, -b)
    return a.lt(b).where(a, b)  # integers: a select never overflows (negating the minimum does)


def where(self: Tensor, x: TensorLike, y: TensorLike) -> Tensor:
    """Select x where self is true, else y. `Tensor([True, False]).where(1, 2).tolist()` -> [1, 2]"""
    if isinstance(x, type(self)):
        x, y = x._broadcasted(y, op="where")
    elif isinstance(y, type(self)):
        y, x = y._broadcasted(x, op="where")
    else:
        x, y = type(self)(x, device=self.device)._broadcasted(y, op="where")
    cond, x = self.cast(dtypes.bool)._broadcasted(x, op="where", match_dtype=False)
    cond, y = cond._broadcasted(y, op="where", match_dtype=False)
    return apply(F.Where, cond, x.expand(cond.shape), y.expand(cond.shape))


def masked_fill(self: Tensor, mask: Tensor, value: TensorLike) -> Tensor:
    return mask.where(value, self)


def _compare(self: Tensor, op: Ops, x: TensorLike, reverse: bool = False, name: str = "compare") -> Tensor:
    a, b = self._broadcasted(x, reverse, name)
    return apply(F.NoGrad, a, b, result=a.lazydata.alu(op, b.lazydata))


def lt(self: Tensor, x: TensorLike) -> Tensor:
    return self._compare(Ops.CMPLT, x, name="lt")


def gt(self: Tensor, x: TensorLike) -> Tensor:
    return self._compare(Ops.CMPLT, x, reverse=True, name="gt")


def ne(self: Tensor, x: TensorLike) -> Tensor:
    return self._compare(Ops.CMPNE, x, name="ne")


def eq(self: Tensor, x: TensorLike) -> Tensor:
    return self.ne(x).logical_not()


def le(self: Tensor, x: TensorLike) -> Tensor:
    return self.gt(x).logical_not()


def ge(self: Tensor, x: TensorLike) -> Tensor:
    return self.lt(x).logical_not()


def _bitwise(self: Tensor, op: Ops, x: TensorLike, reverse: bool, name: str) -> Tensor:
    a, b = self._broadcasted(x, reverse, name)
    if dtypes.is_float(a.dtype):
        raise DTypeError(f"{name} needs integer or bool tensors, got {a.dtype}")
    return apply(F.NoGrad, a, b, result=a.lazydata.alu(op, b.lazydata))


def bitwise_and(self: Tensor, x: TensorLike, reverse: bool = False) -> Tensor:
    return self._bitwise(Ops.AND, x, reverse, "bitwise_and")


def bitwise_or(self: Tensor, x: TensorLike, reverse: bool = False) -> Tensor:
    return self._bitwise(Ops.OR, x, reverse, "bitwise_or")


def bitwise_xor(self: Tensor, x: TensorLike, reverse: bool = False) -> Tensor:
    return self._bitwise(Ops.XOR, x, reverse, "bitwise_xor")


def bitwise_not(self: Tensor) -> Tensor:
    if self.dtype == dtypes.bool:
        return self.logical_not()
    return self.bitwise_xor(-1 if not dtypes.is_unsigned(self.dtype) else dtypes.max(self.dtype))


def logical_not(self: Tensor) -> Tensor:
    x = self.cast(dtypes.bool)
    return apply(F.NoGrad, x, result=x.lazydata.alu(Ops.NEG))


def lshift(self: Tensor, x: TensorLike) -> Tensor:
    """`Tensor([1]) << 3` -> [8]"""
    return self._bitwise(Ops.SHL, x, False, "lshift")


def rshift(self: Tensor, x: TensorLike) -> Tensor:
    return self._bitwise(Ops.SHR, x, False, "rshift")


def clip(self: Tensor, min_: TensorLike | None = None, max_: TensorLike | None = None) -> Tensor:
    """Clamp into [min_, max_]. `Tensor([-1, 5]).clip(0, 3).tolist()` -> [0, 3]"""
    if min_ is None and max_ is None:
        raise ArgumentError("clip needs at least one of min_ or max_")
    # selects, not maximum/minimum: the gradient is 1 at the bounds themselves, PyTorch's rule; a NaN stays NaN
    # and, as in PyTorch, passes no gradient
    inside = self.isnan().where(self.detach(), self)
    x = self
    if min_ is not None:
        x = x.lt(min_).where(min_, inside)
    if max_ is not None:
        x = x.gt(max_).where(max_, x if min_ is not None else inside)
    return x


def pow(self: Tensor, x: TensorLike, reverse: bool = False) -> Tensor:
    """self ** x; integer tensors to integer powers stay integers (exact), as in PyTorch and tinygrad.

    `(Tensor([2.0]) ** 3).tolist()` -> [8.0]"""
    scalar = x if not reverse and isinstance(x, (int, float)) and not isinstance(x, bool) else None
    if isinstance(scalar, int) and not dtypes.is_float(self.dtype) and self.dtype != dtypes.bool:
        if scalar < 0:
            raise ArgumentError(f"pow: integers to negative integer powers are not allowed ({self.dtype} ** {x})")
        return self._int_pow_scalar(scalar)
    if scalar is not None and float(scalar).is_integer() and abs(scalar) <= 16:
        if scalar == 0:
            return apply(F.NoGrad, self, result=self.lazydata.const_like(1))
        # repeated products: exact, and their gradient is right at 0 too
        base = self if scalar > 0 else self.reciprocal()
        result = base
        for _ in range(int(abs(scalar)) - 1):
            result = result * base
        return result
    base, exponent = self._broadcasted(x, reverse, "pow")
    if base.dtype == dtypes.bool:
        base, exponent = base.cast(dtypes.int32), exponent.cast(dtypes.int32)
    if not dtypes.is_float(base.dtype):
        return base._int_pow(exponent)
    return apply(F.Pow, base, exponent)


def _int_pow_scalar(self: Tensor, n: int) -> Tensor:
    """self ** n for an integer tensor and a non-negative Python int, by squaring (wraps like C)."""
    result, square = self.ones_like(), self
    while n:
        if n & 1:
            result = result * square
        n >>= 1
        if n:
            square = square * square
    return result


def _int_pow(self: Tensor, exponent: Tensor) -> Tensor:
    """self ** exponent for integer tensors of one shape, by squaring over every bit the dtype has. A negative
    exponent gives what integer division of 1 by the power gives: 1 or -1 for bases 1 and -1, else 0."""
    magnitude = exponent.abs()
    result, square = self.ones_like(), self
    for _ in range(exponent.dtype.itemsize * 8 - (0 if dtypes.is_unsigned(exponent.dtype) else 1)):
        result = (magnitude & 1).ne(0).where(result * square, result)
        square, magnitude = square * square, magnitude >> 1
    if dtypes.is_unsigned(exponent.dtype):
        return result
    odd = (exponent & 1).ne(0)
    unit = self.eq(1).where(1, self.eq(-1).where(odd.where(-1, 1), 0)).cast(self.dtype)
    return exponent.lt(0).where(unit, result)


def lerp(self: Tensor, end: TensorLike, weight: TensorLike) -> Tensor:
    """self + (end - self) * weight. `Tensor([0.0]).lerp(Tensor([10.0]), 0.3).tolist()` -> [3.0]"""
    return self + (end - self) * weight


class ElementwiseMixin:
    """Tensor's elementwise methods: the functions above, bound by Tensor, which inherits this class."""

    _broadcasted = _broadcasted
    cast = cast
    bitcast = bitcast
    half = half
    long = long
    double = double
    _float = _float
    add = add
    sub = sub
    mul = mul
    div = div
    idiv = idiv
    _floordiv = _floordiv
    mod = mod
    neg = neg
    reciprocal = reciprocal
    maximum = maximum
    minimum = minimum
    where = where
    masked_fill = masked_fill
    _compare = _compare
    lt = lt
    gt = gt
    ne = ne
    eq = eq
    le = le
    ge = ge
    _bitwise = _bitwise
    bitwise_and = bitwise_and
    bitwise_or = bitwise_or
    bitwise_xor = bitwise_xor
    bitwise_not = bitwise_not
    logical_not = logical_not
    lshift = lshift
    rshift = rshift
    clip = clip
    clamp = clip
    pow = pow
    _int_pow_scalar = _int_pow_scalar
    _int_pow = _int_pow
    lerp = lerp
