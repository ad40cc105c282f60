"""Autodiff on Tensors: `apply` runs a function.py Function and records it, and backward()/gradient() walk the
recorded graph (the grad-mode rule is in function.py's docstring and docs/architecture.md)."""

from __future__ import annotations

import math
import typing
from typing import TYPE_CHECKING, Any

from tinygrad_core import function as F
from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.errors import ShapeError
from tinygrad_core.helpers import toposort
from tinygrad_core.lazy import LazyBuffer
from tinygrad_core.multi import MultiLazyBuffer
from tinygrad_core.ops import Ops

if TYPE_CHECKING:
    from tinygrad_core.tensor.tensor import Tensor


_DIFFERENTIABLE: dict[Ops, type[F.Function]] = {
    Ops.ADD: F.Add,
    Ops.MUL: F.Mul,
    Ops.MAX: F.Maximum,
    Ops.WHERE: F.Where,
    Ops.SIN: F.Sin,
    Ops.SQRT: F.Sqrt,
    Ops.RECIP: F.Reciprocal,
}


def apply(fn: type[F.Function], *xs: Tensor, **kwargs: Any) -> Tensor:
    """Run the Function `fn` on the tensors' LazyBuffers and wrap the result in a Tensor, recording `fn`'s context
    on it when any input takes part in autodiff (and no_grad is off): the one place the autodiff graph grows.
    Every op goes through here, so it is written for speed: plain loops, no generators."""
    ctx = fn(*xs)
    inputs = tuple([x.lazydata for x in xs])
    lazy = ctx.forward(*inputs, **kwargs)
    if ctx.requires_grad and not F.GradMode.no_grad():
        # tracked (True) while training or when an input asked for it, else kept until realized (None)
        requires_grad: bool | None = True if F.GradMode.training() else None
        for x in xs:
            if x.requires_grad is True:
                requires_grad = True
        out = type(xs[0])(lazy, requires_grad=requires_grad)
        out._ctx = ctx
        ctx.inputs, ctx.output = inputs, lazy
        return out
    requires_grad = False
    for x in xs:
        if x.requires_grad is not False:
            requires_grad = None
    return type(xs[0])(lazy, requires_grad=requires_grad)


def _toposort(self: Tensor) -> list[Tensor]:
    """Self and every tensor it was computed from through edges that take part in autodiff, inputs first."""

    def inputs(node: Tensor) -> list[Tensor]:
        ctx = node._ctx
        return [] if ctx is None else [p for p, needed in zip(ctx.parents, ctx.needs_input_grad) if needed]

    return toposort([self], inputs)


def _gradients(self: Tensor, grad: Tensor, record: bool) -> tuple[list[Tensor], dict[int, Any]]:
    """The graph behind self (see _toposort) and d(self)/d(node) for each node a nonzero gradient reaches: as
    LazyBuffers, or with `record` as _Recorded Tensors, themselves differentiable (gradients of gradients)."""
    order = self._toposort()
    grads: dict[int, Any] = {id(self): _Recorded(grad) if record else grad.lazydata}
    for node in reversed(order):
        ctx = node._ctx
        if ctx is None or id(node) not in grads:
            continue
        assert ctx.output is not None
        if record:
            inputs = tuple(_Recorded.of(parent, lazy) for parent, lazy in zip(ctx.parents, ctx.inputs))
            results = ctx.backward(grads[id(node)], inputs, _Recorded.of(node, ctx.output))
        else:
            results = ctx.backward(grads[id(node)], ctx.inputs, ctx.output)
        if not isinstance(results, tuple):
            results = (results,)
        for parent, needed, g in zip(ctx.parents, ctx.needs_input_grad, results):
            if g is None or not needed:
                continue
            if g.shape != parent.shape:
                raise RuntimeError(f"internal: gradient of shape {g.shape} for a tensor of shape {parent.shape}")
            previous = grads.get(id(parent))
            grads[id(parent)] = g if previous is None else previous.alu(Ops.ADD, g)
    return order, grads


def _seed_grad(self: Tensor, gradient: Tensor | None, op: str) -> Tensor:
    if not F.takes_part(self):
        raise RuntimeError(
            f"{op}() on a tensor that is not part of an autodiff graph (requires_grad=False, computed under "
            "no_grad, or realized with training off, which drops the graph): set `Tensor.training = True` or "
            "create the inputs with requires_grad=True before computing it"
        )
    if not dtypes.is_float(self.dtype):
        raise RuntimeError(f"{op}() needs a floating-point tensor, got {self.dtype}")
    if gradient is None:
        if self.numel() != 1:
            raise RuntimeError(
                f"{op}() on a tensor of shape {self.shape} needs a gradient argument; "
                "reduce it to one element first (e.g. .sum())"
            )
        return self.ones(self.shape, dtype=self.dtype, device=self.device)
    if gradient.shape != self.shape:
        raise ShapeError(f"{op}: gradient shape {gradient.shape} does not match tensor shape {self.shape}")
    return gradient


def backward(self: Tensor, gradient: Tensor | None = None, create_graph: bool = False) -> Tensor:
    """Accumulate d(self)/d(t) into t.grad for every tensor t of the graph behind self, leaves and intermediate
    results alike (tinygrad's rule; PyTorch keeps only the leaves'); a tensor reached only through ops without a
    gradient (comparisons, rounding) gets zeros. With create_graph the .grad tensors are differentiable too.

    `x = Tensor([1.0, 2.0], requires_grad=True); (x * 2).sum().backward(); x.grad.tolist()` -> [2.0, 2.0]"""
    order, grads = self._gradients(self._seed_grad(gradient, "backward"), record=create_graph)
    for tensor in order:
        g = _as_tensor(grads.get(id(tensor)), tensor)
        if not create_graph:
            g = g.detach()
        tensor.grad = g if tensor.grad is None else tensor.grad + g
    return self


def gradient(
    self,
    *targets: Tensor,
    gradient: Tensor | None = None,
    materialize_grads: bool = False,
    create_graph: bool = True,
) -> list[Tensor]:
    """d(self)/d(target) for each target in the graph behind self, leaving .grad untouched. A target reached only
    through ops without a gradient gets zeros; one not in the graph is an error, or zeros with materialize_grads.
    The results are differentiable in turn (create_graph, tinygrad's behaviour), so gradients of gradients work.

    `x = Tensor([3.0], requires_grad=True); (x * x).sum().gradient(x)[0].tolist()` -> [6.0]"""
    order, grads = self._gradients(self._seed_grad(gradient, "gradient"), record=create_graph)
    reached = {id(t) for t in order}
    out = []
    for target in targets:
        if id(target) not in grads and id(target) not in reached and not materialize_grads:
            raise RuntimeError(
                f"gradient: a target of shape {target.shape} is not part of the graph of this tensor "
                "(was it used to compute it, with Tensor.training on or requires_grad=True?); "
                "materialize_grads=True gives zeros instead"
            )
        g = _as_tensor(grads.get(id(target)), target)
        out.append(g if create_graph else g.detach())
    return out


def retain_grad(self: Tensor) -> Tensor:
    """PyTorch's request to keep a non-leaf's .grad: here every tensor of the graph keeps it. Returns self."""
    return self


def train(cls: type[Tensor], mode: bool = True) -> F.ThreadOverride:
    """`with Tensor.train():` (or `@Tensor.train()`) turns training on in this thread for the block."""
    return F.ThreadOverride("training", mode)


class _Recorded:
    """A Tensor behind the LazyBuffer interface that function.py's backward rules use (alu, r, const_like, cast and
    the movement ops), each method an op of the autodiff graph: the rules then build a differentiable gradient."""

    __slots__ = ("t",)

    def __init__(self, t: Tensor):
        self.t = t

    @staticmethod
    def of(tensor: Tensor, lazy: LazyBuffer) -> _Recorded:
        """`tensor` if it still holds `lazy` (what the op saw), else those values cut from the graph."""
        return _Recorded(
            tensor if tensor.lazydata is lazy else type(tensor)(lazy, device=lazy.device, requires_grad=False)
        )

    @property
    def shape(self) -> tuple[int, ...]:
        return self.t.shape

    @property
    def dtype(self) -> DType:
        return self.t.dtype

    def alu(self, op: Ops, *others: _Recorded) -> _Recorded:
        x, rest = self.t, [o.t for o in others]
        if op is Ops.NEG and x.dtype != dtypes.bool:
            return _Recorded(apply(F.Neg, x))
        if op is Ops.EXP2:
            return _Recorded(apply(F.Exp, x * math.log(2)))
        if op is Ops.LOG2:
            return _Recorded(apply(F.Log, x) * (1 / math.log(2)))
        if op in _DIFFERENTIABLE and dtypes.is_float(rest[-1].dtype if rest else x.dtype):
            return _Recorded(apply(_DIFFERENTIABLE[op], x, *rest))
        return _Recorded(apply(F.NoGrad, x, *rest, result=x.lazydata.alu(op, *(r.lazydata for r in rest))))

    def const_like(self, value: Any) -> _Recorded:
        lazy = self.t.lazydata.const_like(value)
        return _Recorded(type(self.t)(lazy, device=lazy.device, requires_grad=False))

    def cast(self, dtype: DType, bitcast: bool = False) -> _Recorded:
        return self if dtype == self.t.dtype else _Recorded(apply(F.Cast, self.t, dtype=dtype, bitcast=bitcast))

    def r(self, op: Ops, axes: tuple[int, ...]) -> _Recorded:
        return _Recorded(apply(F.Sum if op is Ops.SUM else F.Max, self.t, axis=axes))

    def contiguous(self, force: bool = False) -> _Recorded:
        return _Recorded(apply(F.Contiguous, self.t))

    def expand(self, shape: tuple[int, ...]) -> _Recorded:
        return self if tuple(shape) == self.shape else _Recorded(apply(F.Expand, self.t, shape=tuple(shape)))

    def reshape(self, shape: tuple[int, ...]) -> _Recorded:
        return self if tuple(shape) == self.shape else _Recorded(apply(F.Reshape, self.t, shape=tuple(shape)))

    def permute(self, order: tuple[int, ...]) -> _Recorded:
        return _Recorded(apply(F.Permute, self.t, order=tuple(order)))

    def pad(self, padding: tuple[tuple[int, int], ...]) -> _Recorded:
        return _Recorded(apply(F.Pad, self.t, padding=tuple(padding)))

    def shrink(self, bounds: tuple[tuple[int, int], ...]) -> _Recorded:
        return _Recorded(apply(F.Shrink, self.t, bounds=tuple(bounds)))

    def flip(self, axes: tuple[int, ...]) -> _Recorded:
        return _Recorded(apply(F.Flip, self.t, axes=tuple(axes)))


def _as_tensor(grad: Any, like: Tensor) -> Tensor:
    """A gradient from Tensor._gradients as a Tensor; None (nothing reached `like`) becomes zeros."""
    if grad is None:
        return type(like)(like.lazydata.const_like(0), device=like.device, requires_grad=False)
    if isinstance(grad, MultiLazyBuffer):  # a gradient in the layout of its tensor (sharded or replicated)
        grad = grad.like(typing.cast(MultiLazyBuffer, like.lazydata))
    return grad.t if isinstance(grad, _Recorded) else type(like)(grad, device=like.device, requires_grad=False)


class AutodiffMixin:
    """Tensor's autodiff methods: the functions above, bound by Tensor, which inherits this class."""

    _toposort = _toposort
    _gradients = _gradients
    _seed_grad = _seed_grad
    backward = backward
    gradient = gradient
    retain_grad = retain_grad
    train = classmethod(train)
