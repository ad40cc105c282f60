"""Elementwise math: exp and log, trigonometry, rounding, tests for inf and NaN, the activations, softmax."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tinygrad_core import function as F
from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.ops import Ops
from tinygrad_core.tensor.autodiff import apply

if TYPE_CHECKING:
    from tinygrad_core.tensor.tensor import Tensor, TensorLike


def relu(self: Tensor) -> Tensor:
    """`Tensor([-1.0, 2.0]).relu().tolist()` -> [0.0, 2.0]"""
    return apply(F.Relu, self)


def exp(self: Tensor) -> Tensor:
    return apply(F.Exp, self._float())


def exp2(self: Tensor) -> Tensor:
    return apply(F.Exp, self._float() * math.log(2))


def log(self: Tensor) -> Tensor:
    return apply(F.Log, self._float())


def log2(self: Tensor) -> Tensor:
    return self.log() / math.log(2)


def log10(self: Tensor) -> Tensor:
    """`Tensor([100.0]).log10().tolist()` -> [2.0]"""
    return self.log() / math.log(10)


def sqrt(self: Tensor) -> Tensor:
    return apply(F.Sqrt, self._float())


def rsqrt(self: Tensor) -> Tensor:
    return self.sqrt().reciprocal()


def sin(self: Tensor) -> Tensor:
    return apply(F.Sin, self._float())


def cos(self: Tensor) -> Tensor:
    return ((math.pi / 2) - self._float()).sin()


def tan(self: Tensor) -> Tensor:
    return self.sin() / self.cos()


def sigmoid(self: Tensor) -> Tensor:
    return apply(F.Sigmoid, self._float())


def tanh(self: Tensor) -> Tensor:
    return 2.0 * (2.0 * self._float()).sigmoid() - 1.0


def abs(self: Tensor) -> Tensor:
    """`Tensor([-2, 3]).abs().tolist()` -> [2, 3]"""
    if dtypes.is_unsigned(self.dtype) or self.dtype == dtypes.bool:
        return self
    if not dtypes.is_float(self.dtype):
        return self.lt(0).where(-self, self)
    return self.relu() + (-self).relu()


def sign(self: Tensor) -> Tensor:
    """-1, 0 or 1. `Tensor([-3.0, 0.0, 2.0]).sign().tolist()` -> [-1.0, 0.0, 1.0]"""
    return self.ne(0).where(self.lt(0).where(-1, 1), 0).cast(self.dtype)


def square(self: Tensor) -> Tensor:
    return self * self


def trunc(self: Tensor) -> Tensor:
    """Round toward zero (no gradient flows through rounding)."""
    if not dtypes.is_float(self.dtype):
        return self
    return apply(F.NoGrad, self, result=self.lazydata.alu(Ops.TRUNC))


def floor(self: Tensor) -> Tensor:
    truncated = self.trunc()
    return self.lt(truncated).where(truncated - 1, truncated) if dtypes.is_float(self.dtype) else self


def ceil(self: Tensor) -> Tensor:
    truncated = self.trunc()
    return self.gt(truncated).where(truncated + 1, truncated) if dtypes.is_float(self.dtype) else self


def relu6(self: Tensor) -> Tensor:
    """`Tensor([-1.0, 3.0, 8.0]).relu6().tolist()` -> [0.0, 3.0, 6.0]"""
    return self.relu() - (self - 6).relu()


def leaky_relu(self: Tensor, neg_slope: float = 0.01) -> Tensor:
    """`Tensor([-2.0, 3.0]).leaky_relu(0.5).tolist()` -> [-1.0, 3.0]"""
    return self.lt(0).where(self * neg_slope, self)


def elu(self: Tensor, alpha: float = 1.0) -> Tensor:
    """alpha * (exp(x) - 1) below zero. `Tensor([0.0, 2.0]).elu().tolist()` -> [0.0, 2.0]"""
    return self.relu() - alpha * (1 - self.exp()).relu()


def celu(self: Tensor, alpha: float = 1.0) -> Tensor:
    """`Tensor([0.0, 2.0]).celu().tolist()` -> [0.0, 2.0]"""
    return self.maximum(0) + (alpha * ((self / alpha).exp() - 1)).minimum(0)


def selu(self: Tensor, alpha: float = 1.67326, gamma: float = 1.0507) -> Tensor:
    """Scaled ELU (tinygrad's argument names and rounded constants). `Tensor([0.0]).selu().tolist()` -> [0.0]"""
    return gamma * self.ge(0).where(self, alpha * (self.exp() - 1))


def gelu(self: Tensor) -> Tensor:
    """GELU, tanh approximation like tinygrad (PyTorch's default is the erf form).

    `Tensor([0.0]).gelu().tolist()` -> [0.0]"""
    x = self._float()
    return 0.5 * x * (1 + (math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)).tanh())


def quick_gelu(self: Tensor) -> Tensor:
    """x * sigmoid(1.702 * x). `Tensor([0.0]).quick_gelu().tolist()` -> [0.0]"""
    return self * (self * 1.702).sigmoid()


def silu(self: Tensor) -> Tensor:
    """x * sigmoid(x), also called swish. `Tensor([0.0]).silu().tolist()` -> [0.0]"""
    return self * self.sigmoid()


def swish(self: Tensor) -> Tensor:
    """Same as silu. `Tensor([0.0]).swish().tolist()` -> [0.0]"""
    return self.silu()


def softplus(self: Tensor, beta: float = 1.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, computed without overflow. `Tensor([0.0]).softplus()` -> [0.6931...]"""
    x = self._float() * beta
    return (x.maximum(0) + (-x.abs()).exp().add(1).log()) * (1 / beta)


def logsigmoid(self: Tensor) -> Tensor:
    """log(sigmoid(x)), stable for large |x|. `Tensor([0.0]).logsigmoid()` -> [-0.6931...]"""
    return -(-self).softplus()


def mish(self: Tensor) -> Tensor:
    """x * tanh(softplus(x)). `Tensor([0.0]).mish().tolist()` -> [0.0]"""
    return self * self.softplus().tanh()


def hardtanh(self: Tensor, min_val: float = -1, max_val: float = 1) -> Tensor:
    """`Tensor([-3.0, 0.5, 3.0]).hardtanh().tolist()` -> [-1.0, 0.5, 1.0]"""
    return self.clip(min_val, max_val)


def hardsigmoid(self: Tensor, alpha: float = 1 / 6, beta: float = 0.5) -> Tensor:
    """clip(alpha * x + beta, 0, 1). `Tensor([-4.0, 0.0, 4.0]).hardsigmoid().tolist()` -> [0.0, 0.5, 1.0]"""
    y = alpha * self + beta
    return y.relu() - (y - 1).relu()


def hardswish(self: Tensor) -> Tensor:
    """x * relu6(x + 3) / 6. `Tensor([-4.0, 0.0, 4.0]).hardswish().tolist()` -> [-0.0, 0.0, 4.0]"""
    return self * (self + 3).relu6() * (1 / 6)


def softsign(self: Tensor) -> Tensor:
    """x / (1 + |x|). `Tensor([-1.0, 3.0]).softsign().tolist()` -> [-0.5, 0.75]"""
    return self / (1 + self.abs())


def softmax(self: Tensor, axis: int = -1, dtype: DType | str | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along an axis, stable. `Tensor([0.0, 0.0]).softmax().tolist()` -> [0.5, 0.5]"""
    _, exp, total = self._softmax(axis, dtype)
    return exp / total


def log_softmax(self: Tensor, axis: int = -1, dtype: DType | str | None = None) -> Tensor:
    """log(softmax(x)), stable. `Tensor([0.0, 0.0]).log_softmax()` -> [-0.6931..., -0.6931...]"""
    shifted, _, total = self._softmax(axis, dtype)
    return shifted - total.log()


def _softmax(self: Tensor, axis: int, dtype: DType | str | None) -> tuple[Tensor, Tensor, Tensor]:
    x = self.cast(dtype) if dtype is not None else self._float()
    shifted = x - x.max(axis, keepdim=True).detach()  # the max cancels out of the gradient, so don't track it
    exp = shifted.exp()
    return shifted, exp, exp.sum(axis, keepdim=True)


def logsumexp(self: Tensor, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))), stable. `Tensor([0.0, 0.0]).logsumexp().item()` -> 0.6931..."""
    x = self._float()
    top = x.max(axis, keepdim=True).detach()
    top = top.isinf().where(0, top)  # an all -inf (or inf) row: shifting by it would give nan
    out = (x - top).exp().sum(axis, keepdim=True).log() + top
    if keepdim:
        return out
    axes = self._reduce_axes(axis)
    return out.reshape(tuple(s for i, s in enumerate(self.shape) if i not in axes))


def logaddexp(self: Tensor, x: TensorLike) -> Tensor:
    """log(exp(self) + exp(x)), stable. `Tensor([0.0]).logaddexp(0.0).item()` -> 0.6931..."""
    a, b = self._broadcasted(x, op="logaddexp")
    a, b = a._float(), b._float()
    top = a.maximum(b).detach()
    return ((a - top).exp() + (b - top).exp()).log() + top


def copysign(self: Tensor, other: TensorLike) -> Tensor:
    """|self| with the sign of other (-0.0 counts as negative). `Tensor([2.0]).copysign(-1).tolist()` -> [-2.0]"""
    a, b = self._broadcasted(other, op="copysign", match_dtype=False)
    b = b._float()
    negative = b.lt(0) | (b.eq(0) & b.reciprocal().lt(0))
    magnitude = a._float().abs()
    return negative.where(-magnitude, magnitude)


def erf(self: Tensor) -> Tensor:
    """The error function (Abramowitz-Stegun 7.1.26, error < 2e-7). `Tensor([0.0]).erf().tolist()` -> [0.0]"""
    x = self._float()
    magnitude = x.lt(0).where(-x, x)
    t = 1 / (1 + 0.3275911 * magnitude)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    result = 1 - poly * (-magnitude * magnitude).exp()
    return x.lt(0).where(-result, result)


def round(self: Tensor) -> Tensor:
    """Round half to even, like numpy and PyTorch. `Tensor([0.5, 1.5, 2.5]).round().tolist()` -> [0.0, 2.0, 2.0]"""
    if not dtypes.is_float(self.dtype):
        return self
    floor = self.floor()
    fraction = self - floor
    up = fraction.gt(0.5) | (fraction.eq(0.5) & floor.mod(2).ne(0))
    return up.where(floor + 1, floor)


def isinf(self: Tensor, detect_positive: bool = True, detect_negative: bool = True) -> Tensor:
    """`Tensor([1.0, float("inf"), float("-inf")]).isinf().tolist()` -> [False, True, True]"""
    out = self.full(self.shape, False, dtype=dtypes.bool, device=self.device)
    if not dtypes.is_float(self.dtype):
        return out
    if detect_positive:
        out = out | self.eq(math.inf)
    if detect_negative:
        out = out | self.eq(-math.inf)
    return out


def isnan(self: Tensor) -> Tensor:
    """`Tensor([1.0, float("nan")]).isnan().tolist()` -> [False, True]"""
    return self.ne(self)


def isfinite(self: Tensor) -> Tensor:
    """`Tensor([1.0, float("inf"), float("nan")]).isfinite().tolist()` -> [True, False, False]"""
    return (self.isinf() | self.isnan()).logical_not()


def isclose(
    self: Tensor, other: TensorLike, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Tensor:
    """|self - other| <= atol + rtol * |other|, both finite, or equal.

    `Tensor([1.0, 2.0]).isclose(Tensor([1.0, 2.1])).tolist()` -> [True, False]"""
    a, b = self._broadcasted(other, op="isclose")
    close = (a - b).abs().le(atol + rtol * b.abs()) & a.isfinite() & b.isfinite()
    out = a.eq(b) | close
    return out | (a.isnan() & b.isnan()) if equal_nan else out


def sinh(self: Tensor) -> Tensor:
    """`Tensor([0.0]).sinh().tolist()` -> [0.0]"""
    return (self.exp() - (-self).exp()) * 0.5


def cosh(self: Tensor) -> Tensor:
    """`Tensor([0.0]).cosh().tolist()` -> [1.0]"""
    return (self.exp() + (-self).exp()) * 0.5


def asinh(self: Tensor) -> Tensor:
    """`Tensor([0.0]).asinh().tolist()` -> [0.0]"""
    x = self._float()
    magnitude = x.lt(0).where(-x, x)  # odd symmetry keeps large negative inputs free of cancellation
    result = (magnitude + (magnitude * magnitude + 1).sqrt()).log()
    return x.lt(0).where(-result, result)


def acosh(self: Tensor) -> Tensor:
    """For x >= 1. `Tensor([1.0]).acosh().tolist()` -> [0.0]"""
    x = self._float()
    return (x + (x * x - 1).sqrt()).log()


def atanh(self: Tensor) -> Tensor:
    """For |x| < 1. `Tensor([0.0]).atanh().tolist()` -> [0.0]"""
    x = self._float()
    return ((1 + x) / (1 - x)).log() * 0.5


def asin(self: Tensor) -> Tensor:
    """Arcsine, as atan(x / sqrt(1 - x^2)). `Tensor([1.0]).asin().item()` -> 1.5707..."""
    x = self._float()
    return (x / ((1 - x) * (1 + x)).sqrt()).atan()


def acos(self: Tensor) -> Tensor:
    """Arccosine, as 2 atan(sqrt((1 - x) / (1 + x))), accurate near 1. `Tensor([1.0]).acos().tolist()` -> [0.0]"""
    x = self._float()
    return ((1 - x) / (1 + x)).sqrt().atan() * 2


def atan(self: Tensor) -> Tensor:
    """Arctangent (Abramowitz-Stegun 4.4.49 polynomial, error < 2e-8). `Tensor([0.0]).atan().tolist()` -> [0.0]"""
    x = self._float()
    magnitude = x.lt(0).where(-x, x)
    big = magnitude.gt(1)
    # atan(a) = pi/2 - atan(1/a) keeps the polynomial on [0, 1]; the inner where keeps 1/0 out of gradients
    t = big.where(1 / big.where(magnitude, 1), magnitude)
    square = t * t
    poly = square * 0.0028662257
    for c in (-0.0161657367, 0.0429096138, -0.0752896400, 0.1065626393, -0.1420889944, 0.1999355085, -0.3333314528):
        poly = (poly + c) * square
    small = t * (poly + 1)
    result = big.where(math.pi / 2 - small, small)
    return x.lt(0).where(-result, result)


class MathMixin:
    """Tensor's math methods: the functions above, bound by Tensor, which inherits this class."""

    relu = relu
    exp = exp
    exp2 = exp2
    log = log
    log2 = log2
    log10 = log10
    sqrt = sqrt
    rsqrt = rsqrt
    sin = sin
    cos = cos
    tan = tan
    sigmoid = sigmoid
    tanh = tanh
    abs = abs
    sign = sign
    square = square
    trunc = trunc
    floor = floor
    ceil = ceil
    relu6 = relu6
    leaky_relu = leaky_relu
    elu = elu
    celu = celu
    selu = selu
    gelu = gelu
    quick_gelu = quick_gelu
    silu = silu
    swish = swish
    softplus = softplus
    logsigmoid = logsigmoid
    mish = mish
    hardtanh = hardtanh
    hardsigmoid = hardsigmoid
    hardswish = hardswish
    softsign = softsign
    softmax = softmax
    log_softmax = log_softmax
    _softmax = _softmax
    logsumexp = logsumexp
    logaddexp = logaddexp
    copysign = copysign
    erf = erf
    round = round
    isinf = isinf
    isnan = isnan
    isfinite = isfinite
    isclose = isclose
    sinh = sinh
    cosh = cosh
    asinh = asinh
    acosh = acosh
    atanh = atanh
    asin = asin
    acos = acos
    atan = atan
