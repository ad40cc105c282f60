"""One Function per differentiable primitive: forward() and backward() side by side, over LazyBuffers.

backward(grad, inputs, output) receives the gradient of the output, the inputs and the output (as they were when
the op ran) and returns one gradient per input (None where none is needed). The rules are written against the
LazyBuffer interface only (alu, r, const_like, cast, movement): the first-order pass hands them LazyBuffers and
builds no autodiff graph; with create_graph (Tensor.gradient's default) it hands them Tensors behind the same
interface, so the gradient is itself differentiable (tensor.py's _Recorded).
Non-differentiable primitives (comparisons, bit ops, IDIV, MOD) go through NoGrad: they record their inputs, so
a gradient can tell "reached through zero-gradient ops" (zeros) from "not in this graph" (an error).

Which ops record their autodiff context (the grad mode): every op over a floating-point input whose requires_grad
is not False, unless `no_grad` is on; the output of an op that records takes part in turn, whatever its dtype. An
output is tracked (requires_grad=True) while training is on (`Tensor.training = True`, `with Tensor.train():`) or when
an input has requires_grad=True; otherwise (requires_grad=None, "differentiable when asked") its graph is kept only
until the tensor is realized: Tensor.realize() drops it, so an inference loop keeps no history of old tensors. The
process-wide defaults are what `Tensor.training = ...` and `Tensor.no_grad = ...` set; the context managers override
them for the current thread.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
from typing import TYPE_CHECKING, Any

from tinygrad_core.dtype import FLOAT_SET as FLOATS
from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.lazy import LazyBuffer
from tinygrad_core.ops import Ops

if TYPE_CHECKING:
    from tinygrad_core.tensor import Tensor

Value = Any  # a LazyBuffer, or a Tensor behind the LazyBuffer interface (see the module docstring)
Grad = Value | None


# --- grad mode: process-wide defaults, overridden per thread by the context managers ---
class _ThreadMode(threading.local):
    training: bool | None = None  # None: follow the process-wide default
    no_grad: bool | None = None


class GradMode:
    """`Tensor.training` and `Tensor.no_grad` read and set these; see the module docstring."""

    training_default = False
    no_grad_default = False
    thread = _ThreadMode()

    @staticmethod
    def training() -> bool:
        value = GradMode.thread.training
        return GradMode.training_default if value is None else value

    @staticmethod
    def no_grad() -> bool:
        value = GradMode.thread.no_grad
        return GradMode.no_grad_default if value is None else value


class ThreadOverride(contextlib.ContextDecorator):
    """A context manager (and decorator) that sets one grad-mode switch for the current thread only."""

    def __init__(self, name: str, value: bool):
        self.name, self.value = name, value
        self._previous: list[bool | None] = []

    def _recreate_cm(self) -> ThreadOverride:
        return ThreadOverride(self.name, self.value)  # as a decorator: one per call, so threads never share one

    def __enter__(self) -> None:
        self._previous.append(getattr(GradMode.thread, self.name))
        setattr(GradMode.thread, self.name, self.value)

    def __exit__(self, *exc_info: object) -> None:
        setattr(GradMode.thread, self.name, self._previous.pop())


def takes_part(tensor: Tensor) -> bool:
    """Whether ops on `tensor` record how to differentiate through it: see the module docstring."""
    return tensor._ctx is not None or (tensor.requires_grad is not False and tensor.lazydata.dtype in FLOATS)


class Function:
    def __init__(self, *tensors: Tensor):
        self.needs_input_grad = needs = [takes_part(t) for t in tensors]
        self.requires_grad = True in needs
        self.parents: tuple[Tensor, ...] = tensors
        # set when the context is recorded: the inputs and output as LazyBuffers, as they were when the op ran
        self.inputs: tuple[LazyBuffer, ...] = ()
        self.output: LazyBuffer | None = None

    def forward(self, *args: Any, **kwargs: Any) -> LazyBuffer:
        raise NotImplementedError(f"forward not implemented for {type(self).__name__}")

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad | tuple[Grad, ...]:
        raise RuntimeError(f"backward not implemented for {type(self).__name__}")


class NoGrad(Function):
    """An op with no gradient (comparisons, rounding, bit ops): the result is built by the caller and passed in as
    `result`; backward gives every input None, which gradient() turns into zeros for targets it reaches."""

    def forward(self, *xs: LazyBuffer, result: LazyBuffer) -> LazyBuffer:
        self.count = len(xs)
        return result

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> tuple[Grad, ...]:
        return (None,) * self.count


# --- unary ---
class Contiguous(Function):
    def forward(self, x: LazyBuffer, clone: bool = False) -> LazyBuffer:
        return x.clone() if clone else x.contiguous(force=True)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        return grad


class ContiguousBackward(Function):
    def forward(self, x: LazyBuffer) -> LazyBuffer:
        return x

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        return grad.contiguous(force=True)


class Cast(Function):
    def forward(self, x: LazyBuffer, dtype: DType, bitcast: bool = False) -> LazyBuffer:
        self.input_dtype, self.bitcast = x.dtype, bitcast
        return x.cast(dtype, bitcast)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        if self.bitcast:
            raise RuntimeError("bitcast has no gradient")
        if not (dtypes.is_float(self.input_dtype) and dtypes.is_float(grad.dtype)):
            return None  # through an integer or bool value no gradient flows (PyTorch's and tinygrad's rule)
        return grad.cast(self.input_dtype)


class Neg(Function):
    def forward(self, x: LazyBuffer) -> LazyBuffer:
        return x.alu(Ops.NEG)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        return grad.alu(Ops.NEG)


class Reciprocal(Function):
    def forward(self, x: LazyBuffer) -> LazyBuffer:
        return x.alu(Ops.RECIP)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        return grad.alu(Ops.NEG).alu(Ops.MUL, output).alu(Ops.MUL, output)


class Sin(Function):
    def forward(self, x: LazyBuffer) -> LazyBuffer:
        return x.alu(Ops.SIN)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        (x,) = inputs
        # cos(x) = sin(pi/2 - x)
        cos = x.const_like(math.pi / 2).alu(Ops.ADD, x.alu(Ops.NEG)).alu(Ops.SIN)
        return cos.alu(Ops.MUL, grad)


class Relu(Function):
    def forward(self, x: LazyBuffer) -> LazyBuffer:
        return x.alu(Ops.MAX, x.const_like(0))

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        positive = output.const_like(0).alu(Ops.CMPLT, output)
        return positive.alu(Ops.WHERE, grad, grad.const_like(0))


class Log(Function):
    def forward(self, x: LazyBuffer) -> LazyBuffer:
        return x.alu(Ops.LOG2).alu(Ops.MUL, x.const_like(math.log(2)))

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        (x,) = inputs
        return grad.alu(Ops.MUL, x.alu(Ops.RECIP))


class Exp(Function):
    def forward(self, x: LazyBuffer) -> LazyBuffer:
        return x.alu(Ops.MUL, x.const_like(1 / math.log(2))).alu(Ops.EXP2)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        return output.alu(Ops.MUL, grad)


class Sqrt(Function):
    def forward(self, x: LazyBuffer) -> LazyBuffer:
        return x.alu(Ops.SQRT)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        return grad.alu(Ops.MUL, output.alu(Ops.MUL, output.const_like(2)).alu(Ops.RECIP))


class Sigmoid(Function):
    def forward(self, x: LazyBuffer) -> LazyBuffer:
        # 1 / (1 + 2^(-x * log2(e)))
        exp = x.alu(Ops.MUL, x.const_like(-1 / math.log(2))).alu(Ops.EXP2)
        return exp.alu(Ops.ADD, x.const_like(1)).alu(Ops.RECIP)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        one_minus = output.const_like(1).alu(Ops.ADD, output.alu(Ops.NEG))
        return output.alu(Ops.MUL, one_minus).alu(Ops.MUL, grad)


# --- binary ---
class Add(Function):
    def forward(self, x: LazyBuffer, y: LazyBuffer) -> LazyBuffer:
        return x.alu(Ops.ADD, y)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> tuple[Grad, Grad]:
        return grad if self.needs_input_grad[0] else None, grad if self.needs_input_grad[1] else None


class Sub(Function):
    def forward(self, x: LazyBuffer, y: LazyBuffer) -> LazyBuffer:
        return x.alu(Ops.ADD, y.alu(Ops.NEG))

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> tuple[Grad, Grad]:
        return grad if self.needs_input_grad[0] else None, grad.alu(Ops.NEG) if self.needs_input_grad[1] else None


class Mul(Function):
    def forward(self, x: LazyBuffer, y: LazyBuffer) -> LazyBuffer:
        return x.alu(Ops.MUL, y)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> tuple[Grad, Grad]:
        x, y = inputs
        return (
            y.alu(Ops.MUL, grad) if self.needs_input_grad[0] else None,
            x.alu(Ops.MUL, grad) if self.needs_input_grad[1] else None,
        )


class Div(Function):
    def forward(self, x: LazyBuffer, y: LazyBuffer) -> LazyBuffer:
        return x.alu(Ops.MUL, y.alu(Ops.RECIP))

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> tuple[Grad, Grad]:
        x, y = inputs
        grad_x = grad.alu(Ops.MUL, y.alu(Ops.RECIP)) if self.needs_input_grad[0] else None
        grad_y = None
        if self.needs_input_grad[1]:
            y_squared = y.alu(Ops.MUL, y)
            grad_y = grad.alu(Ops.NEG).alu(Ops.MUL, x).alu(Ops.MUL, y_squared.alu(Ops.RECIP))
        return grad_x, grad_y


class Maximum(Function):
    def forward(self, x: LazyBuffer, y: LazyBuffer) -> LazyBuffer:
        return x.alu(Ops.MAX, y)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> tuple[Grad, Grad]:
        x, y = inputs
        # ties split the gradient evenly, like PyTorch
        x_wins = x.alu(Ops.CMPNE, output).alu(Ops.NEG).cast(grad.dtype)
        y_wins = y.alu(Ops.CMPNE, output).alu(Ops.NEG).cast(grad.dtype)
        share = x_wins.alu(Ops.ADD, y_wins).alu(Ops.RECIP).alu(Ops.MUL, grad)
        return (
            x_wins.alu(Ops.MUL, share) if self.needs_input_grad[0] else None,
            y_wins.alu(Ops.MUL, share) if self.needs_input_grad[1] else None,
        )


class Where(Function):
    def forward(self, cond: LazyBuffer, x: LazyBuffer, y: LazyBuffer) -> LazyBuffer:
        return cond.alu(Ops.WHERE, x, y)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> tuple[Grad, Grad, Grad]:
        cond = inputs[0]
        zero = grad.const_like(0)
        return (
            None,
            cond.alu(Ops.WHERE, grad, zero) if self.needs_input_grad[1] else None,
            cond.alu(Ops.WHERE, zero, grad) if self.needs_input_grad[2] else None,
        )


class Pow(Function):
    """base ** exponent for floats, with PyTorch's gradient rules at the edges: d/dbase is 0 where the exponent is 0,
    d/dexponent is 0 where the base is 0 and the exponent non-negative (0 ** y), nan for negative bases."""

    def forward(self, base: LazyBuffer, exponent: LazyBuffer) -> LazyBuffer:
        return power(base, exponent)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> tuple[Grad, Grad]:
        base, exponent = inputs
        grad_base = grad_exponent = None
        if self.needs_input_grad[0]:
            slope = exponent.alu(Ops.MUL, power(base, exponent.alu(Ops.ADD, exponent.const_like(-1))))
            grad_base = _equal(exponent, 0).alu(Ops.WHERE, grad.const_like(0), slope.alu(Ops.MUL, grad))
        if self.needs_input_grad[1]:
            zero_base = _equal(base, 0).alu(Ops.AND, exponent.alu(Ops.CMPLT, exponent.const_like(0)).alu(Ops.NEG))
            slope = output.alu(Ops.MUL, _log(base))
            grad_exponent = zero_base.alu(Ops.WHERE, grad.const_like(0), slope.alu(Ops.MUL, grad))
        return grad_base, grad_exponent


def _log(x: Value) -> Value:
    return x.alu(Ops.LOG2).alu(Ops.MUL, x.const_like(math.log(2)))


def _equal(x: Value, value: float) -> Value:
    return x.alu(Ops.CMPNE, x.const_like(value)).alu(Ops.NEG)


def power(base: Value, exponent: Value) -> Value:
    """base ** exponent for floats of one shape: exp(exponent * log|base|), then the sign for negative bases (odd
    integer exponents flip it, non-integer ones give nan but for -inf) and 1 wherever the exponent is 0 (0 ** 0 too)."""
    magnitude = base.alu(Ops.MAX, base.alu(Ops.NEG))
    logged = exponent.alu(Ops.MUL, _log(magnitude)).alu(Ops.MUL, base.const_like(1 / math.log(2))).alu(Ops.EXP2)
    truncated = exponent.alu(Ops.TRUNC)
    integer = truncated.alu(Ops.CMPNE, exponent).alu(Ops.NEG)
    halved = truncated.alu(Ops.MUL, exponent.const_like(0.5))
    odd = integer.alu(Ops.AND, halved.alu(Ops.TRUNC).alu(Ops.CMPNE, halved))
    negative = base.alu(Ops.CMPLT, base.const_like(0))
    signed = negative.alu(Ops.AND, odd).alu(Ops.WHERE, logged.alu(Ops.NEG), logged)
    # a finite negative base to a non-integer power is nan; -inf to one is inf or 0, as C's pow gives
    finite = base.alu(Ops.CMPNE, base.const_like(-math.inf))
    complex_result = negative.alu(Ops.AND, integer.alu(Ops.NEG)).alu(Ops.AND, finite)
    signed = complex_result.alu(Ops.WHERE, base.const_like(math.nan), signed)
    return _equal(exponent, 0).alu(Ops.WHERE, base.const_like(1), signed)


# --- reduce ---
class Sum(Function):
    def forward(self, x: LazyBuffer, axis: tuple[int, ...]) -> LazyBuffer:
        self.input_shape = x.shape
        return x.r(Ops.SUM, axis)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        return grad.expand(self.input_shape)


class Max(Function):
    def forward(self, x: LazyBuffer, axis: tuple[int, ...]) -> LazyBuffer:
        self.axis = axis
        return x.r(Ops.MAX, axis)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        (x,) = inputs
        # the gradient goes to every maximal element, split evenly among ties
        is_max = x.alu(Ops.CMPNE, output.expand(x.shape)).alu(Ops.NEG).cast(grad.dtype)
        count = is_max.r(Ops.SUM, self.axis).expand(x.shape)
        return is_max.alu(Ops.MUL, count.alu(Ops.RECIP)).alu(Ops.MUL, grad.expand(x.shape))


# --- movement ---
class Reshape(Function):
    def forward(self, x: LazyBuffer, shape: tuple[int, ...]) -> LazyBuffer:
        self.input_shape = x.shape
        return x.reshape(shape)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        return grad.reshape(self.input_shape)


class Expand(Function):
    """Broadcast to `shape`; the input may have fewer dims (taken as leading 1s), so one op adds and expands them."""

    def forward(self, x: LazyBuffer, shape: tuple[int, ...]) -> LazyBuffer:
        self.input_shape, self.dtype = x.shape, x.dtype
        x = x.reshape((1,) * (len(shape) - len(x.shape)) + x.shape)
        self.axes = tuple(i for i, (old, new) in enumerate(zip(x.shape, shape)) if old != new)
        return x.expand(shape)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        # sum low-precision gradients in float32 so broadcasting over many elements stays accurate
        wide = dtypes.float32 if self.dtype in (dtypes.float16, dtypes.bfloat16) else grad.dtype
        return grad.cast(wide).r(Ops.SUM, self.axes).cast(grad.dtype).reshape(self.input_shape)


class Permute(Function):
    def forward(self, x: LazyBuffer, order: tuple[int, ...]) -> LazyBuffer:
        self.order = order
        return x.permute(order)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        inverse = tuple(sorted(range(len(self.order)), key=self.order.__getitem__))
        return grad.permute(inverse)


class Pad(Function):
    def forward(self, x: LazyBuffer, padding: tuple[tuple[int, int], ...]) -> LazyBuffer:
        self.bounds = tuple((before, before + size) for (before, _), size in zip(padding, x.shape))
        return x.pad(padding)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        return grad.shrink(self.bounds)


class Shrink(Function):
    def forward(self, x: LazyBuffer, bounds: tuple[tuple[int, int], ...]) -> LazyBuffer:
        self.padding = tuple((lo, size - hi) for (lo, hi), size in zip(bounds, x.shape))
        return x.shrink(bounds)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        return grad.pad(self.padding)


class Flip(Function):
    def forward(self, x: LazyBuffer, axes: tuple[int, ...]) -> LazyBuffer:
        self.axes = axes
        return x.flip(axes)

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        return grad.flip(self.axes)


class Windows(Function):
    """Overlapping sliding windows (Tensor._pool): tensor.py builds the forward as views, this gives its gradient.

    Differentiating that view chain (repeat, reshape, shrink) would fold the windows' gradient back through a stack
    of views, with division and modulo in every index. Instead, each kernel offset's slice of the gradient is put
    back where it was read from, a pad (with zeros between its elements for a stride), and the slices are added in
    one kernel."""

    def forward(
        self,
        x: LazyBuffer,
        windows: LazyBuffer,
        kernel: tuple[int, ...],
        stride: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> LazyBuffer:
        self.spatial = x.shape[len(x.shape) - len(kernel) :]
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        return windows

    def backward(self, grad: Value, inputs: tuple[Value, ...], output: Value) -> Grad:
        dims = len(self.kernel)
        n = len(grad.shape) - 2 * dims  # (*prefix, *out, *kernel)
        outer = grad.shape[: n + dims]
        keep = tuple((0, size) for size in outer)
        total: Value = None
        for offsets in itertools.product(*(range(k) for k in self.kernel)):
            piece = grad.shrink(keep + tuple((j, j + 1) for j in offsets)).reshape(outer)
            for axis, j, s, d, i in zip(range(n, n + dims), offsets, self.stride, self.dilation, self.spatial):
                piece = _spread(piece, axis, s)
                before = j * d
                after = i - before - piece.shape[axis]
                piece = piece.pad(tuple((before, after) if a == axis else (0, 0) for a in range(len(outer))))
            total = piece if total is None else total.alu(Ops.ADD, piece)
        assert total is not None
        # a buffer of its own: inlined, every reader (often through a broadcast) would redo all the slices' loads
        return total.contiguous(force=True)


def _spread(x: Value, axis: int, step: int) -> Value:
    """`step - 1` zeros between neighbours along `axis`: length o becomes (o - 1) * step + 1."""
    if step == 1:
        return x
    shape, size = x.shape, x.shape[axis]
    x = x.reshape(shape[:axis] + (size, 1) + shape[axis + 1 :])
    x = x.pad(tuple((0, step - 1) if a == axis + 1 else (0, 0) for a in range(len(shape) + 1)))
    x = x.reshape(shape[:axis] + (size * step,) + shape[axis + 1 :])
    return x.shrink(tuple((0, (size - 1) * step + 1) if a == axis else (0, n) for a, n in enumerate(x.shape)))
