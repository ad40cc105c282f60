"""Tensor, the user's API: a lazily evaluated, differentiable n-dimensional array. This module holds the class
itself (construction, reading values back, devices, assign, the operators); its other methods live in the modules
of this package by concern (creation, movement, indexing, elementwise, math, reduce, nn, loss, autodiff), each
written in terms of function.py's primitives, so backends only see those."""

from __future__ import annotations

import math
import typing
from collections.abc import Iterator
from typing import Any, ClassVar, Union

import numpy as np

from tinygrad_core import function as F
from tinygrad_core.devices import Device
from tinygrad_core.dtype import DType, dtypes, to_dtype
from tinygrad_core.errors import ArgumentError, ShapeError
from tinygrad_core.lazy import LazyBuffer
from tinygrad_core.multi import MultiLazyBuffer
from tinygrad_core.ops import Ops
from tinygrad_core.schedule import realize
from tinygrad_core.tensor.autodiff import AutodiffMixin, apply
from tinygrad_core.tensor.checks import flags_to_realize, verify
from tinygrad_core.tensor.creation import CreationMixin
from tinygrad_core.tensor.elementwise import ElementwiseMixin
from tinygrad_core.tensor.indexing import IndexingMixin, _write_through
from tinygrad_core.tensor.interop import InteropMixin, from_dlpack_host
from tinygrad_core.tensor.loss import LossMixin
from tinygrad_core.tensor.math import MathMixin
from tinygrad_core.tensor.movement import MovementMixin
from tinygrad_core.tensor.multi import MultiMixin, gathered_numpy, multi_data, to_devices
from tinygrad_core.tensor.nn import NnMixin
from tinygrad_core.tensor.reduce import ReduceMixin

Scalar = int | float | bool
TensorLike = Union["Tensor", Scalar]


class _BuiltinNamedCasts:
    """Tensor.float(), .int() and .bool(), tinygrad's and PyTorch's names. They live outside Tensor's class body: in
    there they would shadow the builtins in every annotation of the class (type checkers resolve names there first)."""

    def float(self) -> Tensor:
        return typing.cast(Tensor, self).cast(dtypes.float32)

    def int(self) -> Tensor:
        return typing.cast(Tensor, self).cast(dtypes.int32)

    def bool(self) -> Tensor:
        return typing.cast(Tensor, self).cast(dtypes.bool)


class _TensorType(type):
    """Tensor's metaclass, for two class-level switches of the grad mode (function.py): `Tensor.training` and
    `Tensor.no_grad` read this thread's mode; assigning them sets the default of every thread, as tutorials do
    (`Tensor.training = True`), and this thread's current `with Tensor.train():` / `no_grad()` block too."""

    @property
    def training(cls) -> bool:
        return F.GradMode.training()

    @training.setter
    def training(cls, value: bool) -> None:
        F.GradMode.training_default = bool(value)
        if F.GradMode.thread.training is not None:
            F.GradMode.thread.training = bool(value)

    @property
    def no_grad(cls) -> bool:
        return F.GradMode.no_grad()

    @no_grad.setter
    def no_grad(cls, value: bool) -> None:
        F.GradMode.no_grad_default = bool(value)
        if F.GradMode.thread.no_grad is not None:
            F.GradMode.thread.no_grad = bool(value)


class Tensor(
    CreationMixin,
    MovementMixin,
    IndexingMixin,
    ElementwiseMixin,
    MathMixin,
    ReduceMixin,
    NnMixin,
    LossMixin,
    AutodiffMixin,
    MultiMixin,
    InteropMixin,
    _BuiltinNamedCasts,
    metaclass=_TensorType,
):
    """A lazily evaluated, differentiable n-dimensional array on one device.

    Autodiff: `requires_grad` is True (always tracked), False (never) or None, the default: "differentiable when
    asked". Ops on tensors that take part record how to differentiate them; `backward()` then fills `.grad` of every
    tensor of the graph and `gradient(*targets)` returns d(self)/d(target). While `Tensor.training` is True (or inside
    `with Tensor.train():`) results of default tensors are tracked; with training off their graph lives only until
    they are realized, so inference keeps no graph alive. `no_grad()` records nothing.

    `Tensor.training = True; x = Tensor([1.0, 2.0]); (x * 2).sum().backward(); x.grad.tolist()` -> [2.0, 2.0]"""

    _rng: ClassVar[np.random.Generator | None] = None  # made on first use: importing numpy.random costs 10+ ms

    def __init__(
        self,
        data: Any,
        device: str | tuple[str, ...] | None = None,
        dtype: DType | str | None = None,
        requires_grad: bool | None = None,
    ):
        self.grad: Tensor | None = None
        self.requires_grad: bool | None = requires_grad
        self._ctx: F.Function | None = None
        if isinstance(data, LazyBuffer) and dtype is None and (device is None or device == data.device):
            self.lazydata: LazyBuffer = data  # the path every op takes: nothing to convert or move
            return
        if isinstance(data, MultiLazyBuffer) or isinstance(device, tuple):  # several devices: tensor/multi.py
            # NOTE: a MultiLazyBuffer has the LazyBuffer methods ops call, so it stands in for one here
            self.lazydata = typing.cast(LazyBuffer, multi_data(type(self), data, device, dtype))
            if requires_grad and not isinstance(data, MultiLazyBuffer):  # new data, as below; an op's result is not
                _check_differentiable(self.lazydata.dtype)
            return
        device = Device.canonicalize(device) if device is not None else Device.DEFAULT
        want = to_dtype(dtype) if dtype is not None else None
        if isinstance(data, LazyBuffer):
            lazy = data if want is None else data.cast(want)
        elif isinstance(data, Tensor):
            lazy = data.lazydata.copy_to_device(device)
            lazy = lazy if want is None else lazy.cast(want)
        elif isinstance(data, np.generic):
            lazy = LazyBuffer.const(data.item(), want or dtypes.from_np(data.dtype), device)
        elif isinstance(data, (bool, int, float)):
            lazy = LazyBuffer.const(data, want or dtypes.from_py(data), device)
        elif isinstance(data, (list, tuple)):
            kind = want or dtypes.from_py(data)
            try:
                values = np.array(data)
            except ValueError:
                raise ShapeError(f"Tensor: the nested lists have different lengths, got {data!r:.80}") from None
            if values.dtype == object or values.dtype.kind not in "biuf":
                raise TypeError(f"Tensor: a nested list of numbers (or bools) of one shape is needed, got {data!r:.80}")
            # out-of-range integers wrap, as numpy's astype does (tinygrad's rule)
            lazy = _from_host(values.astype(dtypes.float32.np if kind == dtypes.bfloat16 else kind.np), kind, device)
        elif data is None:  # tinygrad: an empty tensor
            lazy = _from_host(np.zeros(0, np.float32), want or dtypes.default_float, device)
        elif isinstance(data, (bytes, bytearray)):  # the bytes as uint8, like tinygrad
            lazy = _from_host(np.frombuffer(bytes(data), np.uint8), dtypes.uint8, device)
            lazy = lazy if want is None else lazy.cast(want)
        elif isinstance(data, np.ndarray):
            kind = want or dtypes.from_np(data.dtype)
            lazy = _from_host(data, kind, device)
        elif hasattr(data, "__dlpack__"):  # a PyTorch tensor, a JAX or CuPy array, ...: through DLPack
            host = from_dlpack_host(data)
            lazy = _from_host(host, want or dtypes.from_np(host.dtype), device)
        else:
            raise TypeError(f"can't create a Tensor from {type(data).__name__}")
        if lazy.device != device:
            lazy = lazy.copy_to_device(device)
        self.lazydata = lazy
        if requires_grad:
            _check_differentiable(lazy.dtype)

    @property
    def device(self) -> str:
        return self.lazydata.device

    @property
    def shape(self) -> tuple[int, ...]:
        return self.lazydata.shape

    @property
    def dtype(self) -> DType:
        return self.lazydata.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def numel(self) -> int:
        return math.prod(self.shape)

    def element_size(self) -> int:
        return self.dtype.itemsize

    def nbytes(self) -> int:
        return self.numel() * self.element_size()

    def is_floating_point(self) -> bool:
        return dtypes.is_float(self.dtype)

    def size(self, dim: int | None = None) -> int | tuple[int, ...]:
        return self.shape if dim is None else self.shape[self._axis(dim)]

    def realize(self, *lst: Tensor) -> Tensor:
        """Compute this tensor (and any others given) now: `Tensor.realize(a, b)` or `a.realize()`. A tensor not
        tracked for autodiff (requires_grad None: training off, no input asked) drops its graph here. A constant
        (Tensor.zeros(3)) becomes a buffer of its whole shape, as in tinygrad, so it can be assigned to afterwards."""
        tensors = (self, *lst)
        for t in tensors:
            lazy = t.lazydata
            if isinstance(lazy, MultiLazyBuffer):
                t.lazydata = typing.cast(LazyBuffer, lazy.map(_with_memory))
            else:
                t.lazydata = _with_memory(lazy)
        realize(*(t.lazydata for t in (*tensors, *flags_to_realize())))
        for t in tensors:
            if t.requires_grad is None:
                t._ctx = None
        return self

    def contiguous(self) -> Tensor:
        return apply(F.Contiguous, self)

    def clone(self, device: str | None = None) -> Tensor:
        """A copy in memory of its own (on `device` if given); differentiable, and .grad is cloned too.

        `t = Tensor([1, 2]); t.clone().tolist()` -> [1, 2]"""
        out = apply(F.Contiguous, self if device is None else self.to(device), clone=True)
        if self.grad is not None:
            out.grad = self.grad.clone(device)
        return out

    def contiguous_backward(self) -> Tensor:
        """The same tensor; in backward(), its gradient becomes a buffer of its own (a kernel boundary).

        `Tensor([1.0]).contiguous_backward().tolist()` -> [1.0]"""
        return apply(F.ContiguousBackward, self)

    def numpy(self) -> np.ndarray:
        """The values as a numpy array (a copy). `Tensor([1, 2]).numpy()` -> array([1, 2], dtype=int32)"""
        if self.dtype == dtypes.bfloat16:
            return self.cast(dtypes.float32).numpy()
        if 0 in self.shape:
            return np.zeros(self.shape, self.dtype.np)
        if isinstance(self.lazydata, MultiLazyBuffer):
            return gathered_numpy(self)
        lazy = self.lazydata.contiguous()
        realize(lazy, *(bad.lazydata for bad in flags_to_realize()))
        verify()  # a read to the host: what the flags of this thread's work say (tensor/checks.py)
        assert lazy.base.buffer is not None
        return lazy.base.buffer.numpy().reshape(self.shape)

    def item(self) -> Scalar:
        """The one value of a one-element tensor. `Tensor([3]).item()` -> 3"""
        if self.numel() != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.numpy().item()

    def tolist(self) -> Any:
        """Nested Python lists. `Tensor([[1, 2]]).tolist()` -> [[1, 2]]"""
        return self.numpy().tolist()

    def data(self) -> memoryview:
        return np.ascontiguousarray(self.numpy()).data

    def to(self, device: str | tuple[str, ...]) -> Tensor:
        """A copy on another device (self when already there); a tuple of devices replicates it on each, and a
        tensor on several devices is gathered onto one. `Tensor([1]).to("CPU").device` -> 'CPU'"""
        if isinstance(device, tuple) or isinstance(self.lazydata, MultiLazyBuffer):
            return to_devices(self, device)
        device = Device.canonicalize(device)
        if device == self.device:
            return self
        out = Tensor(self.lazydata.copy_to_device(device), device=device, requires_grad=self.requires_grad)
        if self.grad is not None:
            out.grad = self.grad.to(device)
        return out

    def to_(self, device: str) -> Tensor:
        """Move this tensor (and its gradient) to another device in place."""
        moved = self.to(device)
        self.lazydata, self.grad = moved.lazydata, moved.grad
        return self

    def detach(self) -> Tensor:
        """The same values, cut from the autodiff graph."""
        return Tensor(self.lazydata, device=self.device, requires_grad=False)

    def assign(self, x: TensorLike) -> Tensor:
        """Write x's values into this tensor's memory (optimizers use it; the JIT keeps the buffer it captured). On a
        view of another tensor (`a[:4].assign(b)`) the values go into that tensor's memory, at once.

        `a = Tensor.zeros(4).contiguous().realize(); a[1:3].assign(Tensor([5.0, 6.0])); a.tolist()` -> [0.0, 5.0,
        6.0, 0.0]"""
        if not isinstance(x, Tensor):
            x = Tensor(x, device=self.device, dtype=self.dtype)
        if x.dtype != self.dtype:  # never a silent cast: int64 -> float32, float32 -> float16 lose values
            raise ArgumentError(f"assign dtype mismatch: a {x.dtype} value into a {self.dtype} tensor; cast it first")
        if x.shape != self.shape:
            try:
                x = x.expand(self.shape)
            except ShapeError:
                raise ShapeError(f"assign: a value of shape {x.shape} doesn't broadcast to {self.shape}") from None
        if isinstance(self.lazydata, MultiLazyBuffer):  # each device's part, in this tensor's layout
            self.lazydata = typing.cast(LazyBuffer, self.lazydata.assign(x.lazydata))
            return self
        value = x.lazydata.copy_to_device(self.device)
        lazy = self.lazydata
        if lazy.op is Ops.BITCAST and _has_memory(lazy.srcs[0]):
            # a bitcast of memory is a view of its bits: they go to the source's memory, now, as through a view
            source = Tensor(lazy.srcs[0], device=self.device)
            source.assign(Tensor(value, device=self.device).bitcast(source.dtype))
            realize(source.lazydata)
            self.lazydata = source.lazydata.cast(self.dtype, bitcast=True)
            return self
        if lazy._base is not None:  # a view: write through to the memory it shows
            if lazy.base.op is Ops.CONST:  # a constant has no memory of its own: this tensor gets some first
                self.lazydata = lazy.contiguous(force=True)
                realize(self.lazydata)
                return self.assign(x)
            _write_through(lazy, Tensor(value, device=self.device))
            return self
        if not lazy.realized:
            self.lazydata = value
            return self
        self.lazydata = lazy.assign(value)
        return self

    def replace(self, x: Tensor) -> Tensor:
        if x.shape != self.shape:
            raise ShapeError(f"replace: shapes {self.shape} and {x.shape} differ")
        self.lazydata = x.lazydata
        return self

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        if self.numel() > 1000:
            return f"<Tensor shape={self.shape} device={self.device!r} dtype={self.dtype}{grad}>"
        body = np.array2string(self.numpy(), separator=", ", prefix="Tensor(")
        return f"Tensor({body}, device={self.device!r}, dtype={self.dtype}{grad})"

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise TypeError(f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or .all()")
        return bool(self.item())

    def __hash__(self) -> int:
        return id(self)

    def __lt__(self, x: TensorLike) -> Tensor:
        return self.lt(x)

    def __gt__(self, x: TensorLike) -> Tensor:
        return self.gt(x)

    def __le__(self, x: TensorLike) -> Tensor:
        return self.le(x)

    def __ge__(self, x: TensorLike) -> Tensor:
        return self.ge(x)

    def __eq__(self, x: TensorLike) -> Tensor:  # type: ignore[override]
        return self.eq(x)

    def __ne__(self, x: TensorLike) -> Tensor:  # type: ignore[override]
        return self.ne(x)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set requires_grad in place and return self. `Tensor([1.0]).requires_grad_().requires_grad` -> True"""
        if requires_grad:
            _check_differentiable(self.dtype)
        self.requires_grad = requires_grad
        return self

    def __neg__(self) -> Tensor:
        return self.neg()

    def __add__(self, x: TensorLike) -> Tensor:
        return self.add(x)

    def __radd__(self, x: TensorLike) -> Tensor:
        return self.add(x, True)

    def __sub__(self, x: TensorLike) -> Tensor:
        return self.sub(x)

    def __rsub__(self, x: TensorLike) -> Tensor:
        return self.sub(x, True)

    def __mul__(self, x: TensorLike) -> Tensor:
        return self.mul(x)

    def __rmul__(self, x: TensorLike) -> Tensor:
        return self.mul(x, True)

    def __truediv__(self, x: TensorLike) -> Tensor:
        return self.div(x)

    def __rtruediv__(self, x: TensorLike) -> Tensor:
        return self.div(x, True)

    def __floordiv__(self, x: TensorLike) -> Tensor:
        a, b = self._broadcasted(x, op="floordiv")
        if not isinstance(x, Tensor) and x == 0 and not dtypes.is_float(a.dtype):
            raise ZeroDivisionError("floordiv: integer division by zero")
        return a._floordiv(b)

    def __rfloordiv__(self, x: TensorLike) -> Tensor:
        a, b = self._broadcasted(x, True, op="floordiv")
        return a._floordiv(b)

    def __mod__(self, x: TensorLike) -> Tensor:
        return self.mod(x)

    def __rmod__(self, x: TensorLike) -> Tensor:
        return self.mod(x, True)

    def __pow__(self, x: TensorLike) -> Tensor:
        return self.pow(x)

    def __rpow__(self, x: TensorLike) -> Tensor:
        return self.pow(x, True)

    def __matmul__(self, x: Tensor) -> Tensor:
        return self.matmul(x)

    def __rmatmul__(self, x: Tensor) -> Tensor:
        return self.matmul(x, True)

    def __and__(self, x: TensorLike) -> Tensor:
        return self.bitwise_and(x)

    def __rand__(self, x: TensorLike) -> Tensor:
        return self.bitwise_and(x, True)

    def __or__(self, x: TensorLike) -> Tensor:
        return self.bitwise_or(x)

    def __ror__(self, x: TensorLike) -> Tensor:
        return self.bitwise_or(x, True)

    def __xor__(self, x: TensorLike) -> Tensor:
        return self.bitwise_xor(x)

    def __rxor__(self, x: TensorLike) -> Tensor:
        return self.bitwise_xor(x, True)

    def __invert__(self) -> Tensor:
        return self.bitwise_not()

    def __lshift__(self, x: TensorLike) -> Tensor:
        return self.lshift(x)

    def __rshift__(self, x: TensorLike) -> Tensor:
        return self.rshift(x)

    def __abs__(self) -> Tensor:
        return self.abs()

    def __iadd__(self, x: TensorLike) -> Tensor:
        return self.assign(self.add(x))

    def __isub__(self, x: TensorLike) -> Tensor:
        return self.assign(self.sub(x))

    def __imul__(self, x: TensorLike) -> Tensor:
        return self.assign(self.mul(x))

    def __itruediv__(self, x: TensorLike) -> Tensor:
        return self.assign(self.div(x))

    def __ifloordiv__(self, x: TensorLike) -> Tensor:
        return self.assign(self // x)

    def __imod__(self, x: TensorLike) -> Tensor:
        return self.assign(self.mod(x))

    def __ipow__(self, x: TensorLike) -> Tensor:
        return self.assign(self.pow(x))

    def __imatmul__(self, x: Tensor) -> Tensor:
        return self.assign(self.matmul(x))

    def __iand__(self, x: TensorLike) -> Tensor:
        return self.assign(self.bitwise_and(x))

    def __ior__(self, x: TensorLike) -> Tensor:
        return self.assign(self.bitwise_or(x))

    def __ixor__(self, x: TensorLike) -> Tensor:
        return self.assign(self.bitwise_xor(x))

    def __ilshift__(self, x: TensorLike) -> Tensor:
        return self.assign(self.lshift(x))

    def __irshift__(self, x: TensorLike) -> Tensor:
        return self.assign(self.rshift(x))


def _check_differentiable(dtype: DType) -> None:
    if not dtypes.is_float(dtype):
        raise ArgumentError(
            f"requires_grad=True needs a floating-point tensor (gradients are real numbers), got {dtype}"
        )


def _with_memory(lazy: LazyBuffer) -> LazyBuffer:
    """A constant (Tensor.zeros(3)) as a buffer of its whole shape, as in tinygrad, so it can be assigned to."""
    return lazy.contiguous(force=True) if lazy.shape and lazy.base.op is Ops.CONST else lazy


def _has_memory(lazy: LazyBuffer) -> bool:
    """Whether `lazy` shows memory (a realized buffer, a view of one, or bitcasts of those) that assign can write."""
    while lazy.op is Ops.BITCAST:
        lazy = lazy.srcs[0]
    return lazy.base.realized


def _from_host(array: np.ndarray, dtype: DType, device: str) -> LazyBuffer:
    if dtype == dtypes.bfloat16:
        # round-to-nearest-even float32 -> bfloat16 bits
        bits = np.array(array, dtype=np.float32, order="C").view(np.uint32)
        rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
        return LazyBuffer.from_numpy(rounded, dtype, device)
    # NOTE: np.array, not np.ascontiguousarray, which turns a 0-d array into shape (1,)
    return LazyBuffer.from_numpy(np.array(array, dtype=dtype.np, order="C"), dtype, device)


def no_grad() -> F.ThreadOverride:
    """`with no_grad():` (or `@no_grad()`) records no autodiff graph in this thread for the block.

    `Tensor.no_grad = True` turns it off for every thread."""
    return F.ThreadOverride("no_grad", True)
