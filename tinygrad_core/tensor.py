"""Tensor, the user's API. Every operation is written in terms of function.py's primitives, so backends only see
those."""

from __future__ import annotations

import math
import typing
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, Union

import numpy as np

from tinygrad_core import function as F
from tinygrad_core.devices import Device
from tinygrad_core.dtype import DType, dtypes, least_upper_dtype, least_upper_float, to_dtype
from tinygrad_core.errors import ArgumentError, DTypeError, JitError, ShapeError
from tinygrad_core.lazy import LazyBuffer
from tinygrad_core.ops import Ops
from tinygrad_core.schedule import realize
from tinygrad_core.view import View

Scalar = int | float | bool
WINDOWS_GRADIENT_MAX = 64  # overlapping windows of at most this many elements get their gradient from F.Windows
TensorLike = Union["Tensor", Scalar]


def _prod(xs: Sequence[int]) -> int:
    return math.prod(xs)


def _argfix(*x: Any) -> tuple[Any, ...]:
    """Accept both f(1, 2) and f((1, 2))."""
    if x and isinstance(x[0], (tuple, list)):
        if len(x) != 1:
            raise ValueError(f"bad arguments {x}: pass either one sequence or several ints")
        return tuple(x[0])
    return tuple(x)


def _new_shape(*shape: Any) -> tuple[int, ...]:
    """The shape of a tensor being created, from f(2, 3) or f((2, 3)): non-negative ints, else a ShapeError."""
    dims = _argfix(*shape)
    if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in dims):
        raise ShapeError(f"a tensor's shape needs non-negative ints, got {dims}")
    return tuple(int(d) for d in dims)


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


class Tensor(_BuiltinNamedCasts, metaclass=_TensorType):
    """A lazily evaluated, differentiable n-dimensional array on one device.

    Autodiff: `requires_grad` is True (always tracked), False (never) or None, the default: "differentiable when
    asked". Ops on tensors that take part record how to differentiate them; `backward()` then fills `.grad` of every
    tensor of the graph and `gradient(*targets)` returns d(self)/d(target). While `Tensor.training` is True (or inside
    `with Tensor.train():`) results of default tensors are tracked; with training off their graph lives only until
    they are realized, so inference keeps no graph alive. `no_grad()` records nothing.

    `Tensor.training = True; x = Tensor([1.0, 2.0]); (x * 2).sum().backward(); x.grad.tolist()` -> [2.0, 2.0]"""

    _rng: ClassVar[np.random.Generator] = np.random.default_rng(0)
    _jit_capturing: ClassVar[bool] = False  # set by TinyJit while it records

    def __init__(
        self,
        data: Any,
        device: str | None = None,
        dtype: DType | str | None = None,
        requires_grad: bool | None = None,
    ):
        device = Device.canonicalize(device) if device is not None else Device.DEFAULT
        want = to_dtype(dtype) if dtype is not None else None
        self.grad: Tensor | None = None
        self.requires_grad: bool | None = requires_grad
        self._ctx: F.Function | None = None
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
        else:
            raise TypeError(f"can't create a Tensor from {type(data).__name__}")
        if lazy.device != device:
            lazy = lazy.copy_to_device(device)
        self.lazydata: LazyBuffer = lazy

    # --- properties ---
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
        return _prod(self.shape)

    def element_size(self) -> int:
        return self.dtype.itemsize

    def nbytes(self) -> int:
        return self.numel() * self.element_size()

    def is_floating_point(self) -> bool:
        return dtypes.is_float(self.dtype)

    def size(self, dim: int | None = None) -> int | tuple[int, ...]:
        return self.shape if dim is None else self.shape[self._axis(dim)]

    # --- realizing and reading back ---
    def realize(self, *lst: Tensor) -> Tensor:
        """Compute this tensor (and any others given) now: `Tensor.realize(a, b)` or `a.realize()`. A tensor not
        tracked for autodiff (requires_grad None: training off, no input asked) drops its graph here."""
        tensors = (self, *lst)
        realize(*(t.lazydata for t in tensors))
        for t in tensors:
            if t.requires_grad is None:
                t._ctx = None
        return self

    def contiguous(self) -> Tensor:
        return F.Contiguous.apply(self)

    def clone(self, device: str | None = None) -> Tensor:
        """A copy in memory of its own (on `device` if given); differentiable, and .grad is cloned too.

        `t = Tensor([1, 2]); t.clone().tolist()` -> [1, 2]"""
        out = F.Contiguous.apply(self if device is None else self.to(device), clone=True)
        if self.grad is not None:
            out.grad = self.grad.clone(device)
        return out

    def contiguous_backward(self) -> Tensor:
        """The same tensor; in backward(), its gradient becomes a buffer of its own (a kernel boundary).

        `Tensor([1.0]).contiguous_backward().tolist()` -> [1.0]"""
        return F.ContiguousBackward.apply(self)

    def numpy(self) -> np.ndarray:
        """The values as a numpy array (a copy). `Tensor([1, 2]).numpy()` -> array([1, 2], dtype=int32)"""
        if self.dtype == dtypes.bfloat16:
            return self.cast(dtypes.float32).numpy()
        if 0 in self.shape:
            return np.zeros(self.shape, self.dtype.np)
        lazy = self.lazydata.contiguous()
        realize(lazy)
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

    def to(self, device: str) -> Tensor:
        """A copy on another device (self when already there). `Tensor([1]).to("CPU").device` -> 'CPU'"""
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
        value = x.lazydata.copy_to_device(self.device)
        lazy = self.lazydata
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

    # --- creation ---
    @staticmethod
    def _const(
        value: Scalar, shape: tuple[int, ...], dtype: DType | str | None, device: str | None, **kw: Any
    ) -> Tensor:
        device = Device.canonicalize(device) if device is not None else Device.DEFAULT
        kind = to_dtype(dtype) if dtype is not None else dtypes.from_py(value)
        return Tensor(LazyBuffer.const(value, kind, device, shape), device=device, **kw)

    @staticmethod
    def full(shape: Sequence[int] | int, fill_value: Scalar, **kwargs: Any) -> Tensor:
        """A tensor filled with one value. `Tensor.full((2,), 7).tolist()` -> [7, 7]"""
        shape = _new_shape(shape)
        kw = {k: kwargs.pop(k) for k in ("dtype", "device") if k in kwargs}
        return Tensor._const(fill_value, shape, kw.get("dtype"), kw.get("device"), **kwargs)

    @staticmethod
    def zeros(*shape: Any, **kwargs: Any) -> Tensor:
        """`Tensor.zeros(2, 3)` -> float32 zeros of shape (2, 3)"""
        return Tensor.full(_new_shape(*shape), 0.0, **kwargs)

    @staticmethod
    def ones(*shape: Any, **kwargs: Any) -> Tensor:
        """`Tensor.ones(2).tolist()` -> [1.0, 1.0]"""
        return Tensor.full(_new_shape(*shape), 1.0, **kwargs)

    @staticmethod
    def empty(*shape: Any, device: str | None = None, dtype: DType | str | None = None, **kwargs: Any) -> Tensor:
        """Uninitialised memory of a shape. `Tensor.empty(2, 2).shape` -> (2, 2)"""
        device = Device.canonicalize(device) if device is not None else Device.DEFAULT
        kind = to_dtype(dtype) if dtype is not None else dtypes.default_float
        return Tensor(LazyBuffer.empty(_new_shape(*shape), kind, device), device=device, **kwargs)

    @staticmethod
    def arange(start: Scalar, stop: Scalar | None = None, step: Scalar = 1, **kwargs: Any) -> Tensor:
        """`Tensor.arange(5).tolist()` -> [0, 1, 2, 3, 4]"""
        if stop is None:
            start, stop = 0, start
        if step == 0:
            raise ValueError("arange: step must not be zero")
        kind = to_dtype(kwargs.pop("dtype", None) or dtypes.from_py([start, stop, step]))
        values = np.arange(start, stop, step, dtype=np.float64 if dtypes.is_float(kind) else np.int64)
        return Tensor(values.astype(kind.np), dtype=kind, **kwargs)

    @staticmethod
    def linspace(start: Scalar, stop: Scalar, steps: int, **kwargs: Any) -> Tensor:
        """`Tensor.linspace(0, 1, 3).tolist()` -> [0.0, 0.5, 1.0]"""
        if not isinstance(steps, int) or isinstance(steps, bool):
            raise TypeError(f"linspace: steps must be an int, got {type(steps).__name__}")
        if steps < 0:
            raise ArgumentError(f"linspace: steps must be non-negative, got {steps}")
        kind = to_dtype(kwargs.pop("dtype", dtypes.default_float))
        if kind == dtypes.bool:
            raise ArgumentError("linspace: a bool dtype has no values between start and stop")
        requires_grad = kwargs.pop("requires_grad", None)
        if steps == 1:
            return Tensor.full((1,), start, dtype=kind, requires_grad=requires_grad, **kwargs)
        step = (stop - start) / max(steps - 1, 1)
        values = (Tensor.arange(steps, dtype=dtypes.float32, **kwargs) * step + start).cast(kind)
        return Tensor(values.lazydata, device=values.device, requires_grad=requires_grad)

    @staticmethod
    def eye(n: int, m: int | None = None, **kwargs: Any) -> Tensor:
        """Identity matrix. `Tensor.eye(2).tolist()` -> [[1.0, 0.0], [0.0, 1.0]]"""
        m = n if m is None else m
        if not (isinstance(n, int) and isinstance(m, int)) or n < 0 or m < 0:
            raise ArgumentError(f"eye: n and m must be non-negative ints, got {n!r} and {m!r}")
        kind = kwargs.pop("dtype", dtypes.default_float)
        requires_grad = kwargs.pop("requires_grad", None)
        if n == 0 or m == 0 or n > m:
            # the tiling below needs rows at least as long as the columns: build the transpose
            square = (
                Tensor.zeros(n, m, dtype=kind, **kwargs)
                if n == 0 or m == 0
                else Tensor.eye(m, n, dtype=kind, **kwargs).T
            )
        else:
            # a one followed by n zeros, tiled: every (n+1)th element of the flat matrix is on the diagonal
            row = Tensor.ones(1, dtype=kind, **kwargs).pad(((0, m),)).reshape(1, m + 1).expand(n, m + 1)
            square = row.reshape(-1)[: n * m].reshape(n, m)
        return Tensor(square.lazydata, device=square.device, requires_grad=requires_grad)

    @staticmethod
    def manual_seed(seed: int = 0) -> None:
        """Seed the generator behind rand/randn/randint/dropout."""
        Tensor._rng = np.random.default_rng(seed)

    @staticmethod
    def _random(array: np.ndarray, dtype: DType | str | None, default: DType, **kwargs: Any) -> Tensor:
        if Tensor._jit_capturing:
            raise JitError(
                "random numbers drawn inside a TinyJit function would be frozen into its recording; "
                "draw them outside and pass them in"
            )
        kind = to_dtype(dtype) if dtype is not None else default
        return Tensor(array.astype(np.float32) if dtypes.is_float(kind) else array, dtype=kind, **kwargs)

    @staticmethod
    def rand(*shape: Any, dtype: DType | str | None = None, **kwargs: Any) -> Tensor:
        """Uniform samples in [0, 1). `Tensor.rand(2, 3).shape` -> (2, 3)"""
        kind = to_dtype(dtype) if dtype is not None else dtypes.default_float
        # low-precision floats draw on their own grid (multiples of 2**-mantissa), so rounding never reaches 1.0
        bits = {dtypes.float16: 11, dtypes.bfloat16: 8}.get(kind)
        size = _new_shape(*shape)
        values = Tensor._rng.integers(0, 2**bits, size) / 2**bits if bits else Tensor._rng.random(size, np.float32)
        return Tensor._random(values, kind, dtypes.default_float, **kwargs)

    @staticmethod
    def randn(*shape: Any, dtype: DType | str | None = None, **kwargs: Any) -> Tensor:
        """Standard normal samples. `Tensor.randn(3).shape` -> (3,)"""
        return Tensor._random(
            Tensor._rng.standard_normal(_new_shape(*shape), np.float32), dtype, dtypes.default_float, **kwargs
        )

    @staticmethod
    def randint(*shape: Any, low: int = 0, high: int = 10, dtype: DType | str | None = None, **kwargs: Any) -> Tensor:
        """Integers drawn from [low, high). `Tensor.randint(3, high=5).dtype` -> dtypes.int"""
        if not (isinstance(low, int) and isinstance(high, int)):
            raise TypeError(f"randint: low and high must be ints, got {low!r} and {high!r}")
        if dtype is not None and not dtypes.is_int(to_dtype(dtype)):
            raise TypeError(f"randint: dtype must be an integer dtype, got {to_dtype(dtype)}")
        if high <= low:
            raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
        return Tensor._random(
            Tensor._rng.integers(low, high, _new_shape(*shape)).astype(np.int32), dtype, dtypes.int32, **kwargs
        )

    def multinomial(self, num_samples: int = 1, replacement: bool = False) -> Tensor:
        """Draw num_samples int32 indices per row of non-negative weights (1-D or 2-D), with or without replacement.

        `Tensor([0.0, 1.0]).multinomial(3, replacement=True).tolist()` -> [1, 1, 1]"""
        if not 1 <= self.ndim <= 2 or num_samples <= 0:
            raise ArgumentError(f"multinomial: needs 1-D or 2-D weights and num_samples > 0, got {self.shape}")
        if not replacement and num_samples > self.shape[-1]:
            raise ArgumentError(f"multinomial: {num_samples} samples without replacement from {self.shape[-1]} weights")
        weights = self._float().reshape(-1, self.shape[-1])
        rows = weights.shape[0]
        if replacement:  # inverse of the cumulative distribution at uniform samples
            cdf = weights.cumsum(1) / weights.sum(1, keepdim=True)
            u = Tensor.rand(rows, num_samples, 1, device=self.device)
            picks = (u >= cdf.unsqueeze(1)).sum(2).minimum(self.shape[-1] - 1).cast(dtypes.int32)
        else:  # Gumbel top-k: the largest log(w) + Gumbel noise are a draw without replacement
            u = Tensor.rand(rows, self.shape[-1], device=self.device)
            keys = weights.log() - (-(u.maximum(1e-20)).log()).log()
            picks = keys.topk(num_samples, 1)[1]
        return picks.reshape(num_samples) if self.ndim == 1 else picks

    @staticmethod
    def from_blob(ptr: int, shape: tuple[int, ...], **kwargs: Any) -> Tensor:
        """A Tensor holding a copy of the host memory at address `ptr` (dtype and device as keyword arguments).
        tinygrad maps the memory without copying; we copy, so the pointer need only be valid during the call."""
        import ctypes

        kind = to_dtype(kwargs.pop("dtype", dtypes.default_float))
        count = _prod(shape)
        raw = (ctypes.c_char * (count * kind.itemsize)).from_address(ptr)
        storage = np.uint16 if kind == dtypes.bfloat16 else kind.np
        array = np.frombuffer(bytes(raw), dtype=storage, count=count).reshape(shape)
        if kind == dtypes.bfloat16:
            return Tensor(
                LazyBuffer.from_numpy(array, kind, Device.canonicalize(kwargs.pop("device", None) or Device.DEFAULT)),
                **kwargs,
            )
        return Tensor(array, dtype=kind, **kwargs)

    @staticmethod
    def uniform(*shape: Any, low: float = 0.0, high: float = 1.0, **kwargs: Any) -> Tensor:
        """Uniform samples in [low, high)."""
        kind = kwargs.pop("dtype", None)
        return (Tensor.rand(*shape, **kwargs) * (high - low) + low).cast(kind or dtypes.default_float)

    @staticmethod
    def normal(*shape: Any, mean: float = 0.0, std: float = 1.0, **kwargs: Any) -> Tensor:
        """Normal samples with a mean and standard deviation."""
        kind = kwargs.pop("dtype", None)
        return (Tensor.randn(*shape, **kwargs) * std + mean).cast(kind or dtypes.default_float)

    def full_like(self, fill_value: Scalar, **kwargs: Any) -> Tensor:
        return Tensor.full(
            self.shape,
            fill_value,
            dtype=kwargs.pop("dtype", self.dtype),
            device=kwargs.pop("device", self.device),
            **kwargs,
        )

    def zeros_like(self, **kwargs: Any) -> Tensor:
        return self.full_like(0, **kwargs)

    def ones_like(self, **kwargs: Any) -> Tensor:
        return self.full_like(1, **kwargs)

    def rand_like(self, **kwargs: Any) -> Tensor:
        kind = kwargs.pop("dtype", self.dtype)
        return Tensor.rand(*self.shape, device=kwargs.pop("device", self.device), dtype=kind, **kwargs)

    def randn_like(self, **kwargs: Any) -> Tensor:
        kind = kwargs.pop("dtype", self.dtype)
        return Tensor.randn(*self.shape, device=kwargs.pop("device", self.device), dtype=kind, **kwargs)

    # --- autodiff ---
    def _toposort(self) -> list[Tensor]:
        """Self and every tensor it was computed from through edges that take part in autodiff, inputs first."""
        order: list[Tensor] = []
        seen: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                ctx = node._ctx
                if ctx is not None:
                    stack.extend((p, False) for p, needed in zip(ctx.parents, ctx.needs_input_grad) if needed)
        return order

    def _gradients(self, grad: Tensor, record: bool) -> tuple[list[Tensor], dict[int, Any]]:
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

    def _seed_grad(self, gradient: Tensor | None, op: str) -> Tensor:
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
            return Tensor.ones(self.shape, dtype=self.dtype, device=self.device)
        if gradient.shape != self.shape:
            raise ShapeError(f"{op}: gradient shape {gradient.shape} does not match tensor shape {self.shape}")
        return gradient

    def backward(self, gradient: Tensor | None = None, create_graph: bool = False) -> Tensor:
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

    def retain_grad(self) -> Tensor:
        """PyTorch's request to keep a non-leaf's .grad: here every tensor of the graph keeps it. Returns self."""
        return self

    @staticmethod
    def train(mode: bool = True) -> F.ThreadOverride:
        """`with Tensor.train():` (or `@Tensor.train()`) turns training on in this thread for the block."""
        return F.ThreadOverride("training", mode)

    # --- movement ---
    def _axis(self, axis: int, ndim: int | None = None) -> int:
        ndim = self.ndim if ndim is None else ndim
        if not -max(ndim, 1) <= axis < max(ndim, 1):
            raise IndexError(f"axis {axis} is out of range for a tensor with {ndim} dims (shape {self.shape})")
        return axis + ndim if axis < 0 else axis

    def reshape(self, shape: Any, *args: int) -> Tensor:
        """`Tensor.arange(6).reshape(2, -1).shape` -> (2, 3)"""
        new = tuple(s if s is not None else self.shape[i] for i, s in enumerate(_argfix(shape, *args)))
        if new.count(-1) > 1:
            raise ShapeError(f"reshape: only one dim can be -1, got {new}")
        if -1 in new:
            known = _prod([s for s in new if s != -1])
            if known == 0 or self.numel() % known:
                raise ShapeError(f"reshape: cannot reshape {self.shape} into {new}")
            new = tuple(self.numel() // known if s == -1 else s for s in new)
        if any(s < 0 for s in new) or _prod(new) != self.numel():
            raise ShapeError(f"reshape: cannot reshape {self.shape} ({self.numel()} elements) into {new}")
        return self if new == self.shape else F.Reshape.apply(self, shape=new)

    def view(self, *shape: Any) -> Tensor:
        return self.reshape(*shape)

    def expand(self, shape: Any, *args: int) -> Tensor:
        """Broadcast size-1 dims (and new leading dims). `Tensor([1, 2]).expand(2, 2).tolist()` -> [[1, 2], [1, 2]]"""
        new = _argfix(shape, *args)
        if len(new) < self.ndim:
            raise ShapeError(f"expand: cannot expand {self.shape} to fewer dims {new}")
        current = (1,) * (len(new) - self.ndim) + self.shape
        new = tuple(old if want == -1 else want for old, want in zip(current, new))
        if any(old != want and old != 1 for old, want in zip(current, new)):
            raise ShapeError(f"expand: cannot expand {self.shape} to {new}")
        x = self.reshape(current)
        return x if new == current else F.Expand.apply(x, shape=new)

    def permute(self, order: Any, *args: int) -> Tensor:
        """`Tensor.ones(2, 3).permute(1, 0).shape` -> (3, 2)"""
        axes = tuple(self._axis(a) for a in _argfix(order, *args))
        if sorted(axes) != list(range(self.ndim)):
            raise ShapeError(f"permute: {axes} is not a permutation of the {self.ndim} dims of {self.shape}")
        return self if axes == tuple(range(self.ndim)) else F.Permute.apply(self, order=axes)

    def flip(self, axis: Any, *args: int) -> Tensor:
        """Reverse along axes. `Tensor([1, 2, 3]).flip(0).tolist()` -> [3, 2, 1]"""
        given = [self._axis(a) for a in _argfix(axis, *args)]
        if len(set(given)) != len(given):
            raise ArgumentError(f"flip: dims {_argfix(axis, *args)} name a dim more than once (shape {self.shape})")
        axes = tuple(sorted(given))
        return F.Flip.apply(self, axes=axes) if axes else self

    def shrink(self, arg: Sequence[tuple[int, int] | None]) -> Tensor:
        """Keep [lo, hi) of each dim (None keeps it all). `Tensor([1, 2, 3]).shrink(((1, 3),)).tolist()` -> [2, 3]"""
        bounds = tuple((0, s) if b is None else (int(b[0]), int(b[1])) for b, s in zip(arg, self.shape))
        if any(not 0 <= lo <= hi <= s for (lo, hi), s in zip(bounds, self.shape)):
            raise ShapeError(f"shrink: bounds {bounds} out of range for shape {self.shape}")
        return self if all(b == (0, s) for b, s in zip(bounds, self.shape)) else F.Shrink.apply(self, bounds=bounds)

    def pad(self, padding: Sequence[Any], mode: str = "constant", value: float = 0.0) -> Tensor:
        """Pad with a constant, or mode "reflect", "replicate" or "circular". Accepts ((before, after), ...) per dim,
        or PyTorch's flat (left, right, top, bottom, ...).

        `Tensor([1, 2]).pad((1, 1), "reflect").tolist()` -> [2, 1, 2, 1]"""
        if mode not in ("constant", "reflect", "replicate", "circular"):
            raise NotImplementedError(
                f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}"
            )
        if padding and not isinstance(padding[0], (tuple, list)) and padding[0] is not None:
            flat = list(padding)
            if len(flat) % 2 or len(flat) // 2 > self.ndim:
                raise ShapeError(f"pad: flat padding {tuple(flat)} needs an even length of at most 2 * {self.ndim}")
            flat_pairs = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)][::-1]
            padding = [(0, 0)] * (self.ndim - len(flat_pairs)) + flat_pairs
        if len(padding) != self.ndim:
            raise ShapeError(f"pad: {len(padding)} pairs for a tensor with {self.ndim} dims")
        pairs = tuple((0, 0) if p is None else (int(p[0]), int(p[1])) for p in padding)
        if all(p == (0, 0) for p in pairs):
            return self
        if any(b < 0 or a < 0 for b, a in pairs):
            positive = tuple((max(b, 0), max(a, 0)) for b, a in pairs)
            if mode in ("constant", "circular"):
                shrink = tuple((-min(b, 0), s + min(a, 0)) for (b, a), s in zip(pairs, self.shape))
                return self.shrink(shrink).pad(positive, mode, value)
            # PyTorch reflects and replicates from the whole input, then crops the negative sides
            padded = self.pad(positive, mode, value)
            crop = tuple((-min(b, 0), n + min(a, 0)) for (b, a), n in zip(pairs, padded.shape))
            return padded.shrink(crop)
        if mode != "constant":
            return self._pad_mode(pairs, mode)
        padded = F.Pad.apply(self, padding=pairs)
        if value == 0:
            return padded
        inside = F.Pad.apply(Tensor.ones(self.shape, dtype=dtypes.bool, device=self.device), padding=pairs)
        return inside.where(padded, value)

    def _pad_mode(self, pairs: tuple[tuple[int, int], ...], mode: str) -> Tensor:
        """Non-constant padding, one dim at a time: the borrowed edges are shrunk (and flipped) views, joined by cat."""
        x = self
        for dim, (before, after) in enumerate(pairs):
            if before == after == 0:
                continue
            size = x.shape[dim]
            limit = size - 1 if mode == "reflect" else size if mode == "circular" else math.inf
            if max(before, after) > limit or size == 0:
                raise ShapeError(f"pad: {mode} padding {(before, after)} is too large for dim {dim} of shape {x.shape}")

            def part(lo: int, hi: int, dim: int = dim, x: Tensor = x) -> Tensor:
                return x.shrink([(lo, hi) if d == dim else None for d in range(x.ndim)])

            if mode == "reflect":
                left, right = part(1, before + 1).flip(dim), part(size - after - 1, size - 1).flip(dim)
            elif mode == "circular":
                left, right = part(size - before, size), part(0, after)
            else:
                edge = list(x.shape)
                left = part(0, 1).expand(edge[:dim] + [before] + edge[dim + 1 :])
                right = part(size - 1, size).expand(edge[:dim] + [after] + edge[dim + 1 :])
            pieces = [piece for piece in (left, x, right) if piece.shape[dim]]
            x = pieces[0].cat(*pieces[1:], dim=dim)
        return x

    def shrink_to(self, shape: Any, *args: int | None) -> Tensor:
        """Keep the first `n` of each dim (None keeps it all). `Tensor([1, 2, 3]).shrink_to(2).tolist()` -> [1, 2]"""
        sizes = _argfix(shape, *args)
        if len(sizes) != self.ndim:
            raise ShapeError(f"shrink_to: {len(sizes)} sizes for a tensor of shape {self.shape}")
        return self.shrink([None if n is None else (0, n) for n in sizes])

    def pad_to(self, shape: Any, *args: int | None, value: float = 0.0) -> Tensor:
        """Pad each dim at its end up to a size (None keeps it). `Tensor([1, 2]).pad_to(4).tolist()` -> [1, 2, 0, 0]"""
        sizes = _argfix(shape, *args)
        if len(sizes) != self.ndim:
            raise ShapeError(f"pad_to: {len(sizes)} sizes for a tensor of shape {self.shape}")
        return self.pad([(0, 0 if n is None else n - s) for s, n in zip(self.shape, sizes)], value=value)

    def transpose(self, dim0: int = 1, dim1: int = 0) -> Tensor:
        """Swap two dims. `Tensor.ones(2, 3).transpose().shape` -> (3, 2)"""
        order = list(range(self.ndim))
        a, b = self._axis(dim0), self._axis(dim1)
        order[a], order[b] = order[b], order[a]
        return self.permute(order)

    @property
    def T(self) -> Tensor:
        return self.transpose() if self.ndim == 2 else self.permute(tuple(reversed(range(self.ndim))))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """`Tensor.ones(2, 3, 4).flatten(1).shape` -> (2, 12)"""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = self._axis(start_dim), self._axis(end_dim)
        return self.reshape(self.shape[:start] + (_prod(self.shape[start : end + 1]),) + self.shape[end + 1 :])

    def unflatten(self, dim: int, sizes: tuple[int, ...]) -> Tensor:
        dim = self._axis(dim)
        return self.reshape(self.shape[:dim] + tuple(sizes) + self.shape[dim + 1 :])

    def unsqueeze(self, dim: int) -> Tensor:
        """`Tensor([1, 2]).unsqueeze(0).shape` -> (1, 2)"""
        dim = self._axis(dim, self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim: int | None = None) -> Tensor:
        """Drop size-1 dims. `Tensor.ones(1, 2, 1).squeeze().shape` -> (2,)"""
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        dim = self._axis(dim)
        if self.ndim == 0:
            return self
        return self if self.shape[dim] != 1 else self.reshape(self.shape[:dim] + self.shape[dim + 1 :])

    def cat(self, *others: Tensor, dim: int = 0) -> Tensor:
        """Join along a dim. `Tensor([1]).cat(Tensor([2, 3])).tolist()` -> [1, 2, 3]"""
        tensors = (self, *others)
        dim = self._axis(dim)
        for t in others:
            if t.ndim != self.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, self.shape)) if i != dim):
                raise ShapeError(f"cat: shapes {self.shape} and {t.shape} differ outside dim {dim}")
        kind = least_upper_dtype(*(t.dtype for t in tensors))
        total = sum(t.shape[dim] for t in tensors)
        parts, start = [], 0
        for t in tensors:
            padding = [(0, 0)] * self.ndim
            padding[dim] = (start, total - start - t.shape[dim])
            parts.append(t.cast(kind).pad(padding))
            start += t.shape[dim]
        out = parts[0]
        for part in parts[1:]:
            out = out + part
        return out

    @staticmethod
    def stack(*tensors: Tensor, dim: int = 0) -> Tensor:
        """Join along a new dim. `Tensor.stack(Tensor([1]), Tensor([2])).tolist()` -> [[1], [2]]"""
        tensors = _argfix(*tensors)
        first = tensors[0]
        for t in tensors[1:]:
            if t.shape != first.shape:
                raise ShapeError(f"stack: shapes {first.shape} and {t.shape} differ")
        dim = first._axis(dim, first.ndim + 1)
        return tensors[0].unsqueeze(dim).cat(*(t.unsqueeze(dim) for t in tensors[1:]), dim=dim)

    def split(self, sizes: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        """Pieces of `sizes` (an int: equal pieces, the last may be smaller) along a dim."""
        dim = self._axis(dim)
        length = self.shape[dim]
        if isinstance(sizes, int):
            if sizes <= 0:
                raise ValueError(f"split: size must be positive, got {sizes}")
            sizes = [min(sizes, length - i) for i in range(0, length, sizes)] or [0]
        if sum(sizes) != length:
            raise ShapeError(f"split: sizes {list(sizes)} don't add up to {length} (dim {dim} of {self.shape})")
        out, start = [], 0
        for size in sizes:
            bounds: list[tuple[int, int] | None] = [None] * self.ndim
            bounds[dim] = (start, start + size)
            out.append(self.shrink(bounds))
            start += size
        return tuple(out)

    def chunk(self, chunks: int, dim: int = 0) -> list[Tensor]:
        """`chunks` nearly equal pieces along a dim."""
        if chunks <= 0:
            raise ValueError(f"chunk: chunks must be positive, got {chunks}")
        length = self.shape[self._axis(dim)]
        return list(self.split(max(math.ceil(length / chunks), 1) if length else 1, dim=dim))

    def repeat(self, repeats: Any, *args: int) -> Tensor:
        """Tile the tensor. `Tensor([1, 2]).repeat(2).tolist()` -> [1, 2, 1, 2]"""
        reps = _argfix(repeats, *args)
        if len(reps) < self.ndim:
            raise ShapeError(f"repeat: {len(reps)} repeats for a tensor with {self.ndim} dims")
        x = self.reshape((1,) * (len(reps) - self.ndim) + self.shape)
        interleaved = [d for s in x.shape for d in (1, s)]
        expanded = [d for r, s in zip(reps, x.shape) for d in (r, s)]
        return x.reshape(interleaved).expand(expanded).reshape(tuple(r * s for r, s in zip(reps, x.shape)))

    # --- indexing ---
    def __getitem__(self, indices: Any) -> Tensor:
        """numpy indexing: ints, slices with steps, None, Ellipsis, negative indices, integer tensors or lists, and
        boolean masks (which, as in PyTorch, read the mask's values to learn the result's shape)."""
        indices = self._normalize_index(indices)
        x, dim = self, 0
        shape_out: list[tuple[str, Tensor | None]] = []
        bounds, flips, strides = [], [], []
        for index in indices:
            if index is None:
                shape_out.append(("new", None))
                continue
            size = self.shape[dim]
            if isinstance(index, Tensor):
                if dtypes.is_float(index.dtype):
                    raise IndexError(f"tensors used as indices must be integers, got {index.dtype}")
                bounds.append((0, size))
                flips.append(False)
                strides.append(1)
                shape_out.append(("tensor", index))
            elif isinstance(index, slice):
                start, stop, step = index.indices(size)
                if step > 0:
                    count = max(0, math.ceil((stop - start) / step))
                    bounds.append((start, start + (count - 1) * step + 1) if count else (0, 0))
                else:
                    count = max(0, math.ceil((start - stop) / -step))
                    bounds.append((start + (count - 1) * step, start + 1) if count else (0, 0))
                flips.append(step < 0)
                strides.append(abs(step))
                shape_out.append(("keep", None))
            elif isinstance(index, (int, np.integer)):
                position = int(index) + size if index < 0 else int(index)
                if not 0 <= position < size:
                    raise IndexError(f"index {index} is out of bounds for dim {dim} with size {size}")
                bounds.append((position, position + 1))
                flips.append(False)
                strides.append(1)
                shape_out.append(("drop", None))
            dim += 1
        x = x.shrink(bounds).flip(tuple(i for i, f in enumerate(flips) if f))
        if any(s != 1 for s in strides):
            x = x._stride(strides)
        # rebuild the shape: dropped dims go, new dims come
        kept_shape: list[int] = []
        tensor_positions: list[tuple[int, Tensor]] = []
        axis = 0
        for kind, index in shape_out:
            if kind == "new":
                kept_shape.append(1)
            elif kind == "drop":
                axis += 1
            else:
                if kind == "tensor":
                    assert isinstance(index, Tensor)
                    tensor_positions.append((len(kept_shape), index))
                kept_shape.append(x.shape[axis])
                axis += 1
        x = x.reshape(kept_shape)
        if tensor_positions:
            x = x._gather_tensors(tensor_positions)
        return x

    def __setitem__(self, indices: Any, value: TensorLike) -> None:
        """t[idx] = value, writing into t's memory now (and into the tensor t is a view of), as in PyTorch and
        tinygrad; value broadcasts to t[idx]'s shape and must have t's dtype. Duplicate indices: the last write wins.

        `t = Tensor.zeros(3); t[1] = 7; t.tolist()` -> [0.0, 7.0, 0.0]"""
        if not isinstance(value, Tensor):
            value = Tensor(value, device=self.device, dtype=self.dtype)
        if self.requires_grad or value.requires_grad:
            raise NotImplementedError("setitem: writing into (or from) a tensor that requires grad has no gradient")
        if value.dtype != self.dtype:
            raise RuntimeError(f"setitem dtype mismatch: a {value.dtype} value into a {self.dtype} tensor; cast it")
        if self.lazydata.base.op is Ops.CONST:  # a constant has no memory: this tensor gets its own first
            self.lazydata = self.lazydata.contiguous(force=True)
            realize(self.lazydata)
        parts = self._normalize_index(indices)
        target = self[parts]
        value = value.to(self.device)
        try:
            value = value.expand(target.shape) if value.shape != target.shape else value
        except ShapeError:
            raise ShapeError(
                f"setitem: a value of shape {value.shape} can't fill t[...] of shape {target.shape}"
            ) from None
        if not any(isinstance(part, Tensor) for part in parts):
            target.assign(value)  # a view of this tensor's memory: written through
            return
        if any(part is None for part in parts):
            raise NotImplementedError("setitem: None in an index with integer tensors is not supported")
        self._setitem_indexed(parts, value)

    def _setitem_indexed(self, parts: tuple[Any, ...], value: Tensor) -> None:
        """t[parts] = value where some parts are integer tensors: each element of the view the other parts select
        takes the value of the last index combination that names it. Costs (index combinations) x (view elements)."""
        basic = tuple(slice(None) if isinstance(part, Tensor) else part for part in parts)
        view = self[basic]
        tensor_dims, rest_dims, dim = [], [], 0  # positions in `view` of the tensor-indexed dims and of the others
        indexes = []
        for part in parts:
            if isinstance(part, int):
                continue
            if isinstance(part, Tensor):
                size = view.shape[dim]
                indexes.append(part.lt(0).where(part + size, part))
                tensor_dims.append(dim)
            else:
                rest_dims.append(dim)
            dim += 1
        batch = tuple(np.broadcast_shapes(*(i.shape for i in indexes)))
        nb, nt = len(batch), len(tensor_dims)
        # numpy puts the batch dims where the first tensor index was when they are adjacent, else in front
        adjacent = tensor_dims == list(range(tensor_dims[0], tensor_dims[0] + nt))
        at = sum(1 for d in rest_dims if d < tensor_dims[0]) if adjacent else 0
        order = list(range(at, at + nb)) + [d for d in range(value.ndim) if not at <= d < at + nb]
        value = value.permute(order)  # (batch..., rest...)
        hit = None
        for k, (d, index) in enumerate(zip(tensor_dims, indexes)):
            size = view.shape[d]
            shape = batch + tuple(size if j == k else 1 for j in range(nt))
            onehot = (
                index.expand(batch)
                .reshape(batch + (1,) * nt)
                .eq(Tensor.arange(size, device=self.device).reshape(shape[nb:]))
            )
            hit = onehot if hit is None else hit & onehot  # (batch..., indexed dims...)
        assert hit is not None
        count = _prod(batch)
        number = Tensor.arange(count, device=self.device).reshape(batch + (1,) * nt)
        winner = hit.where(number, -1).max(tuple(range(nb))) if nb else hit.where(number, -1)
        chosen = hit & number.eq(winner)
        rest = len(rest_dims)
        picked = chosen.reshape(chosen.shape + (1,) * rest).where(
            value.reshape(batch + (1,) * nt + value.shape[nb:]), 0
        )
        placed = picked.sum(tuple(range(nb)), dtype=self.dtype) if nb else picked  # (indexed dims..., rest...)
        inverse = sorted(range(view.ndim), key=(tensor_dims + rest_dims).__getitem__)
        placed = placed.permute(inverse)
        written = winner.ge(0).reshape(winner.shape + (1,) * rest).permute(inverse)
        view.assign(written.where(placed, view))

    def _index_part(self, index: Any) -> Any:
        """One part of an index as __getitem__ takes it: sequences and arrays become Tensors on this device."""
        if isinstance(index, (list, tuple, np.ndarray)):
            array = np.asarray(index)
            if array.dtype == np.bool_:
                return Tensor(array, device=self.device)
            if array.size and array.dtype.kind not in "iu":
                raise IndexError(f"index {index!r} holds {array.dtype} values; only integers and booleans index")
            return Tensor(array.astype(np.int32), device=self.device)
        if isinstance(index, Tensor) and index.device != self.device:
            return index.to(self.device)
        if isinstance(index, np.integer):
            return int(index)
        if isinstance(index, bool) or (isinstance(index, Tensor) and index.dtype == dtypes.bool and index.ndim == 0):
            raise IndexError("a single True or False as an index is not supported; use where() or masked_select()")
        if index is None or index is Ellipsis or isinstance(index, (int, slice, Tensor)):
            return index
        raise IndexError(f"unsupported index {index!r} (use ints, slices, None, ..., integer or boolean tensors)")

    def _normalize_index(self, indices: Any) -> tuple[Any, ...]:
        """A full index: one part per dim (ints, slices, integer Tensors) plus Nones, with the Ellipsis expanded and
        boolean masks replaced by the integer positions of their True values (read from the device)."""
        parts = tuple(self._index_part(i) for i in (indices if isinstance(indices, tuple) else (indices,)))
        if sum(1 for i in parts if i is Ellipsis) > 1:
            raise IndexError("an index can only have a single ellipsis")

        def width(part: Any) -> int:
            if isinstance(part, Tensor) and part.dtype == dtypes.bool:
                return part.ndim  # a mask indexes as many dims as it has
            return 0 if part is None or part is Ellipsis else 1

        consuming = sum(width(i) for i in parts)
        if consuming > self.ndim:
            raise IndexError(f"too many indices ({consuming} dims) for a tensor of shape {self.shape}")
        at = next((k for k, i in enumerate(parts) if i is Ellipsis), len(parts))
        parts = parts[:at] + (slice(None),) * (self.ndim - consuming) + parts[at + 1 :]
        out: list[Any] = []
        dim = 0
        for part in parts:
            if isinstance(part, Tensor) and part.dtype == dtypes.bool:
                covered = self.shape[dim : dim + part.ndim]
                if part.shape != covered:
                    raise IndexError(
                        f"boolean index of shape {part.shape} does not match dims {covered} of {self.shape}"
                    )
                out.extend(Tensor(p.astype(np.int32), device=self.device) for p in np.nonzero(part.numpy()))
            else:
                out.append(part)
            dim += width(part)
        return tuple(out)

    def _stride(self, strides: list[int]) -> Tensor:
        """Every strides[d]-th element along each dim d (the tensor already starts at the first one)."""
        x = self
        for d, step in enumerate(strides):
            if step == 1:
                continue
            count = math.ceil(x.shape[d] / step)
            pad = [(0, 0)] * x.ndim
            pad[d] = (0, count * step - x.shape[d])
            x = x.pad(pad)
            x = x.reshape(x.shape[:d] + (count, step) + x.shape[d + 1 :])
            bounds: list[tuple[int, int] | None] = [None] * x.ndim
            bounds[d + 1] = (0, 1)
            x = x.shrink(bounds).reshape(x.shape[:d] + (count,) + x.shape[d + 2 :])
        return x

    def _gather_tensors(self, positions: list[tuple[int, Tensor]]) -> Tensor:
        """numpy's advanced indexing: integer tensors index dims jointly, with their shapes broadcast together."""
        dims = [d for d, _ in positions]
        indexes = [idx.to(self.device) for _, idx in positions]
        batch = tuple(np.broadcast_shapes(*(i.shape for i in indexes)))
        for d, idx in zip(dims, indexes):
            size = self.shape[d]
            fixed = idx.lt(0).where(idx + size, idx)
            bad = (fixed < 0) | (fixed >= size)
            if bad.numel() and bad.any().item():
                raise IndexError(f"index tensor has values out of bounds for dim {d} with size {size}")
        # one-hot masks: x[..., i, ...] = sum_j x[..., j, ...] * (i == j)
        rest = [d for d in range(self.ndim) if d not in dims]
        x = self.cast(dtypes.uint8) if self.dtype == dtypes.bool else self
        x = x.permute(dims + rest)  # indexed dims first
        x = x.reshape((1,) * len(batch) + x.shape)
        for k, (d, idx) in enumerate(zip(dims, indexes)):
            size = self.shape[d]
            fixed = idx.lt(0).where(idx + size, idx).expand(batch) if batch else idx.lt(0).where(idx + size, idx)
            onehot = fixed.reshape(batch + (1,)) == Tensor.arange(size, device=self.device).reshape(
                (1,) * len(batch) + (size,)
            )
            remaining = len(dims) - k - 1
            onehot = onehot.reshape(batch + (size,) + (1,) * (remaining + len(rest)))
            x = onehot.where(x, 0).sum(len(batch), dtype=x.dtype)  # select, not multiply: inf and nan stay exact
        # x is now batch + rest dims; numpy puts batch dims at the first index's place when the indexed dims are
        # adjacent
        if dims == list(range(dims[0], dims[0] + len(dims))):
            nb = len(batch)
            order = list(range(nb, nb + dims[0])) + list(range(nb)) + list(range(nb + dims[0], x.ndim))
            x = x.permute(order)
        return x.cast(self.dtype)

    # --- broadcasting and elementwise ---
    def _broadcasted(
        self, other: TensorLike, reverse: bool = False, op: str = "op", match_dtype: bool = True
    ) -> tuple[Tensor, Tensor]:
        x: Tensor = self
        if isinstance(other, Tensor):
            y = other
            if y.device != x.device:
                from tinygrad_core.errors import DeviceError

                raise DeviceError(
                    f"{op}: tensors on different devices ({x.device} and {y.device}); move one with .to(device)"
                )
        else:
            if isinstance(other, np.generic):
                other = other.item()
            if not isinstance(other, (bool, int, float)):
                raise TypeError(f"{op}: unsupported operand type {type(other).__name__}")
            # a Python scalar adapts to the tensor's dtype unless it needs a wider kind (float into int)
            kind = x.dtype
            if isinstance(other, float) and not dtypes.is_float(x.dtype):
                kind = dtypes.default_float
            elif isinstance(other, int) and not isinstance(other, bool) and x.dtype == dtypes.bool:
                kind = dtypes.default_int
            y = Tensor(LazyBuffer.const(other, kind, x.device), device=x.device, requires_grad=False)
        if reverse:
            x, y = y, x
        if match_dtype:
            kind = least_upper_dtype(x.dtype, y.dtype)
            x, y = x.cast(kind), y.cast(kind)
        try:
            shape = tuple(np.broadcast_shapes(x.shape, y.shape))
        except ValueError:
            raise ShapeError(f"{op}: shapes {x.shape} and {y.shape} can't be broadcast together") from None
        return x.expand(shape), y.expand(shape)

    def cast(self, dtype: DType | str) -> Tensor:
        """`Tensor([1.7]).cast(dtypes.int32).tolist()` -> [1]"""
        kind = to_dtype(dtype)
        return self if kind == self.dtype else F.Cast.apply(self, dtype=kind)

    def bitcast(self, dtype: DType | str) -> Tensor:
        """Reinterpret the bits as another dtype of the same size."""
        kind = to_dtype(dtype)
        if kind.itemsize != self.dtype.itemsize:
            raise ValueError(f"bitcast from {self.dtype} to {kind} needs equal item sizes")
        if self.requires_grad:
            raise RuntimeError("bitcast has no gradient")
        return self if kind == self.dtype else F.Cast.apply(self, dtype=kind, bitcast=True)

    def half(self) -> Tensor:
        return self.cast(dtypes.float16)

    def long(self) -> Tensor:
        return self.cast(dtypes.int64)

    def double(self) -> Tensor:
        return self.cast(dtypes.float64)

    def _float(self) -> Tensor:
        return self.cast(least_upper_float(self.dtype))

    def add(self, x: TensorLike, reverse: bool = False) -> Tensor:
        """`(Tensor([1, 2]) + 1).tolist()` -> [2, 3]"""
        a, b = self._broadcasted(x, reverse, "add")
        if a.dtype == dtypes.bool:
            return a.bitwise_or(b)
        return F.Add.apply(a, b)

    def sub(self, x: TensorLike, reverse: bool = False) -> Tensor:
        """`(Tensor([3]) - 1).tolist()` -> [2]"""
        a, b = self._broadcasted(x, reverse, "sub")
        if a.dtype == dtypes.bool:
            raise TypeError("subtracting bool tensors is not supported; use ^ or logical_xor")
        return F.Sub.apply(a, b)

    def mul(self, x: TensorLike, reverse: bool = False) -> Tensor:
        """`(Tensor([2]) * 3).tolist()` -> [6]"""
        a, b = self._broadcasted(x, reverse, "mul")
        if a.dtype == dtypes.bool:
            return a.bitwise_and(b)
        return F.Mul.apply(a, b)

    def div(self, x: TensorLike, reverse: bool = False, rounding_mode: str | None = None) -> Tensor:
        """True division gives floats; rounding_mode 'trunc' or 'floor' rounds. `(Tensor([3]) / 2).tolist()` -> [1.5]"""
        a, b = self._broadcasted(x, reverse, "div")
        if rounding_mode == "trunc":
            return a.idiv(b) if not dtypes.is_float(a.dtype) else (a / b).trunc()
        if rounding_mode == "floor":
            return a._floordiv(b)
        if rounding_mode is not None:
            raise ArgumentError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
        return F.Div.apply(a._float(), b._float())

    def idiv(self, x: TensorLike, reverse: bool = False) -> Tensor:
        """Integer division truncating toward zero (C's /). `Tensor([-7]).idiv(2).tolist()` -> [-3]"""
        a, b = self._broadcasted(x, reverse, "idiv")
        if dtypes.is_float(a.dtype):
            raise TypeError(f"idiv needs integer tensors, got {a.dtype}")
        return F.NoGrad.apply(a, b, result=a.lazydata.alu(Ops.IDIV, b.lazydata))

    def _floordiv(self, b: Tensor) -> Tensor:
        if dtypes.is_float(self.dtype):
            return (self / b).floor()
        quotient = self.idiv(b)
        # truncation rounds toward zero; floor differs when the signs differ and there is a remainder
        adjust = ((self.lt(0)) ^ (b.lt(0))) & (quotient * b).ne(self)
        return adjust.where(quotient - 1, quotient)

    def __floordiv__(self, x: TensorLike) -> Tensor:
        a, b = self._broadcasted(x, op="floordiv")
        return a._floordiv(b)

    def __rfloordiv__(self, x: TensorLike) -> Tensor:
        a, b = self._broadcasted(x, True, op="floordiv")
        return a._floordiv(b)

    def mod(self, x: TensorLike, reverse: bool = False) -> Tensor:
        """Remainder with the sign of the divisor, like Python and numpy. `(Tensor([-7]) % 3).tolist()` -> [2]"""
        a, b = self._broadcasted(x, reverse, "mod")
        if dtypes.is_float(a.dtype):
            return a - (a / b).floor() * b
        remainder = F.NoGrad.apply(a, b, result=a.lazydata.alu(Ops.MOD, b.lazydata))
        fix = remainder.ne(0) & (remainder.lt(0) ^ b.lt(0))
        return fix.where(remainder + b, remainder)

    def neg(self) -> Tensor:
        if self.dtype == dtypes.bool:
            return self.logical_not()
        return F.Neg.apply(self)

    def reciprocal(self) -> Tensor:
        return F.Reciprocal.apply(self._float())

    def maximum(self, x: TensorLike) -> Tensor:
        """Elementwise max. `Tensor([1, 5]).maximum(3).tolist()` -> [3, 5]"""
        a, b = self._broadcasted(x, op="maximum")
        return F.Maximum.apply(a, b)

    def minimum(self, x: TensorLike) -> Tensor:
        a, b = self._broadcasted(x, op="minimum")
        if a.dtype == dtypes.bool:
            return a & b
        if dtypes.is_float(a.dtype):
            return -F.Maximum.apply(-a, -b)
        return a.lt(b).where(a, b)  # integers: a select never overflows (negating the minimum does)

    def where(self, x: TensorLike, y: TensorLike) -> Tensor:
        """Select x where self is true, else y. `Tensor([True, False]).where(1, 2).tolist()` -> [1, 2]"""
        if isinstance(x, Tensor):
            x, y = x._broadcasted(y, op="where")
        elif isinstance(y, Tensor):
            y, x = y._broadcasted(x, op="where")
        else:
            x, y = Tensor(x, device=self.device)._broadcasted(y, op="where")
        cond, x = self.cast(dtypes.bool)._broadcasted(x, op="where", match_dtype=False)
        cond, y = cond._broadcasted(y, op="where", match_dtype=False)
        return F.Where.apply(cond, x.expand(cond.shape), y.expand(cond.shape))

    def masked_fill(self, mask: Tensor, value: TensorLike) -> Tensor:
        return mask.where(value, self)

    # --- comparisons (no gradient) ---
    def _compare(self, op: Ops, x: TensorLike, reverse: bool = False, name: str = "compare") -> Tensor:
        a, b = self._broadcasted(x, reverse, name)
        return F.NoGrad.apply(a, b, result=a.lazydata.alu(op, b.lazydata))

    def lt(self, x: TensorLike) -> Tensor:
        return self._compare(Ops.CMPLT, x, name="lt")

    def gt(self, x: TensorLike) -> Tensor:
        return self._compare(Ops.CMPLT, x, reverse=True, name="gt")

    def ne(self, x: TensorLike) -> Tensor:
        return self._compare(Ops.CMPNE, x, name="ne")

    def eq(self, x: TensorLike) -> Tensor:
        return self.ne(x).logical_not()

    def le(self, x: TensorLike) -> Tensor:
        return self.gt(x).logical_not()

    def ge(self, x: TensorLike) -> Tensor:
        return self.lt(x).logical_not()

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

    # --- bitwise and logical (no gradient) ---
    def _bitwise(self, op: Ops, x: TensorLike, reverse: bool, name: str) -> Tensor:
        a, b = self._broadcasted(x, reverse, name)
        if dtypes.is_float(a.dtype):
            raise DTypeError(f"{name} needs integer or bool tensors, got {a.dtype}")
        return F.NoGrad.apply(a, b, result=a.lazydata.alu(op, b.lazydata))

    def bitwise_and(self, x: TensorLike, reverse: bool = False) -> Tensor:
        return self._bitwise(Ops.AND, x, reverse, "bitwise_and")

    def bitwise_or(self, x: TensorLike, reverse: bool = False) -> Tensor:
        return self._bitwise(Ops.OR, x, reverse, "bitwise_or")

    def bitwise_xor(self, x: TensorLike, reverse: bool = False) -> Tensor:
        return self._bitwise(Ops.XOR, x, reverse, "bitwise_xor")

    def bitwise_not(self) -> Tensor:
        if self.dtype == dtypes.bool:
            return self.logical_not()
        return self.bitwise_xor(-1 if not dtypes.is_unsigned(self.dtype) else dtypes.max(self.dtype))

    def logical_not(self) -> Tensor:
        x = self.cast(dtypes.bool)
        return F.NoGrad.apply(x, result=x.lazydata.alu(Ops.NEG))

    def lshift(self, x: TensorLike) -> Tensor:
        """`Tensor([1]) << 3` -> [8]"""
        return self._bitwise(Ops.SHL, x, False, "lshift")

    def rshift(self, x: TensorLike) -> Tensor:
        return self._bitwise(Ops.SHR, x, False, "rshift")

    # --- unary math ---
    def relu(self) -> Tensor:
        """`Tensor([-1.0, 2.0]).relu().tolist()` -> [0.0, 2.0]"""
        return F.Relu.apply(self)

    def exp(self) -> Tensor:
        return F.Exp.apply(self._float())

    def exp2(self) -> Tensor:
        return F.Exp.apply(self._float() * math.log(2))

    def log(self) -> Tensor:
        return F.Log.apply(self._float())

    def log2(self) -> Tensor:
        return self.log() / math.log(2)

    def log10(self) -> Tensor:
        """`Tensor([100.0]).log10().tolist()` -> [2.0]"""
        return self.log() / math.log(10)

    def sqrt(self) -> Tensor:
        return F.Sqrt.apply(self._float())

    def rsqrt(self) -> Tensor:
        return self.sqrt().reciprocal()

    def sin(self) -> Tensor:
        return F.Sin.apply(self._float())

    def cos(self) -> Tensor:
        return ((math.pi / 2) - self._float()).sin()

    def tan(self) -> Tensor:
        return self.sin() / self.cos()

    def sigmoid(self) -> Tensor:
        return F.Sigmoid.apply(self._float())

    def tanh(self) -> Tensor:
        return 2.0 * (2.0 * self._float()).sigmoid() - 1.0

    def abs(self) -> Tensor:
        """`Tensor([-2, 3]).abs().tolist()` -> [2, 3]"""
        if dtypes.is_unsigned(self.dtype) or self.dtype == dtypes.bool:
            return self
        if not dtypes.is_float(self.dtype):
            return self.lt(0).where(-self, self)
        return self.relu() + (-self).relu()

    def sign(self) -> Tensor:
        """-1, 0 or 1. `Tensor([-3.0, 0.0, 2.0]).sign().tolist()` -> [-1.0, 0.0, 1.0]"""
        return self.ne(0).where(self.lt(0).where(-1, 1), 0).cast(self.dtype)

    def square(self) -> Tensor:
        return self * self

    def trunc(self) -> Tensor:
        """Round toward zero (no gradient flows through rounding)."""
        if not dtypes.is_float(self.dtype):
            return self
        return F.NoGrad.apply(self, result=self.lazydata.alu(Ops.TRUNC))

    def floor(self) -> Tensor:
        truncated = self.trunc()
        return self.lt(truncated).where(truncated - 1, truncated) if dtypes.is_float(self.dtype) else self

    def ceil(self) -> Tensor:
        truncated = self.trunc()
        return self.gt(truncated).where(truncated + 1, truncated) if dtypes.is_float(self.dtype) else self

    def clip(self, min_: TensorLike | None = None, max_: TensorLike | None = None) -> Tensor:
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

    clamp = clip

    def pow(self, x: TensorLike, reverse: bool = False) -> Tensor:
        """self ** x; integer tensors to integer powers stay integers (exact), as in PyTorch and tinygrad.

        `(Tensor([2.0]) ** 3).tolist()` -> [8.0]"""
        scalar = None if reverse or isinstance(x, (Tensor, bool)) else x
        if isinstance(scalar, int) and not dtypes.is_float(self.dtype) and self.dtype != dtypes.bool:
            if scalar < 0:
                raise ArgumentError(f"pow: integers to negative integer powers are not allowed ({self.dtype} ** {x})")
            return self._int_pow_scalar(scalar)
        if scalar is not None and float(scalar).is_integer() and abs(scalar) <= 16:
            if scalar == 0:
                return F.NoGrad.apply(self, result=self.lazydata.const_like(1))
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
        return F.Pow.apply(base, exponent)

    def _int_pow_scalar(self, n: int) -> Tensor:
        """self ** n for an integer tensor and a non-negative Python int, by squaring (wraps like C)."""
        result, square = self.ones_like(), self
        while n:
            if n & 1:
                result = result * square
            n >>= 1
            if n:
                square = square * square
        return result

    def _int_pow(self, exponent: Tensor) -> Tensor:
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

    # --- reductions ---
    def _reduce_axes(self, axis: int | Sequence[int] | None) -> tuple[int, ...]:
        if axis is None:
            return tuple(range(self.ndim))
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        resolved = [self._axis(a) for a in axes]
        if len(set(resolved)) != len(resolved):
            raise ArgumentError(f"axis {axes} names a dim more than once (tensor of shape {self.shape})")
        return tuple(sorted(resolved)) if self.ndim else ()  # a 0-d tensor takes axis 0 or -1, as in PyTorch

    def _reduce(self, fn: type[F.Function], axis: int | Sequence[int] | None, keepdim: bool) -> Tensor:
        axes = self._reduce_axes(axis)
        out = fn.apply(self, axis=axes) if axes else self
        if keepdim:
            return out
        return out.reshape(tuple(s for i, s in enumerate(self.shape) if i not in axes))

    def sum(
        self,
        axis: int | Sequence[int] | None = None,
        keepdim: bool = False,
        acc_dtype: DType | None = None,
        dtype: DType | None = None,
    ) -> Tensor:
        """`Tensor([[1, 2], [3, 4]]).sum(axis=1).tolist()` -> [3, 7]"""
        kind = to_dtype(dtype) if dtype is not None else to_dtype(acc_dtype) if acc_dtype is not None else None
        if kind is None:
            if self.dtype == dtypes.bool or (dtypes.is_int(self.dtype) and self.dtype.itemsize < 4):
                kind = dtypes.uint32 if dtypes.is_unsigned(self.dtype) else dtypes.int32
            else:
                kind = self.dtype
        if kind in (dtypes.float16, dtypes.bfloat16):
            return self.cast(dtypes.float32)._reduce(F.Sum, axis, keepdim).cast(kind)
        return self.cast(kind)._reduce(F.Sum, axis, keepdim)

    def max(self, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """`Tensor([[1, 5], [7, 2]]).max(axis=0).tolist()` -> [7, 5]"""
        if self.dtype == dtypes.bool:
            return self.cast(dtypes.uint8).max(axis, keepdim).cast(dtypes.bool)
        return self._reduce(F.Max, axis, keepdim)

    def min(self, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """`Tensor([3, 1, 2]).min().item()` -> 1"""
        if self.dtype == dtypes.bool:
            return self.logical_not().max(axis, keepdim).logical_not()
        if dtypes.is_unsigned(self.dtype):
            top = dtypes.max(self.dtype)
            return top - (top - self).max(axis, keepdim)
        if dtypes.is_int(self.dtype):
            return ~((~self).max(axis, keepdim))  # ~x = -x - 1 reverses the order without overflowing at the minimum
        return -((-self).max(axis, keepdim))

    def mean(self, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """`Tensor([1.0, 2.0, 3.0]).mean().item()` -> 2.0"""
        x = self._float()
        count = _prod([self.shape[a] for a in self._reduce_axes(axis)])
        total = x.sum(axis, keepdim)
        return total / count if count else total * float("nan")

    def var(self, axis: int | Sequence[int] | None = None, keepdim: bool = False, correction: int = 1) -> Tensor:
        """Variance with Bessel's correction by default. `Tensor([1.0, 3.0]).var().item()` -> 2.0"""
        x = self._float()
        count = _prod([self.shape[a] for a in self._reduce_axes(axis)])
        deviation = x - x.mean(axis, keepdim=True)
        return (deviation * deviation).sum(axis, keepdim) / max(count - correction, 0)

    def std(self, axis: int | Sequence[int] | None = None, keepdim: bool = False, correction: int = 1) -> Tensor:
        return self.var(axis, keepdim, correction).sqrt()

    def std_mean(
        self, axis: int | Sequence[int] | None = None, keepdim: bool = False, correction: int = 1
    ) -> tuple[Tensor, Tensor]:
        return self.std(axis, keepdim, correction), self.mean(axis, keepdim)

    def prod(
        self, axis: int | Sequence[int] | None = None, keepdim: bool = False, dtype: DType | None = None
    ) -> Tensor:
        """Product of elements. `Tensor([2, 3, 4]).prod().item()` -> 24"""
        x = self.cast(to_dtype(dtype)) if dtype is not None else self
        if dtype is None and (x.dtype == dtypes.bool or (dtypes.is_int(x.dtype) and x.dtype.itemsize < 4)):
            x = x.cast(dtypes.uint32 if dtypes.is_unsigned(x.dtype) else dtypes.int32)
        axes = self._reduce_axes(axis)
        rest = [a for a in range(self.ndim) if a not in axes]
        # reduce by multiplying halves: exact for integers, log2(n) small kernels
        flat = x.permute(rest + list(axes)).reshape(
            tuple(self.shape[a] for a in rest) + (_prod([self.shape[a] for a in axes]),)
        )
        while flat.shape[-1] > 1:
            if flat.shape[-1] % 2:
                flat = flat.pad([(0, 0)] * (flat.ndim - 1) + [(0, 1)], value=1)
            halves = flat.reshape(flat.shape[:-1] + (flat.shape[-1] // 2, 2))
            flat = (halves[..., 0] * halves[..., 1]).contiguous().contiguous_backward()
        if flat.shape[-1] == 0:
            flat = flat.pad([(0, 0)] * (flat.ndim - 1) + [(0, 1)], value=1)
        out = flat.reshape(tuple(self.shape[a] for a in rest))
        if keepdim:
            out = out.reshape(tuple(1 if i in axes else s for i, s in enumerate(self.shape)))
        return out

    def argmax(self, axis: int | None = None, keepdim: bool = False) -> Tensor:
        """Index of the first maximum. `Tensor([1, 9, 3]).argmax().item()` -> 1"""
        if axis is None:
            return self.flatten().argmax(0)
        axis = self._axis(axis)
        n = self.shape[axis]
        if n == 0:
            raise ValueError(f"argmax of an empty dim (shape {self.shape})")
        is_max = self.eq(self.max(axis, keepdim=True))
        # count down from n so the first maximum wins the max below
        countdown = Tensor.arange(n, 0, -1, device=self.device).reshape((n,) + (1,) * (self.ndim - axis - 1))
        return (n - (is_max.cast(dtypes.int32) * countdown).max(axis, keepdim)).cast(dtypes.int32)

    def argmin(self, axis: int | None = None, keepdim: bool = False) -> Tensor:
        """Index of the first minimum."""
        if self.dtype == dtypes.bool:
            return self.logical_not().argmax(axis, keepdim)
        if dtypes.is_unsigned(self.dtype):
            return (dtypes.max(self.dtype) - self).argmax(axis, keepdim)
        if dtypes.is_int(self.dtype):
            return (~self).argmax(axis, keepdim)
        return (-self).argmax(axis, keepdim)

    def any(self, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return self.bool().max(axis, keepdim)

    def all(self, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return self.logical_not().any(axis, keepdim).logical_not()

    # --- linear algebra ---
    def dot(self, w: Tensor) -> Tensor:
        """numpy's matmul: 1-D and batched operands. `Tensor([1, 2]) @ Tensor([[1], [1]])` -> [3]"""
        if self.ndim == 0 or w.ndim == 0:
            raise ShapeError(f"matmul: both operands need at least 1 dim, got {self.shape} and {w.shape}")
        x = self.unsqueeze(0) if self.ndim == 1 else self
        y = w.unsqueeze(1) if w.ndim == 1 else w
        if x.shape[-1] != y.shape[-2]:
            raise ShapeError(
                f"matmul: shapes {self.shape} and {w.shape} are not aligned ({x.shape[-1]} != {y.shape[-2]})"
            )
        x = x.reshape(x.shape[:-1] + (1, x.shape[-1]))  # (..., n, 1, k)
        y = y.transpose(-1, -2).reshape(y.shape[:-2] + (1,) + (y.shape[-1], y.shape[-2]))  # (..., 1, m, k)
        out = (x * y).sum(-1)
        if self.ndim == 1:
            out = out.squeeze(-2)
        if w.ndim == 1:
            out = out.squeeze(-1)
        return out

    def matmul(self, x: Tensor, reverse: bool = False) -> Tensor:
        return x.dot(self) if reverse else self.dot(x)

    def newton_schulz(self, steps: int, params: tuple[float, ...], eps: float = 1e-7) -> Tensor:
        """Orthogonalize the last two dims by `steps` Newton-Schulz iterations of the odd polynomial with coefficients
        `params`: X <- sum_i params[i] * (X X^T)^i X, starting from X / ||X|| (Muon's inner loop; tinygrad's name).

        `Tensor.eye(2).newton_schulz(5, (2.0, -1.5, 0.5)).shape` -> (2, 2)"""
        if self.ndim < 2:
            raise ShapeError(f"newton_schulz: needs at least 2 dims, got shape {self.shape}")
        if self.shape[-2] > self.shape[-1]:
            return self.transpose(-2, -1).newton_schulz(steps, params, eps).transpose(-2, -1)
        x = self / (self.square().sum(axis=(-2, -1), keepdim=True).sqrt() + eps)
        for _ in range(steps):
            gram = x @ x.transpose(-2, -1)
            term, total = x, x * params[0]
            for coefficient in params[1:]:
                term = gram @ term
                total = total + term * coefficient
            x = total
        return x

    # --- activations ---
    def relu6(self) -> Tensor:
        """`Tensor([-1.0, 3.0, 8.0]).relu6().tolist()` -> [0.0, 3.0, 6.0]"""
        return self.relu() - (self - 6).relu()

    def leaky_relu(self, neg_slope: float = 0.01) -> Tensor:
        """`Tensor([-2.0, 3.0]).leaky_relu(0.5).tolist()` -> [-1.0, 3.0]"""
        return self.lt(0).where(self * neg_slope, self)

    def elu(self, alpha: float = 1.0) -> Tensor:
        """alpha * (exp(x) - 1) below zero. `Tensor([0.0, 2.0]).elu().tolist()` -> [0.0, 2.0]"""
        return self.relu() - alpha * (1 - self.exp()).relu()

    def celu(self, alpha: float = 1.0) -> Tensor:
        """`Tensor([0.0, 2.0]).celu().tolist()` -> [0.0, 2.0]"""
        return self.maximum(0) + (alpha * ((self / alpha).exp() - 1)).minimum(0)

    def selu(self, alpha: float = 1.67326, gamma: float = 1.0507) -> Tensor:
        """Scaled ELU (tinygrad's argument names and rounded constants). `Tensor([0.0]).selu().tolist()` -> [0.0]"""
        return gamma * self.ge(0).where(self, alpha * (self.exp() - 1))

    def gelu(self) -> Tensor:
        """GELU, tanh approximation like tinygrad (PyTorch's default is the erf form).

        `Tensor([0.0]).gelu().tolist()` -> [0.0]"""
        x = self._float()
        return 0.5 * x * (1 + (math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)).tanh())

    def quick_gelu(self) -> Tensor:
        """x * sigmoid(1.702 * x). `Tensor([0.0]).quick_gelu().tolist()` -> [0.0]"""
        return self * (self * 1.702).sigmoid()

    def silu(self) -> Tensor:
        """x * sigmoid(x), also called swish. `Tensor([0.0]).silu().tolist()` -> [0.0]"""
        return self * self.sigmoid()

    def swish(self) -> Tensor:
        """Same as silu. `Tensor([0.0]).swish().tolist()` -> [0.0]"""
        return self.silu()

    def softplus(self, beta: float = 1.0) -> Tensor:
        """log(1 + exp(beta * x)) / beta, computed without overflow. `Tensor([0.0]).softplus()` -> [0.6931...]"""
        x = self._float() * beta
        return (x.maximum(0) + (-x.abs()).exp().add(1).log()) * (1 / beta)

    def logsigmoid(self) -> Tensor:
        """log(sigmoid(x)), stable for large |x|. `Tensor([0.0]).logsigmoid()` -> [-0.6931...]"""
        return -(-self).softplus()

    def mish(self) -> Tensor:
        """x * tanh(softplus(x)). `Tensor([0.0]).mish().tolist()` -> [0.0]"""
        return self * self.softplus().tanh()

    def hardtanh(self, min_val: float = -1, max_val: float = 1) -> Tensor:
        """`Tensor([-3.0, 0.5, 3.0]).hardtanh().tolist()` -> [-1.0, 0.5, 1.0]"""
        return self.clip(min_val, max_val)

    def hardsigmoid(self, alpha: float = 1 / 6, beta: float = 0.5) -> Tensor:
        """clip(alpha * x + beta, 0, 1). `Tensor([-4.0, 0.0, 4.0]).hardsigmoid().tolist()` -> [0.0, 0.5, 1.0]"""
        y = alpha * self + beta
        return y.relu() - (y - 1).relu()

    def hardswish(self) -> Tensor:
        """x * relu6(x + 3) / 6. `Tensor([-4.0, 0.0, 4.0]).hardswish().tolist()` -> [-0.0, 0.0, 4.0]"""
        return self * (self + 3).relu6() * (1 / 6)

    def softsign(self) -> Tensor:
        """x / (1 + |x|). `Tensor([-1.0, 3.0]).softsign().tolist()` -> [-0.5, 0.75]"""
        return self / (1 + self.abs())

    def softmax(self, axis: int = -1, dtype: DType | str | None = None) -> Tensor:
        """exp(x) / sum(exp(x)) along an axis, stable. `Tensor([0.0, 0.0]).softmax().tolist()` -> [0.5, 0.5]"""
        _, exp, total = self._softmax(axis, dtype)
        return exp / total

    def log_softmax(self, axis: int = -1, dtype: DType | str | None = None) -> Tensor:
        """log(softmax(x)), stable. `Tensor([0.0, 0.0]).log_softmax()` -> [-0.6931..., -0.6931...]"""
        shifted, _, total = self._softmax(axis, dtype)
        return shifted - total.log()

    def _softmax(self, axis: int, dtype: DType | str | None) -> tuple[Tensor, Tensor, Tensor]:
        x = self.cast(dtype) if dtype is not None else self._float()
        shifted = x - x.max(axis, keepdim=True).detach()  # the max cancels out of the gradient, so don't track it
        exp = shifted.exp()
        return shifted, exp, exp.sum(axis, keepdim=True)

    def logsumexp(self, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """log(sum(exp(x))), stable. `Tensor([0.0, 0.0]).logsumexp().item()` -> 0.6931..."""
        x = self._float()
        top = x.max(axis, keepdim=True).detach()
        top = top.isinf().where(0, top)  # an all -inf (or inf) row: shifting by it would give nan
        out = (x - top).exp().sum(axis, keepdim=True).log() + top
        if keepdim:
            return out
        axes = self._reduce_axes(axis)
        return out.reshape(tuple(s for i, s in enumerate(self.shape) if i not in axes))

    # --- more math ---
    def logaddexp(self, x: TensorLike) -> Tensor:
        """log(exp(self) + exp(x)), stable. `Tensor([0.0]).logaddexp(0.0).item()` -> 0.6931..."""
        a, b = self._broadcasted(x, op="logaddexp")
        a, b = a._float(), b._float()
        top = a.maximum(b).detach()
        return ((a - top).exp() + (b - top).exp()).log() + top

    def lerp(self, end: TensorLike, weight: TensorLike) -> Tensor:
        """self + (end - self) * weight. `Tensor([0.0]).lerp(Tensor([10.0]), 0.3).tolist()` -> [3.0]"""
        return self + (end - self) * weight

    def copysign(self, other: TensorLike) -> Tensor:
        """|self| with the sign of other (-0.0 counts as negative). `Tensor([2.0]).copysign(-1).tolist()` -> [-2.0]"""
        a, b = self._broadcasted(other, op="copysign", match_dtype=False)
        b = b._float()
        negative = b.lt(0) | (b.eq(0) & b.reciprocal().lt(0))
        magnitude = a._float().abs()
        return negative.where(-magnitude, magnitude)

    def erf(self) -> Tensor:
        """The error function (Abramowitz-Stegun 7.1.26, error < 2e-7). `Tensor([0.0]).erf().tolist()` -> [0.0]"""
        x = self._float()
        magnitude = x.lt(0).where(-x, x)
        t = 1 / (1 + 0.3275911 * magnitude)
        poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
        result = 1 - poly * (-magnitude * magnitude).exp()
        return x.lt(0).where(-result, result)

    def round(self) -> Tensor:
        """Round half to even, like numpy and PyTorch. `Tensor([0.5, 1.5, 2.5]).round().tolist()` -> [0.0, 2.0, 2.0]"""
        if not dtypes.is_float(self.dtype):
            return self
        floor = self.floor()
        fraction = self - floor
        up = fraction.gt(0.5) | (fraction.eq(0.5) & floor.mod(2).ne(0))
        return up.where(floor + 1, floor)

    def isinf(self, detect_positive: bool = True, detect_negative: bool = True) -> Tensor:
        """`Tensor([1.0, float("inf"), float("-inf")]).isinf().tolist()` -> [False, True, True]"""
        out = Tensor.full(self.shape, False, dtype=dtypes.bool, device=self.device)
        if not dtypes.is_float(self.dtype):
            return out
        if detect_positive:
            out = out | self.eq(math.inf)
        if detect_negative:
            out = out | self.eq(-math.inf)
        return out

    def isnan(self) -> Tensor:
        """`Tensor([1.0, float("nan")]).isnan().tolist()` -> [False, True]"""
        return self.ne(self)

    def isfinite(self) -> Tensor:
        """`Tensor([1.0, float("inf"), float("nan")]).isfinite().tolist()` -> [True, False, False]"""
        return (self.isinf() | self.isnan()).logical_not()

    def isclose(self, other: TensorLike, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
        """|self - other| <= atol + rtol * |other|, both finite, or equal.

        `Tensor([1.0, 2.0]).isclose(Tensor([1.0, 2.1])).tolist()` -> [True, False]"""
        a, b = self._broadcasted(other, op="isclose")
        close = (a - b).abs().le(atol + rtol * b.abs()) & a.isfinite() & b.isfinite()
        out = a.eq(b) | close
        return out | (a.isnan() & b.isnan()) if equal_nan else out

    def sinh(self) -> Tensor:
        """`Tensor([0.0]).sinh().tolist()` -> [0.0]"""
        return (self.exp() - (-self).exp()) * 0.5

    def cosh(self) -> Tensor:
        """`Tensor([0.0]).cosh().tolist()` -> [1.0]"""
        return (self.exp() + (-self).exp()) * 0.5

    def asinh(self) -> Tensor:
        """`Tensor([0.0]).asinh().tolist()` -> [0.0]"""
        x = self._float()
        magnitude = x.lt(0).where(-x, x)  # odd symmetry keeps large negative inputs free of cancellation
        result = (magnitude + (magnitude * magnitude + 1).sqrt()).log()
        return x.lt(0).where(-result, result)

    def acosh(self) -> Tensor:
        """For x >= 1. `Tensor([1.0]).acosh().tolist()` -> [0.0]"""
        x = self._float()
        return (x + (x * x - 1).sqrt()).log()

    def atanh(self) -> Tensor:
        """For |x| < 1. `Tensor([0.0]).atanh().tolist()` -> [0.0]"""
        x = self._float()
        return ((1 + x) / (1 - x)).log() * 0.5

    def asin(self) -> Tensor:
        """Arcsine, as atan(x / sqrt(1 - x^2)). `Tensor([1.0]).asin().item()` -> 1.5707..."""
        x = self._float()
        return (x / ((1 - x) * (1 + x)).sqrt()).atan()

    def acos(self) -> Tensor:
        """Arccosine, as 2 atan(sqrt((1 - x) / (1 + x))), accurate near 1. `Tensor([1.0]).acos().tolist()` -> [0.0]"""
        x = self._float()
        return ((1 - x) / (1 + x)).sqrt().atan() * 2

    def atan(self) -> Tensor:
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

    # --- cumulative ops (scans) ---
    def cumsum(self, axis: int = 0) -> Tensor:
        """Running sum along an axis. `Tensor([1, 2, 3]).cumsum().tolist()` -> [1, 3, 6]"""
        return self._scan(axis, "sum")

    def cumprod(self, axis: int = 0) -> Tensor:
        """Running product along an axis. `Tensor([1, 2, 3]).cumprod().tolist()` -> [1, 2, 6]"""
        return self._scan(axis, "prod")

    def cummax(self, axis: int = 0) -> tuple[Tensor, Tensor]:
        """Running max along an axis and the int32 index where each was reached (the latest, on ties), as PyTorch and
        tinygrad return them. `Tensor([1, 3, 2]).cummax()[0].tolist()` -> [1, 3, 3]"""
        values = self._scan(axis, "max")
        return values, self._scan_index(values, axis)

    def cummin(self, axis: int = 0) -> tuple[Tensor, Tensor]:
        """Running min along an axis and the int32 index where each was reached (the latest, on ties).

        `Tensor([3, 1, 2]).cummin()[0].tolist()` -> [3, 1, 1]"""
        flipped = self.logical_not() if self.dtype == dtypes.bool else ~self if dtypes.is_int(self.dtype) else -self
        best = flipped._scan(axis, "max")
        values = best.logical_not() if self.dtype == dtypes.bool else ~best if dtypes.is_int(self.dtype) else -best
        return values, self._scan_index(values, axis)

    def _scan_index(self, values: Tensor, axis: int) -> Tensor:
        """Where a running extreme was last reached: a running max over the positions where self equals it."""
        if self.ndim == 0 or self.numel() == 0:
            return self.zeros_like(dtype=dtypes.int32)
        axis = self._axis(axis)
        n = self.shape[axis]
        position = Tensor.arange(n, device=self.device).reshape((n,) + (1,) * (self.ndim - axis - 1))
        return self.eq(values).where(position, -1)._scan(axis, "max")

    def logcumsumexp(self, axis: int = 0) -> Tensor:
        """log(cumsum(exp(x))), stable. `Tensor([0.0, 0.0]).logcumsumexp().tolist()` -> [0.0, 0.6931...]"""
        return self._float()._scan(axis, "logsumexp")

    def _scan(self, axis: int, op: str) -> Tensor:
        axis = self._axis(axis)
        if self.ndim == 0 or self.numel() == 0:
            return self
        x = self.transpose(axis, -1)
        if op == "sum" and (x.dtype == dtypes.bool or (dtypes.is_int(x.dtype) and x.dtype.itemsize < 4)):
            x = x.cast(dtypes.uint32 if dtypes.is_unsigned(x.dtype) else dtypes.int32)
        return x._scan_last(op).transpose(axis, -1)

    def _scan_last(self, op: str) -> Tensor:
        """Inclusive scan of the last axis. Axes longer than _SCAN_BLOCK are split into blocks: a scan inside each
        block, a scan of the block totals, and one combine, so memory stays O(n * _SCAN_BLOCK), not O(n^2)."""
        n = self.shape[-1]
        identity = {"sum": 0, "prod": 1, "max": dtypes.min(self.dtype), "logsumexp": -math.inf}[op]
        lead = [(0, 0)] * (self.ndim - 1)
        if n <= _SCAN_BLOCK:
            # row i of the windows holds n - 1 - i identities and then x[0..i]: a reduce finishes the scan
            windows = self.pad(lead + [(n - 1, 0)], value=identity)._pool((n,), (1,), (1,))
            return getattr(windows, op)(-1)  # Tensor.sum, .prod, .max or .logsumexp
        blocks = math.ceil(n / _SCAN_BLOCK)
        x = self.pad(lead + [(0, blocks * _SCAN_BLOCK - n)], value=identity)
        inner = x.reshape(self.shape[:-1] + (blocks, _SCAN_BLOCK))._scan_last(op)
        totals = inner.shrink([None] * (inner.ndim - 1) + [(_SCAN_BLOCK - 1, _SCAN_BLOCK)]).squeeze(-1)
        # what comes before each block: the scan of the totals, shifted right by one block
        carry = totals._scan_last(op).pad(lead + [(1, -1)], value=identity).unsqueeze(-1)
        combine = {"sum": "add", "prod": "mul", "max": "maximum", "logsumexp": "logaddexp"}[op]
        out = getattr(inner, combine)(carry).reshape(self.shape[:-1] + (blocks * _SCAN_BLOCK,))
        return out.shrink([None] * (self.ndim - 1) + [(0, n)])

    # --- windows, convolution and pooling ---
    def _pool(self, kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int]) -> Tensor:
        """Sliding windows over the last len(kernel) dims: (..., *spatial) -> (..., *out, *kernel), views only.

        Windows that don't overlap (k <= s, no dilation): cut each dim into (out, s) blocks, keep k of each.
        Otherwise, along one dim of size i: repeat the input, lay it out in rows of length L = d (mod i), so row j
        starts at element j*d; columns 0, s, 2s, ... of the first k rows are the windows. Without padding the view
        stack merges into one strided view: no copy, and a backend reads each element in place."""
        dims = len(kernel)
        prefix, spatial = self.shape[:-dims], self.shape[-dims:]
        out = [(i - d * (k - 1) - 1) // s + 1 for i, k, s, d in zip(spatial, kernel, stride, dilation)]
        if any(o <= 0 for o in out) or any(k <= 0 or s <= 0 or d <= 0 for k, s, d in zip(kernel, stride, dilation)):
            raise ShapeError(
                f"pool: kernel {tuple(kernel)} (dilation {tuple(dilation)}) does not fit input {self.shape}"
            )
        keep: list[tuple[int, int] | None] = [None] * len(prefix)
        n = len(prefix)
        if all(k <= s and d == 1 for k, s, d in zip(kernel, stride, dilation)):
            # no expand here, so the gradient is a padded view too, not a sum over repeated copies
            x = self.pad(keep + [(0, max(0, o * s - i)) for i, o, s in zip(spatial, out, stride)])
            x = x.shrink(keep + [(0, o * s) for o, s in zip(out, stride)])
            x = x.reshape(prefix + tuple(d for o, s in zip(out, stride) for d in (o, s)))
            x = x.shrink(keep + [b for o, k in zip(out, kernel) for b in ((0, o), (0, k))])
            return x.permute(list(range(n)) + [n + 2 * i for i in range(dims)] + [n + 2 * i + 1 for i in range(dims)])
        rows = [
            i + d + i * max(0, math.ceil((o * s - i - d) / i)) for i, d, o, s in zip(spatial, dilation, out, stride)
        ]
        reps = [math.ceil(k * row / i) for k, row, i in zip(kernel, rows, spatial)]
        # small kernels take their gradient from F.Windows (one padded slice per kernel offset); long windows
        # (cumsum's) differentiate the views below instead of adding thousands of slices
        windowed = math.prod(kernel) <= WINDOWS_GRADIENT_MAX
        x = (self.detach() if windowed else self).repeat([1] * len(prefix) + reps)
        x = x.shrink(keep + [(0, k * row) for k, row in zip(kernel, rows)])
        x = x.reshape(prefix + tuple(d for k, row in zip(kernel, rows) for d in (k, row)))
        x = x.shrink(keep + [b for k, o, s in zip(kernel, out, stride) for b in ((0, k), (0, o * s))])
        x = x.reshape(prefix + tuple(d for k, o, s in zip(kernel, out, stride) for d in (k, o, s)))
        x = x.shrink(keep + [b for k, o in zip(kernel, out) for b in ((0, k), (0, o), (0, 1))])
        x = x.reshape(prefix + tuple(d for k, o in zip(kernel, out) for d in (k, o)))
        x = x.permute(list(range(n)) + [n + 2 * i + 1 for i in range(dims)] + [n + 2 * i for i in range(dims)])
        if not windowed:
            return x
        return F.Windows.apply(
            self, windows=x.lazydata, kernel=tuple(kernel), stride=tuple(stride), dilation=tuple(dilation)
        )

    def unfold(self, dim: int, size: int, step: int) -> Tensor:
        """Windows of `size` every `step` along dim, as a new last dim. `Tensor([1, 2, 3]).unfold(0, 2, 1).tolist()`
        -> [[1, 2], [2, 3]]"""
        dim = self._axis(dim)
        if not 0 <= size <= self.shape[dim] or step <= 0:
            raise ShapeError(f"unfold: size {size} and step {step} don't fit dim {dim} of shape {self.shape}")
        x = self.transpose(dim, -1)
        if size == 0:  # (n // step + 1) empty windows, as PyTorch counts them
            empty = x.shrink([None] * (x.ndim - 1) + [(0, 0)]).unsqueeze(-2)
            return empty.expand(x.shape[:-1] + (self.shape[dim] // step + 1, 0)).transpose(dim, -2)
        return x._pool((size,), (step,), (1,)).transpose(dim, -2)

    def conv2d(
        self,
        weight: Tensor,
        bias: Tensor | None = None,
        groups: int = 1,
        stride: int | Sequence[int] = 1,
        dilation: int | Sequence[int] = 1,
        padding: int | str | Sequence[Any] = 0,
        dtype: DType | str | None = None,
    ) -> Tensor:
        """Convolution (cross-correlation) over the weight's spatial dims: 1, 2, 3 or more (tinygrad's conv2d).

        Input (N, groups*Cin, *spatial), weight (Cout, Cin, *kernel). padding: an int, one int per spatial dim,
        (before, after) pairs per dim, a flat PyTorch-pad tuple (left, right, top, bottom), "valid" or "same".
        `Tensor.ones(1, 1, 3, 3).conv2d(Tensor.ones(1, 1, 2, 2)).shape` -> (1, 1, 2, 2)"""
        batch, channels = self.shape[:2]
        cout, cin, kernel = weight.shape[0], weight.shape[1], weight.shape[2:]
        dims = len(kernel)
        if self.ndim != weight.ndim or self.ndim < 3 or channels != groups * cin or cout % groups:
            raise ShapeError(
                f"conv2d: input {self.shape} and weight {weight.shape} don't fit with groups={groups}: "
                f"need input (N, groups * weight.shape[1], ...) with as many spatial dims as the weight"
            )
        if bias is not None and bias.shape != (cout,):
            raise ShapeError(f"conv2d: bias {bias.shape} should have shape ({cout},) for weight {weight.shape}")
        stride_, dilation_ = _int_tuple(stride, dims, "stride"), _int_tuple(dilation, dims, "dilation")
        if padding == "same" and any(s != 1 for s in stride_):
            raise ValueError("conv2d: padding='same' needs stride 1, like PyTorch")
        pads = _pool_pads(padding, dims, kernel, dilation_)
        windows = self.pad([(0, 0), (0, 0), *pads])._pool(kernel, stride_, dilation_)  # (N, C, *out, *kernel)
        out = windows.shape[2 : 2 + dims]
        # one reduce over (cin, *kernel) of windows x weight: a backend sees SUM(MUL(view, view)), one einsum on CPU.
        # The kernel dims go before the output dims: the windows' gradient is then laid out (..., *kernel, *out), so
        # the kernel computing it writes, and F.Windows' slices of it read, whole output rows
        windows = windows.permute([0, 1, *range(2 + dims, 2 + 2 * dims), *range(2, 2 + dims)])
        x = windows.reshape(batch, groups, 1, cin, *kernel, *out)
        w = weight.reshape(1, groups, cout // groups, cin, *kernel, *([1] * dims))
        axes = [3, *range(4, 4 + dims)]
        result = (x * w).sum(axes, dtype=to_dtype(dtype) if dtype is not None else None).reshape(batch, cout, *out)
        # both gradient reductions read the output's gradient broadcast over (cin, *kernel): give it a buffer, or
        # the elementwise backward behind it (relu, pooling, ...) would be recomputed for every broadcast copy
        result = result.contiguous_backward()
        return result if bias is None else result + bias.reshape(1, cout, *([1] * dims))

    def conv1d(
        self,
        weight: Tensor,
        bias: Tensor | None = None,
        groups: int = 1,
        stride: int | Sequence[int] = 1,
        dilation: int | Sequence[int] = 1,
        padding: int | str | Sequence[Any] = 0,
        dtype: DType | str | None = None,
    ) -> Tensor:
        """PyTorch's name for conv2d over one spatial dim (input (N, C, L), weight (Cout, Cin, K)).

        `Tensor.ones(1, 1, 4).conv1d(Tensor.ones(1, 1, 2)).tolist()` -> [[[2.0, 2.0, 2.0]]]"""
        if self.ndim != 3 or weight.ndim != 3:
            raise ShapeError(
                f"conv1d: needs input (N, C, L) and weight (Cout, Cin, K), got {self.shape} and {weight.shape}"
            )
        return self.conv2d(weight, bias, groups, stride, dilation, padding, dtype)

    def conv_transpose2d(
        self,
        weight: Tensor,
        bias: Tensor | None = None,
        groups: int = 1,
        stride: int | Sequence[int] = 1,
        dilation: int | Sequence[int] = 1,
        padding: int | Sequence[Any] = 0,
        output_padding: int | Sequence[int] = 0,
    ) -> Tensor:
        """Transposed convolution: weight (groups*Cin, Cout/groups, *kernel), the gradient of conv2d's input.

        `Tensor.ones(1, 1, 2, 2).conv_transpose2d(Tensor.ones(1, 1, 2, 2)).shape` -> (1, 1, 3, 3)"""
        channels, cout_per_group, kernel = weight.shape[0], weight.shape[1], weight.shape[2:]
        dims = len(kernel)
        if self.ndim != weight.ndim or self.ndim < 3 or self.shape[1] != channels or channels % groups:
            raise ShapeError(
                f"conv_transpose2d: input {self.shape} and weight {weight.shape} don't fit with groups={groups}: "
                f"need input (N, weight.shape[0], ...) with as many spatial dims as the weight"
            )
        stride_, dilation_ = _int_tuple(stride, dims, "stride"), _int_tuple(dilation, dims, "dilation")
        extra = _int_tuple(output_padding, dims, "output_padding")
        pads = _pool_pads(padding, dims, kernel, dilation_)
        # the equivalent conv2d: input with stride-1 zeros between elements, flipped kernel, in/out channels swapped
        w = weight.reshape(groups, channels // groups, cout_per_group, *kernel).transpose(1, 2)
        w = w.flip(tuple(range(3, 3 + dims))).reshape(groups * cout_per_group, channels // groups, *kernel)
        x = self
        for axis, s in zip(range(2, 2 + dims), stride_):
            if s == 1:
                continue
            size = x.shape[axis]
            spread = x.unsqueeze(axis + 1).pad([(0, 0)] * (axis + 1) + [(0, s - 1)] + [(0, 0)] * (x.ndim - axis - 1))
            spread = spread.flatten(axis, axis + 1)
            x = spread.shrink([None] * axis + [(0, (size - 1) * s + 1)] + [None] * (x.ndim - axis - 1))
        conv_pads = [
            (d * (k - 1) - lo, d * (k - 1) - hi + e) for (lo, hi), k, d, e in zip(pads, kernel, dilation_, extra)
        ]
        return x.conv2d(w, bias, groups=groups, dilation=dilation_, padding=conv_pads)

    def _pool_setup(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None,
        dilation: int | Sequence[int],
        padding: int | Sequence[Any],
        ceil_mode: bool,
    ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], list[tuple[int, int]], list[int]]:
        """Kernel, stride, dilation, explicit (before, after) pads and ceil_mode's extra right padding per dim."""
        kernel = (kernel_size,) * 2 if isinstance(kernel_size, int) else tuple(kernel_size)
        dims = len(kernel)
        stride_ = kernel if stride is None else _int_tuple(stride, dims, "stride")
        dilation_ = _int_tuple(dilation, dims, "dilation")
        pads = _pool_pads(padding, dims, kernel, dilation_)
        if self.ndim < dims:
            raise ShapeError(f"pool: kernel {kernel} needs at least {dims} dims, got shape {self.shape}")
        extra = []
        for i, k, s, d, (lo, hi) in zip(self.shape[-dims:], kernel, stride_, dilation_, pads):
            span = i + lo + hi - d * (k - 1) - 1
            out = (-(-span // s) if ceil_mode else span // s) + 1
            if ceil_mode and (out - 1) * s >= i + lo:
                out -= 1  # PyTorch: the last window must start inside the input or the left padding
            extra.append(max(0, (out - 1) * s + d * (k - 1) + 1 - (i + lo + hi)))
        return kernel, stride_, dilation_, pads, extra

    def max_pool2d(
        self,
        kernel_size: int | Sequence[int] = (2, 2),
        stride: int | Sequence[int] | None = None,
        dilation: int | Sequence[int] = 1,
        padding: int | Sequence[Any] = 0,
        ceil_mode: bool = False,
        return_indices: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Max over windows of the last dims (stride defaults to the kernel). With return_indices, also the flat
        index into each input plane (int32, tinygrad's default int; PyTorch gives int64).

        `Tensor.arange(16).reshape(1, 1, 4, 4).max_pool2d().tolist()` -> [[[[5, 7], [13, 15]]]]"""
        kernel, stride_, dilation_, pads, extra = self._pool_setup(kernel_size, stride, dilation, padding, ceil_mode)
        dims = len(kernel)
        full = [(0, 0)] * (self.ndim - dims) + [(lo, hi + e) for (lo, hi), e in zip(pads, extra)]
        lowest = dtypes.min(self.dtype)
        windows = self.pad(full, value=lowest)._pool(kernel, stride_, dilation_)
        axes = tuple(range(-dims, 0))
        out = windows.max(axes)
        if not return_indices:
            return out
        spatial = self.shape[-dims:]
        plane = _prod(spatial)
        positions = Tensor.arange(plane, device=self.device).reshape(spatial)
        positions = positions.pad(full[-dims:], value=plane)._pool(kernel, stride_, dilation_)
        # the first maximum of a window is the one with the smallest input index
        hits = windows.eq(out.reshape(out.shape + (1,) * dims)).where(positions, plane)
        return out, (-((-hits).max(axes))).cast(dtypes.int32)

    def avg_pool2d(
        self,
        kernel_size: int | Sequence[int] = (2, 2),
        stride: int | Sequence[int] | None = None,
        dilation: int | Sequence[int] = 1,
        padding: int | Sequence[Any] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> Tensor:
        """Mean over windows of the last dims (stride defaults to the kernel); ceil_mode's extra cells never count.

        `Tensor.arange(4.0).reshape(1, 1, 2, 2).avg_pool2d().tolist()` -> [[[[1.5]]]]"""
        kernel, stride_, dilation_, pads, extra = self._pool_setup(kernel_size, stride, dilation, padding, ceil_mode)
        dims = len(kernel)
        full = [(lo, hi + e) for (lo, hi), e in zip(pads, extra)]
        x = self._float()
        axes = tuple(range(-dims, 0))
        total = x.pad([(0, 0)] * (self.ndim - dims) + full)._pool(kernel, stride_, dilation_).sum(axes)
        spatial = self.shape[-dims:]
        if count_include_pad:
            padded = tuple(i + lo + hi for i, (lo, hi) in zip(spatial, pads))
            ones = Tensor.ones(padded, dtype=x.dtype, device=self.device).pad([(0, e) for e in extra])
        else:
            ones = Tensor.ones(spatial, dtype=x.dtype, device=self.device).pad(full)
        return total / ones._pool(kernel, stride_, dilation_).sum(axes)

    def max_unpool2d(
        self,
        indices: Tensor,
        kernel_size: int | Sequence[int] = (2, 2),
        stride: int | Sequence[int] | None = None,
        dilation: int | Sequence[int] = 1,
        padding: int | Sequence[Any] = 0,
        output_size: Sequence[int] | None = None,
    ) -> Tensor:
        """Inverse of max_pool2d(return_indices=True): each value goes to its index, zeros elsewhere. Where windows
        overlap and share an index, the last one wins (as in PyTorch) and only it gets a gradient (PyTorch: all).

        `Tensor([[[[5.0]]]]).max_unpool2d(Tensor([[[[3]]]])).tolist()` -> [[[[0.0, 0.0], [0.0, 5.0]]]]"""
        kernel, stride_, dilation_, pads, _ = self._pool_setup(kernel_size, stride, dilation, padding, False)
        dims = len(kernel)
        if indices.shape != self.shape:
            raise ShapeError(f"max_unpool2d: indices {indices.shape} and input {self.shape} differ")
        if output_size is None:
            spatial = tuple(
                (i - 1) * s - lo - hi + d * (k - 1) + 1
                for i, k, s, d, (lo, hi) in zip(self.shape[-dims:], kernel, stride_, dilation_, pads)
            )
        else:
            spatial = tuple(output_size)[-dims:]
        flat = self.flatten(-dims) if dims > 1 else self
        where_to = indices.flatten(-dims) if dims > 1 else indices
        # overlapping windows can share an index: scatter lets the last one win, like PyTorch
        out = Tensor.zeros(flat.shape[:-1] + (_prod(spatial),), dtype=self.dtype, device=self.device)
        return out.scatter(-1, where_to, flat).reshape(self.shape[:-dims] + spatial)

    def interpolate(self, size: Sequence[int], mode: str = "linear", align_corners: bool = False) -> Tensor:
        """Resize the last len(size) dims. mode: "linear" (also "bilinear"/"trilinear"), "nearest", "nearest-exact".

        `Tensor([[[1.0, 3.0]]]).interpolate((3,), align_corners=True).tolist()` -> [[[1.0, 2.0, 3.0]]]"""
        mode = "linear" if mode in ("bilinear", "trilinear") else mode
        if mode not in ("linear", "nearest", "nearest-exact"):
            raise ValueError(f"interpolate: mode must be 'linear', 'nearest' or 'nearest-exact', got {mode!r}")
        if align_corners and mode != "linear":
            raise ValueError("interpolate: align_corners only applies to mode='linear', like PyTorch")
        if len(size) > self.ndim:
            raise ShapeError(f"interpolate: size {tuple(size)} has more dims than the input {self.shape}")
        x = self._float() if mode == "linear" else self
        # the last dim first, as PyTorch's integer kernels go (rounding after each pass makes the order matter)
        for axis, n_out in reversed(list(zip(range(self.ndim - len(size), self.ndim), size))):
            n_in = x.shape[axis]
            if n_in == n_out:  # every mode maps a same-size axis onto itself
                continue
            # each output position is a fixed blend of input positions: one (n_out, n_in) matrix per dim
            matrix = Tensor(_interpolation_matrix(n_in, n_out, mode, align_corners), device=x.device)
            moved = x.transpose(axis, -1).unsqueeze(-2)
            # nearest modes select (inf and nan stay exact); linear blends
            blend = moved * matrix.cast(x.dtype) if mode == "linear" else matrix.cast(dtypes.bool).where(moved, 0)
            x = blend.sum(-1, dtype=x.dtype).transpose(axis, -1)
            if x.dtype != self.dtype:  # linear over integers: each pass rounds half up, as PyTorch's uint8 kernels do
                low, high = dtypes.min(self.dtype), dtypes.max(self.dtype)
                x = (x + 0.5).floor().clip(low, high).cast(self.dtype)._float()
        return x.cast(self.dtype)

    # --- normalization, dropout, attention ---
    def layernorm(self, axis: int | Sequence[int] = -1, eps: float = 1e-5) -> Tensor:
        """Zero mean, unit variance over axis (no affine part; eps is added to the variance).

        `Tensor([1.0, 3.0]).layernorm().tolist()` -> [-0.99999..., 0.99999...]"""
        x = self._float()
        centered = x - x.mean(axis, keepdim=True)
        return centered * (centered * centered).mean(axis, keepdim=True).add(eps).rsqrt()

    def batchnorm(
        self, weight: Tensor | None, bias: Tensor | None, mean: Tensor, invstd: Tensor, axis: int | Sequence[int] = 1
    ) -> Tensor:
        """(x - mean) * weight * invstd + bias, the statistics laid along `axis` (tinygrad's signature).

        `Tensor([[1.0, 2.0]]).batchnorm(None, None, Tensor([1.0, 0.0]), Tensor([1.0, 2.0])).tolist()` -> [[0.0, 4.0]]"""
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        axes = tuple(self._axis(a) for a in axes)
        shape = tuple(s if i in axes else 1 for i, s in enumerate(self.shape))
        x = self - mean.reshape(shape)
        if weight is not None:
            x = x * weight.reshape(shape)
        out = x * (invstd.reshape(shape) if invstd.ndim == len(axes) else invstd)
        return out + bias.reshape(shape) if bias is not None else out

    def dropout(self, p: float = 0.5) -> Tensor:
        """Zero each element with probability p and scale the rest by 1/(1-p), only while Tensor.training.

        `Tensor([1.0, 2.0]).dropout(0.5).tolist()` -> [1.0, 2.0] (Tensor.training is False)"""
        if not 0 <= p <= 1:
            raise ValueError(f"dropout: p must be in [0, 1], got {p}")
        if not Tensor.training or p == 0:
            return self
        if p == 1:
            return self * 0
        keep = Tensor.rand(*self.shape, device=self.device).ge(p)
        return keep.where(self, 0) * (1 / (1 - p))

    def scaled_dot_product_attention(
        self,
        key: Tensor,
        value: Tensor,
        attn_mask: Tensor | None = None,
        dropout_p: float = 0.0,
        is_causal: bool = False,
        enable_gqa: bool = False,
    ) -> Tensor:
        """softmax(q @ k^T / sqrt(d) + mask) @ v; a bool mask keeps where True. enable_gqa: key and value may have
        fewer heads (dim -3) than the query, each shared by a group of query heads (grouped-query attention).

        `q, k, v = Tensor.ones(1, 2, 4), Tensor.ones(1, 3, 4), Tensor.ones(1, 3, 5)`
        `q.scaled_dot_product_attention(k, v).shape` -> (1, 2, 5)"""
        if self.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
            raise ShapeError(
                f"scaled_dot_product_attention: query {self.shape}, key {key.shape} and value {value.shape} don't fit"
            )
        if enable_gqa and key.ndim >= 3 and self.ndim >= 3 and key.shape[-3] != self.shape[-3]:
            if self.shape[-3] % key.shape[-3]:
                raise ShapeError(
                    f"scaled_dot_product_attention: {self.shape[-3]} query heads can't share {key.shape[-3]} key heads"
                )
            group = self.shape[-3] // key.shape[-3]
            key, value = key.repeat_interleave(group, dim=-3), value.repeat_interleave(group, dim=-3)
        scores = self.matmul(key.transpose(-2, -1)) * (1 / math.sqrt(self.shape[-1]))
        if is_causal:
            if attn_mask is not None:
                raise ArgumentError("scaled_dot_product_attention: pass either attn_mask or is_causal, not both")
            attn_mask = Tensor.ones(scores.shape[-2:], dtype=dtypes.bool, device=self.device).tril()
        if attn_mask is not None:
            scores = attn_mask.where(scores, -math.inf) if attn_mask.dtype == dtypes.bool else scores + attn_mask
        return scores.softmax(-1).dropout(dropout_p).matmul(value)

    def linear(self, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """x @ weight + bias with tinygrad's weight layout (in, out), the transpose of PyTorch's; a 1-D weight scales.

        `Tensor([[1.0, 2.0]]).linear(Tensor([[1.0], [1.0]]), Tensor([0.5])).tolist()` -> [[3.5]]"""
        out = self * weight if weight.ndim == 1 else self.dot(weight)
        return out if bias is None else out + bias

    def sequential(self, layers: Sequence[Any]) -> Tensor:
        """Apply callables in order. `Tensor([-1.0]).sequential([Tensor.relu, Tensor.exp]).tolist()` -> [1.0]"""
        x = self
        for layer in layers:
            x = layer(x)
        return x

    # --- indexing by tensors ---
    def one_hot(self, num_classes: int = -1) -> Tensor:
        """int32 one-hot codes in a new last dim (tinygrad's default int; PyTorch gives int64); -1 infers the count.

        `Tensor([0, 2]).one_hot(3).tolist()` -> [[1, 0, 0], [0, 0, 1]]"""
        if dtypes.is_float(self.dtype):
            raise TypeError(f"one_hot needs integer class indices, got {self.dtype}")
        if num_classes == -1:
            num_classes = int(self.max().item()) + 1 if self.numel() else 0
        return self.unsqueeze(-1).eq(Tensor.arange(num_classes, device=self.device)).where(1, 0)

    def gather(self, dim: int, index: Tensor) -> Tensor:
        """out[i][j] = self[index[i][j]][j] for dim 0 (and likewise for other dims), like torch.gather.

        `Tensor([[1, 2], [3, 4]]).gather(1, Tensor([[1], [0]])).tolist()` -> [[2], [3]]"""
        dim = self._axis(dim)
        if index.ndim != self.ndim or any(i > s for d, (i, s) in enumerate(zip(index.shape, self.shape)) if d != dim):
            raise ShapeError(
                f"gather: index {index.shape} must have {self.ndim} dims, none larger than input {self.shape}"
            )
        if dtypes.is_float(index.dtype):
            raise TypeError(f"gather: index must be an integer tensor, got {index.dtype}")
        size = self.shape[dim]
        x = self.shrink([(0, i) if d != dim else None for d, i in enumerate(index.shape)])
        # x gets a size-1 dim at `dim` (broadcast over the index positions) and the gathered axis at the end
        x = x.unsqueeze(-1).transpose(-1, dim)
        kind = dtypes.uint8 if x.dtype == dtypes.bool else x.dtype
        onehot = index.unsqueeze(-1).eq(Tensor.arange(size, device=self.device))
        return onehot.where(x.cast(kind), 0).sum(-1, dtype=kind).cast(self.dtype)

    def _pre_scatter(self, dim: int, index: Tensor, src: TensorLike, op: str) -> tuple[int, Tensor, Tensor]:
        """dim, src values (index.shape + (1,)) and the one-hot target mask (index.shape + (self.shape[dim],))."""
        dim = self._axis(dim)
        if index.ndim != self.ndim or any(i > s for d, (i, s) in enumerate(zip(index.shape, self.shape)) if d != dim):
            raise ShapeError(
                f"{op}: index {index.shape} must have {self.ndim} dims, none larger than input {self.shape}"
            )
        if not isinstance(src, Tensor):
            src = Tensor.full(index.shape, src, dtype=self.dtype, device=self.device)
        elif src.dtype != self.dtype:
            raise ArgumentError(f"{op}: src has dtype {src.dtype}, the tensor {self.dtype}; cast one first")
        if src.ndim != index.ndim or any(i > s for i, s in zip(index.shape, src.shape)):
            raise ShapeError(f"{op}: index {index.shape} is larger than src {src.shape} in some dim")
        src = src.shrink([(0, i) for i in index.shape]).cast(self.dtype)
        mask = index.unsqueeze(-1).eq(Tensor.arange(self.shape[dim], device=self.device))
        return dim, src.unsqueeze(-1), mask

    def _post_scatter(self, dim: int, reduced: Tensor, fill: Scalar) -> Tensor:
        """(index.shape with dim 1, plus the target axis) -> self.shape, padding untouched positions with fill."""
        out = reduced.transpose(dim, -1).squeeze(-1)
        return out.pad([(0, s - o) for s, o in zip(self.shape, out.shape)], value=fill)

    def scatter(self, dim: int, index: Tensor, src: TensorLike, reduce: str | None = None) -> Tensor:
        """Write src into a copy of self at index along dim (reduce None, "add" or "multiply"); the last duplicate
        wins. `Tensor([0, 0, 0]).scatter(0, Tensor([2]), Tensor([7])).tolist()` -> [0, 0, 7]"""
        if reduce is not None and isinstance(src, Tensor):
            raise TypeError(
                "scatter: reduce= takes a scalar src (tinygrad's rule); for a tensor src use scatter_reduce"
            )
        dim, src, mask = self._pre_scatter(dim, index, src, "scatter")
        if reduce == "add":
            return self + self._post_scatter(dim, mask.where(src, 0).sum(dim, keepdim=True, dtype=self.dtype), 0)
        if reduce == "multiply":
            return self * self._post_scatter(dim, mask.where(src, 1).prod(dim, keepdim=True, dtype=self.dtype), 1)
        if reduce is not None:
            raise TypeError(f"scatter: reduce must be None, 'add' or 'multiply', got {reduce!r}")
        position = Tensor.arange(index.shape[dim], device=self.device).reshape(
            (1,) * dim + (index.shape[dim],) + (1,) * (index.ndim - dim)
        )
        last = mask.where(position, -1).max(dim, keepdim=True)
        chosen = mask & position.eq(last)
        value = chosen.where(src, 0).sum(dim, keepdim=True, dtype=self.dtype)
        hit = self._post_scatter(dim, mask.any(dim, keepdim=True), False)
        return hit.where(self._post_scatter(dim, value, 0), self)

    def scatter_reduce(self, dim: int, index: Tensor, src: Tensor, reduce: str, include_self: bool = True) -> Tensor:
        """Reduce src into self at index along dim: reduce is "sum", "prod", "mean", "amax" or "amin".

        `Tensor([1, 1]).scatter_reduce(0, Tensor([0, 0]), Tensor([2, 3]), "sum").tolist()` -> [6, 1]"""
        if reduce not in ("sum", "prod", "mean", "amax", "amin"):
            raise ArgumentError(f"scatter_reduce: reduce must be sum, prod, mean, amax or amin, got {reduce!r}")
        if isinstance(src, Tensor) and src.dtype != self.dtype:
            raise ArgumentError(f"scatter_reduce: src has dtype {src.dtype}, self {self.dtype}; cast one first")
        dim, src, mask = self._pre_scatter(dim, index, src, "scatter_reduce")
        hit = self._post_scatter(dim, mask.any(dim, keepdim=True), False)
        if reduce in ("sum", "mean"):
            total = self._post_scatter(dim, mask.where(src, 0).sum(dim, keepdim=True, dtype=self.dtype), 0)
            if reduce == "sum":
                return hit.where(total + self, self) if include_self else hit.where(total, self)
            count = self._post_scatter(dim, mask.sum(dim, keepdim=True), 0) + int(include_self)
            total = total + self if include_self else total
            mean = total / count if dtypes.is_float(self.dtype) else total._floordiv(count.cast(self.dtype))
            return hit.where(mean, self)
        if reduce == "prod":
            product = self._post_scatter(dim, mask.where(src, 1).prod(dim, keepdim=True, dtype=self.dtype), 1)
            return hit.where(product * self, self) if include_self else hit.where(product, self)
        fill = dtypes.min(self.dtype) if reduce == "amax" else dtypes.max(self.dtype)
        sign = 1 if reduce == "amax" else -1
        extreme = sign * (sign * mask.where(src, fill)).max(dim, keepdim=True)
        extreme = self._post_scatter(dim, extreme, fill)
        if include_self:
            extreme = extreme.maximum(self) if reduce == "amax" else extreme.minimum(self)
        return hit.where(extreme, self)

    def masked_select(self, mask: Tensor) -> Tensor:
        """The elements where mask is True, as a 1-D tensor (realizes the mask to learn the length).

        `Tensor([1, 2, 3]).masked_select(Tensor([True, False, True])).tolist()` -> [1, 3]"""
        x, keep = self._broadcasted(mask, op="masked_select", match_dtype=False)
        flat = x.flatten()
        positions = np.flatnonzero(keep.cast(dtypes.bool).numpy())
        if positions.size == 0:
            return flat.shrink(((0, 0),))
        return flat[Tensor(positions.astype(np.int32), device=self.device)]

    def nonzero(self) -> Tensor:
        """The int32 indices of the nonzero elements, one row per element (reads the values to learn how many).

        `Tensor([[0, 3], [5, 0]]).nonzero().tolist()` -> [[0, 1], [1, 0]]"""
        return Tensor(np.argwhere(self.numpy()).astype(np.int32), device=self.device)

    def _tri(self, diagonal: int, upper: bool) -> Tensor:
        if self.ndim < 2:
            raise ShapeError(f"{'triu' if upper else 'tril'}: needs at least 2 dims, got shape {self.shape}")
        rows, cols = self.shape[-2:]
        offset = Tensor.arange(cols, device=self.device).reshape(1, cols) - Tensor.arange(
            rows, device=self.device
        ).reshape(rows, 1)
        keep = offset.ge(diagonal) if upper else offset.le(diagonal)
        return keep.where(self, self.zeros_like())

    def triu(self, diagonal: int = 0) -> Tensor:
        """Zero below the diagonal. `Tensor.ones(2, 2).triu().tolist()` -> [[1.0, 1.0], [0.0, 1.0]]"""
        return self._tri(diagonal, upper=True)

    def tril(self, diagonal: int = 0) -> Tensor:
        """Zero above the diagonal. `Tensor.ones(2, 2).tril().tolist()` -> [[1.0, 0.0], [1.0, 1.0]]"""
        return self._tri(diagonal, upper=False)

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
        """The diagonal of two dims, as a new last dim (a view).

        `Tensor([[1, 2], [3, 4]]).diagonal().tolist()` -> [1, 4]"""
        a, b = self._axis(dim1), self._axis(dim2)
        if a == b:
            raise ArgumentError(f"diagonal: dim1 and dim2 must differ, got {dim1} and {dim2}")
        rest = [d for d in range(self.ndim) if d not in (a, b)]
        x = self.permute(rest + [a, b])
        rows, cols = x.shape[-2:]
        keep: list[tuple[int, int] | None] = [None] * len(rest)
        row_bounds = (min(-offset, rows), rows) if offset < 0 else (0, rows)
        col_bounds = (min(offset, cols), cols) if offset > 0 else (0, cols)
        x = x.shrink(keep + [row_bounds, col_bounds])
        m = min(x.shape[-2:])
        prefix = x.shape[:-2]
        if m == 0:
            return x.shrink(keep + [(0, 0), (0, 1)] if x.shape[-1] else keep + [(0, 0), (0, 0)]).reshape(prefix + (0,))
        # every (m+1)-th element of the flattened square lies on its diagonal
        x = x.shrink(keep + [(0, m), (0, m)]).reshape(prefix + (m * m,)).pad(keep + [(0, m)])
        return x.reshape(prefix + (m, m + 1)).shrink(keep + [(0, m), (0, 1)]).reshape(prefix + (m,))

    def diag(self, diagonal: int = 0) -> Tensor:
        """1-D -> a square matrix with self on a diagonal (tinygrad); 2-D -> its diagonal (PyTorch's extension).

        `Tensor([1, 2]).diag().tolist()` -> [[1, 0], [0, 2]]"""
        if self.ndim == 2:
            return self.diagonal(diagonal)
        if self.ndim != 1:
            raise ShapeError(f"diag: needs a 1-D or 2-D tensor, got shape {self.shape}")
        n = self.shape[0]
        square = self.unsqueeze(-1).pad(((0, 0), (0, n))).reshape(n * (n + 1))[: n * n].reshape(n, n)
        k = abs(diagonal)
        return square.pad(((0, k), (k, 0)) if diagonal >= 0 else ((k, 0), (0, k)))

    def roll(self, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Tensor:
        """Rotate elements along dims (all of them, flattened, when dims is None).

        `Tensor([1, 2, 3]).roll(1).tolist()` -> [3, 1, 2]"""
        if dims is None:
            if not isinstance(shifts, int) and len(shifts) != 1:
                raise ArgumentError(f"roll: {len(shifts)} shifts need as many dims, got dims=None")
            return self.flatten().roll(shifts, 0).reshape(self.shape)
        shift_list = [shifts] if isinstance(shifts, int) else list(shifts)
        dim_list = [dims] if isinstance(dims, int) else list(dims)
        if len(shift_list) != len(dim_list):
            raise ArgumentError(f"roll: {len(shift_list)} shifts for {len(dim_list)} dims")
        x = self
        for shift, dim in zip(shift_list, dim_list):
            dim = x._axis(dim)
            size = x.shape[dim]
            shift = shift % size if size else 0
            if shift:
                head = x.shrink([(size - shift, size) if d == dim else None for d in range(x.ndim)])
                tail = x.shrink([(0, size - shift) if d == dim else None for d in range(x.ndim)])
                x = head.cat(tail, dim=dim)
        return x

    def repeat_interleave(self, repeats: int, dim: int | None = None) -> Tensor:
        """Repeat each element in place. `Tensor([1, 2]).repeat_interleave(2).tolist()` -> [1, 1, 2, 2]"""
        x = self.flatten() if dim is None else self
        axis = 0 if dim is None else x._axis(dim)
        expanded = x.unsqueeze(axis + 1).expand(x.shape[: axis + 1] + (repeats,) + x.shape[axis + 1 :])
        return expanded.flatten(axis, axis + 1)

    def meshgrid(self, *args: Tensor, indexing: str = "ij") -> tuple[Tensor, ...]:
        """Coordinate grids from 1-D tensors ("ij" or "xy" indexing).

        `[t.tolist() for t in Tensor([1, 2]).meshgrid(Tensor([3]))]` -> [[[1], [2]], [[3], [3]]]"""
        if indexing not in ("ij", "xy"):
            raise ArgumentError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
        tensors = (self, *args)
        shape = [t.numel() for t in tensors]
        positions = list(range(len(tensors)))
        if indexing == "xy" and len(tensors) >= 2:
            shape[0], shape[1] = shape[1], shape[0]
            positions[0], positions[1] = 1, 0
        grids = []
        for t, position in zip(tensors, positions):
            view = [1] * len(tensors)
            view[position] = t.numel()
            grids.append(t.reshape(view).expand(shape))
        return tuple(grids)

    def rearrange(self, formula: str, **sizes: int) -> Tensor:
        """einops-style reshape and permute by dim names, with (groups) and "..."; sizes name split dims.

        `Tensor.ones(2, 3, 4).rearrange("a b c -> c (a b)").shape` -> (4, 6)"""
        lhs, arrow, rhs = formula.partition("->")
        if not arrow:
            raise ValueError(f"rearrange: formula {formula!r} needs '->'")
        if lhs.count("...") > 1:
            raise ValueError(f"rearrange: {formula!r} has more than one '...' on the left")
        named = len(_einops_groups(lhs, []))
        ellipsis = [f"...{i}" for i in range(self.ndim - named)] if "..." in lhs else []
        left, right = _einops_groups(lhs, ellipsis), _einops_groups(rhs, ellipsis)
        if len(left) != self.ndim:
            raise ShapeError(f"rearrange: {lhs.strip()!r} names {len(left)} dims, the tensor has shape {self.shape}")
        known = dict(sizes)
        for group, size in zip(left, self.shape):
            unknown = [name for name in group if name not in known]
            product = _prod([known[name] for name in group if name in known])
            if len(unknown) > 1 or (unknown and (product == 0 or size % product)):
                raise ShapeError(f"rearrange: can't split dim of size {size} into {group} (give sizes by name)")
            if unknown:
                known[unknown[0]] = size // product
            elif product != size:
                raise ShapeError(f"rearrange: group {group} has size {product}, but the dim has size {size}")
        names = [name for group in left for name in group]
        out_names = [name for group in right for name in group]
        if sorted(names) != sorted(out_names):
            raise ValueError(f"rearrange: {formula!r} must use the same names on both sides")
        x = self.reshape([known[name] for name in names]).permute([names.index(name) for name in out_names])
        return x.reshape([_prod([known[name] for name in group]) for group in right])

    # --- sorting ---
    def sort(self, dim: int = -1, descending: bool = False) -> tuple[Tensor, Tensor]:
        """Sorted values and their int32 indices (stable: ties keep their order) along dim, by a bitonic network.

        `Tensor([3, 1, 2]).sort()[0].tolist()` -> [1, 2, 3]"""
        if self.ndim == 0 or self.shape[self._axis(dim)] <= 1:
            return self, self.zeros_like(dtype=dtypes.int32)
        dim = self._axis(dim)
        x = self.transpose(dim, -1)
        n = x.shape[-1]
        if x.dtype == dtypes.bool:
            values, order = self.cast(dtypes.uint8).sort(dim, descending)
            return values.cast(dtypes.bool), order
        size = 1 << (n - 1).bit_length()
        lead = [(0, 0)] * (x.ndim - 1)
        # padding sorts last either way: it is the extreme value and, among equals, has the largest index
        values = x.pad(lead + [(0, size - n)], value=dtypes.min(x.dtype) if descending else dtypes.max(x.dtype))
        index = Tensor.arange(size, device=self.device, dtype=dtypes.int32).expand(values.shape)
        stages = size.bit_length() - 1
        for stage in range(1, stages + 1):
            values, index = _bitonic_step(values, index, 1 << stage, True, descending)
            for sub in range(stage - 1, 0, -1):
                values, index = _bitonic_step(values, index, 1 << sub, False, descending)
        keep = [None] * (x.ndim - 1) + [(0, n)]
        return values.shrink(keep).transpose(dim, -1), index.shrink(keep).transpose(dim, -1)

    def argsort(self, dim: int = -1, descending: bool = False) -> Tensor:
        """int32 indices that sort along dim. `Tensor([3, 1, 2]).argsort().tolist()` -> [1, 2, 0]"""
        return self.sort(dim, descending)[1]

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted_: bool = True) -> tuple[Tensor, Tensor]:
        """The k largest (or smallest) values and their int32 indices along dim, sorted.

        `Tensor([1, 3, 2]).topk(2)[0].tolist()` -> [3, 2]"""
        dim = self._axis(dim)
        if not 0 <= k <= (self.shape[dim] if self.ndim else 1):
            raise ValueError(f"topk: k={k} is out of range for dim {dim} of shape {self.shape}")
        values, index = self.sort(dim, descending=largest)
        keep = [(0, k) if d == dim else None for d in range(self.ndim)]
        return values.shrink(keep), index.shrink(keep)

    # --- einsum ---
    @staticmethod
    def einsum(formula: str, *operands: Tensor | Sequence[Tensor], dtype: DType | str | None = None) -> Tensor:
        """Einstein summation with "->" (or numpy's implicit output), "..." and repeated letters (diagonals).

        `Tensor.einsum("ij,j->i", Tensor([[1, 2], [3, 4]]), Tensor([1, 1])).tolist()` -> [3, 7]"""
        if len(operands) == 1 and not isinstance(operands[0], Tensor):
            tensors = list(operands[0])
        else:
            tensors = [t for t in operands if isinstance(t, Tensor)]
        formula = formula.replace(" ", "")
        lhs, arrow, rhs = formula.partition("->")
        terms = lhs.split(",")
        if len(terms) != len(tensors):
            raise ValueError(f"einsum: {formula!r} names {len(terms)} operands, got {len(tensors)}")
        # "..." becomes letters the formula doesn't use, right-aligned across operands
        spare = [c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba" if c not in formula]
        widths = [t.ndim - len(term.replace("...", "")) if "..." in term else 0 for term, t in zip(terms, tensors)]
        ellipsis = "".join(spare[: max(widths, default=0)])[::-1]
        terms = [term.replace("...", ellipsis[len(ellipsis) - w :] if w else "") for term, w in zip(terms, widths)]
        if arrow:
            output = rhs.replace("...", ellipsis)
        else:
            letters = "".join(terms)
            output = ellipsis + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ellipsis))
        order = list(output) + sorted({c for term in terms for c in term} - set(output))
        aligned = []
        for term, t in zip(terms, tensors):
            if len(term) != t.ndim:
                raise ShapeError(f"einsum: operand {term!r} of {formula!r} has shape {t.shape} ({t.ndim} dims)")
            while len(set(term)) < len(term):  # a repeated letter: take that diagonal
                letter = next(c for c in term if term.count(c) > 1)
                first = term.index(letter)
                second = term.index(letter, first + 1)
                t = t.diagonal(0, first, second)
                term = term[:first] + term[first + 1 : second] + term[second + 1 :] + letter
            present = [c for c in order if c in term]
            t = t.permute([term.index(c) for c in present])
            aligned.append(t.reshape([t.shape[present.index(c)] if c in term else 1 for c in order]))
        product = aligned[0]
        for t in aligned[1:]:
            product = product * t
        summed = tuple(range(len(output), len(order)))
        kind = to_dtype(dtype) if dtype is not None else None
        out = product.sum(summed, dtype=kind) if summed else product
        return out.cast(kind) if kind is not None else out

    # --- losses ---
    def _do_reduction(self, reduction: str) -> Tensor:
        if reduction == "mean":
            return self.mean()
        if reduction == "sum":
            return self.sum()
        if reduction == "none":
            return self
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")

    def _class_onehot(self, target: Tensor, class_dim: int, op: str) -> Tensor:
        """A bool one-hot of integer class indices, shaped like self (classes along class_dim)."""
        expected = self.shape[:class_dim] + self.shape[class_dim + 1 :]
        if target.shape != expected:
            raise ShapeError(f"{op}: target {target.shape} should have shape {expected} for input {self.shape}")
        if dtypes.is_float(target.dtype):
            raise TypeError(f"{op}: class-index targets must be integers, got {target.dtype}")
        classes = self.shape[class_dim]
        arange = Tensor.arange(classes, device=self.device).reshape((classes,) + (1,) * (self.ndim - class_dim - 1))
        return target.unsqueeze(class_dim).eq(arange)

    def cross_entropy(
        self,
        Y: Tensor,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        ignore_index: int = -100,
    ) -> Tensor:
        """Softmax cross entropy of logits (classes in dim 1, or dim 0 for 1-D) against class indices or class
        probabilities (same shape as self). ignore_index (PyTorch's; index targets only) drops those entries.

        `Tensor([[0.0, 0.0]]).cross_entropy(Tensor([1])).item()` -> 0.6931..."""
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
        class_dim = 0 if self.ndim == 1 else 1
        classes = self.shape[class_dim]
        log_probs = self.log_softmax(class_dim)
        if Y.shape == self.shape and dtypes.is_float(Y.dtype):
            target = Y * (1 - label_smoothing) + label_smoothing / classes
            return (-(log_probs * target).sum(class_dim))._do_reduction(reduction)
        onehot = self._class_onehot(Y, class_dim, "cross_entropy")
        keep = Y.ne(ignore_index)
        picked = (log_probs * onehot).sum(class_dim)
        loss = -((1 - label_smoothing) * picked + label_smoothing * log_probs.mean(class_dim)) * keep
        return loss.sum() / keep.sum() if reduction == "mean" else loss._do_reduction(reduction)

    def sparse_categorical_crossentropy(
        self,
        Y: Tensor,
        ignore_index: int = -1,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> Tensor:
        """Softmax cross entropy of logits with classes in the LAST dim against integer labels (tinygrad's).

        `Tensor([[0.0, 0.0]]).sparse_categorical_crossentropy(Tensor([1])).item()` -> 0.6931..."""
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"sparse_categorical_crossentropy: label_smoothing must be in [0, 1], got {label_smoothing}"
            )
        log_probs = self.log_softmax(-1)
        onehot = self._class_onehot(Y, self.ndim - 1, "sparse_categorical_crossentropy")
        keep = Y.ne(ignore_index)
        picked = (log_probs * onehot).sum(-1)
        loss = -((1 - label_smoothing) * picked + label_smoothing * log_probs.mean(-1)) * keep
        return loss.sum() / keep.sum() if reduction == "mean" else loss._do_reduction(reduction)

    def nll_loss(
        self,
        Y: Tensor,
        weight: Tensor | None = None,
        ignore_index: int | None = None,
        reduction: str = "mean",
    ) -> Tensor:
        """Negative log likelihood of log-probabilities (classes in dim 1) at integer labels; "mean" divides by the
        total weight. `Tensor([[-1.0, -2.0]]).nll_loss(Tensor([1])).item()` -> 2.0"""
        class_dim = 0 if self.ndim == 1 else 1
        onehot = self._class_onehot(Y, class_dim, "nll_loss")
        if weight is None:
            sample_weight = onehot.any(class_dim).where(1.0, 0.0)
        else:
            if weight.shape != (self.shape[class_dim],):
                raise ShapeError(f"nll_loss: weight {weight.shape} should have shape ({self.shape[class_dim]},)")
            per_class = weight.reshape((weight.shape[0],) + (1,) * (self.ndim - class_dim - 1))
            sample_weight = (onehot * per_class).sum(class_dim)
        if ignore_index is not None:
            sample_weight = sample_weight * Y.ne(ignore_index)
        loss = -(self * onehot).sum(class_dim) * sample_weight
        return loss.sum() / sample_weight.sum() if reduction == "mean" else loss._do_reduction(reduction)

    def binary_crossentropy(self, Y: Tensor, reduction: str = "mean") -> Tensor:
        """-(Y log p + (1 - Y) log(1 - p)) of probabilities, each log clamped at -100 like PyTorch.

        `Tensor([0.5]).binary_crossentropy(Tensor([1.0])).item()` -> 0.6931..."""
        loss = -(Y * self.log().maximum(-100) + (1 - Y) * (1 - self).log().maximum(-100))
        return loss._do_reduction(reduction)

    def binary_crossentropy_logits(
        self, Y: Tensor, reduction: str = "mean", pos_weight: Tensor | None = None
    ) -> Tensor:
        """binary_crossentropy of sigmoid(self), computed stably from the logits.

        `Tensor([0.0]).binary_crossentropy_logits(Tensor([1.0])).item()` -> 0.6931..."""
        positive = Y * self.logsigmoid() if pos_weight is None else pos_weight * Y * self.logsigmoid()
        return (-(positive + (1 - Y) * (-self).logsigmoid()))._do_reduction(reduction)

    def mse_loss(self, target: Tensor, reduction: str = "mean") -> Tensor:
        """Mean squared error (PyTorch's name; tinygrad has none).

        `Tensor([1.0, 3.0]).mse_loss(Tensor([0.0, 0.0])).item()` -> 5.0"""
        return (self - target).square()._do_reduction(reduction)

    def l1_loss(self, target: Tensor, reduction: str = "mean") -> Tensor:
        """Mean absolute error (PyTorch's name). `Tensor([1.0, -3.0]).l1_loss(Tensor([0.0, 0.0])).item()` -> 2.0"""
        return (self - target).abs()._do_reduction(reduction)

    def smooth_l1_loss(self, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:
        """Quadratic below beta, linear above (PyTorch's name).

        `Tensor([0.5, 3.0]).smooth_l1_loss(Tensor([0.0, 0.0])).item()` -> 1.3125"""
        diff = (self - target).abs()
        if beta == 0:
            return diff._do_reduction(reduction)
        return diff.lt(beta).where(0.5 * diff * diff / beta, diff - 0.5 * beta)._do_reduction(reduction)

    def huber_loss(self, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
        """Quadratic below delta, delta * (|d| - delta / 2) above (PyTorch's name).

        `Tensor([3.0]).huber_loss(Tensor([0.0])).item()` -> 2.5"""
        diff = (self - target).abs()
        return diff.lt(delta).where(0.5 * diff * diff, delta * (diff - 0.5 * delta))._do_reduction(reduction)

    # --- initialisers ---
    @staticmethod
    def _init(shape: tuple[int, ...], low: float, high: float, normal_std: float | None, **kwargs: Any) -> Tensor:
        """A fresh leaf: drawn without autodiff, then requires_grad set as asked (arithmetic would make a non-leaf)."""
        requires_grad = kwargs.pop("requires_grad", None)
        kind = to_dtype(kwargs.pop("dtype", None) or dtypes.default_float)
        if normal_std is None:
            out = Tensor.uniform(*shape, low=low, high=high, dtype=kind, **kwargs)
        else:
            out = Tensor.normal(*shape, mean=0.0, std=normal_std, dtype=kind, **kwargs)
        out = Tensor(out.lazydata, device=out.device)
        out.requires_grad = requires_grad
        return out

    @staticmethod
    def scaled_uniform(*shape: Any, **kwargs: Any) -> Tensor:
        """Uniform in [-1, 1) / sqrt(numel). `Tensor.scaled_uniform(2, 3).shape` -> (2, 3)"""
        shape = _new_shape(*shape)
        bound = _prod(shape) ** -0.5
        return Tensor._init(shape, -bound, bound, None, **kwargs)

    @staticmethod
    def glorot_uniform(*shape: Any, **kwargs: Any) -> Tensor:
        """Xavier/Glorot uniform: bound sqrt(6 / (shape[0] + prod(shape[1:]))). `Tensor.glorot_uniform(2, 3).shape` ->
        (2, 3)"""
        shape = _new_shape(*shape)
        bound = (6 / (shape[0] + _prod(shape[1:]))) ** 0.5
        return Tensor._init(shape, -bound, bound, None, **kwargs)

    @staticmethod
    def kaiming_uniform(*shape: Any, a: float = 0.01, **kwargs: Any) -> Tensor:
        """He uniform with fan_in = prod(shape[1:]) (tinygrad's default a=0.01). `Tensor.kaiming_uniform(2, 3).shape`
        -> (2, 3)"""
        shape = _new_shape(*shape)
        bound = math.sqrt(3.0) * math.sqrt(2.0 / (1 + a**2)) / math.sqrt(_prod(shape[1:]))
        return Tensor._init(shape, -bound, bound, None, **kwargs)

    @staticmethod
    def kaiming_normal(*shape: Any, a: float = 0.01, **kwargs: Any) -> Tensor:
        """He normal with fan_in = prod(shape[1:]) (tinygrad's default a=0.01). `Tensor.kaiming_normal(2, 3).shape`
        -> (2, 3)"""
        shape = _new_shape(*shape)
        std = math.sqrt(2.0 / (1 + a**2)) / math.sqrt(_prod(shape[1:]))
        return Tensor._init(shape, 0.0, 0.0, std, **kwargs)

    @staticmethod
    def randperm(n: int, **kwargs: Any) -> Tensor:
        """A random permutation of 0..n-1 (int32). `sorted(Tensor.randperm(3).tolist())` -> [0, 1, 2]"""
        kind = kwargs.pop("dtype", dtypes.int32)
        return Tensor(Tensor._rng.permutation(n).astype(np.int32), dtype=kind, **kwargs)

    # --- small extras ---
    def var_mean(
        self, axis: int | Sequence[int] | None = None, keepdim: bool = False, correction: int = 1
    ) -> tuple[Tensor, Tensor]:
        """(var, mean) in one call. `[t.item() for t in Tensor([1.0, 3.0]).var_mean()]` -> [2.0, 2.0]"""
        return self.var(axis, keepdim, correction), self.mean(axis, keepdim)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set requires_grad in place and return self. `Tensor([1.0]).requires_grad_().requires_grad` -> True"""
        self.requires_grad = requires_grad
        return self

    # --- operators ---
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

    # --- in-place operators: compute, then write into this tensor's memory (assign), as tinygrad does ---
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


_DIFFERENTIABLE: dict[Ops, type[F.Function]] = {
    Ops.ADD: F.Add,
    Ops.MUL: F.Mul,
    Ops.MAX: F.Maximum,
    Ops.WHERE: F.Where,
    Ops.SIN: F.Sin,
    Ops.SQRT: F.Sqrt,
    Ops.RECIP: F.Reciprocal,
}


class _Recorded:
    """A Tensor behind the LazyBuffer interface that function.py's backward rules use (alu, r, const_like, cast and
    the movement ops), each method an op of the autodiff graph: the rules then build a differentiable gradient."""

    __slots__ = ("t",)

    def __init__(self, t: Tensor):
        self.t = t

    @staticmethod
    def of(tensor: Tensor, lazy: LazyBuffer) -> _Recorded:
        """`tensor` if it still holds `lazy` (what the op saw), else those values cut from the graph."""
        return _Recorded(tensor if tensor.lazydata is lazy else Tensor(lazy, device=lazy.device, requires_grad=False))

    @property
    def shape(self) -> tuple[int, ...]:
        return self.t.shape

    @property
    def dtype(self) -> DType:
        return self.t.dtype

    def alu(self, op: Ops, *others: _Recorded) -> _Recorded:
        x, rest = self.t, [o.t for o in others]
        if op is Ops.NEG and x.dtype != dtypes.bool:
            return _Recorded(F.Neg.apply(x))
        if op is Ops.EXP2:
            return _Recorded(F.Exp.apply(x * math.log(2)))
        if op is Ops.LOG2:
            return _Recorded(F.Log.apply(x) * (1 / math.log(2)))
        if op in _DIFFERENTIABLE and dtypes.is_float(rest[-1].dtype if rest else x.dtype):
            return _Recorded(_DIFFERENTIABLE[op].apply(x, *rest))
        return _Recorded(F.NoGrad.apply(x, *rest, result=x.lazydata.alu(op, *(r.lazydata for r in rest))))

    def const_like(self, value: Any) -> _Recorded:
        lazy = self.t.lazydata.const_like(value)
        return _Recorded(Tensor(lazy, device=lazy.device, requires_grad=False))

    def cast(self, dtype: DType, bitcast: bool = False) -> _Recorded:
        return self if dtype == self.t.dtype else _Recorded(F.Cast.apply(self.t, dtype=dtype, bitcast=bitcast))

    def r(self, op: Ops, axes: tuple[int, ...]) -> _Recorded:
        return _Recorded((F.Sum if op is Ops.SUM else F.Max).apply(self.t, axis=axes))

    def contiguous(self, force: bool = False) -> _Recorded:
        return _Recorded(F.Contiguous.apply(self.t))

    def expand(self, shape: tuple[int, ...]) -> _Recorded:
        return self if tuple(shape) == self.shape else _Recorded(F.Expand.apply(self.t, shape=tuple(shape)))

    def reshape(self, shape: tuple[int, ...]) -> _Recorded:
        return self if tuple(shape) == self.shape else _Recorded(F.Reshape.apply(self.t, shape=tuple(shape)))

    def permute(self, order: tuple[int, ...]) -> _Recorded:
        return _Recorded(F.Permute.apply(self.t, order=tuple(order)))

    def pad(self, padding: tuple[tuple[int, int], ...]) -> _Recorded:
        return _Recorded(F.Pad.apply(self.t, padding=tuple(padding)))

    def shrink(self, bounds: tuple[tuple[int, int], ...]) -> _Recorded:
        return _Recorded(F.Shrink.apply(self.t, bounds=tuple(bounds)))

    def flip(self, axes: tuple[int, ...]) -> _Recorded:
        return _Recorded(F.Flip.apply(self.t, axes=tuple(axes)))


def _as_tensor(grad: Any, like: Tensor) -> Tensor:
    """A gradient from Tensor._gradients as a Tensor; None (nothing reached `like`) becomes zeros."""
    if grad is None:
        return Tensor(LazyBuffer.const(0, like.dtype, like.device, like.shape), device=like.device, requires_grad=False)
    return grad.t if isinstance(grad, _Recorded) else Tensor(grad, device=like.device, requires_grad=False)


def _write_through(view: LazyBuffer, value: Tensor) -> None:
    """Write `value` (shaped like `view`) into the memory of view's base, now, where the view shows it."""
    base = view.base
    if not base.realized:
        realize(base)
    (st,) = view.st.views if len(view.st.views) == 1 else (None,)
    if st is None or st.mask is not None:
        raise ArgumentError(
            f"assign: can't write through a view of shape {view.shape} that is padded or reshaped across a "
            "permutation; make it contiguous() first"
        )
    placed, inside = _place(value, st, base.size), _place(Tensor.ones(view.shape, dtype=dtypes.bool), st, base.size)
    old = Tensor(base, device=view.device)
    new = inside.to(view.device).reshape(base.shape).where(placed.reshape(base.shape), old)
    realize(base.assign(new.lazydata))


def _place(x: Tensor, view: View, size: int) -> Tensor:
    """The flat tensor of `size` elements that `view` reads as x (zeros where it reads nothing): the inverse of a
    strided view, built from pads and reshapes. Views that read one element twice (expand) have no inverse."""
    dims = [(n, st) for n, st in zip(view.shape, view.strides) if n != 1]
    x = x.reshape([n for n, _ in dims])
    offset = view.offset
    for axis, (n, st) in enumerate(dims):
        if st == 0:
            raise ArgumentError(f"assign: a broadcast view of shape {view.shape} names one element several times")
        if st < 0:
            x, offset, dims[axis] = x.flip(axis), offset + (n - 1) * st, (n, -st)
    order = sorted(range(len(dims)), key=lambda axis: -dims[axis][1])
    x = x.permute(order).unsqueeze(-1)
    span = 1  # elements covered by one block of the dims placed so far
    for n, st in reversed([dims[axis] for axis in order]):
        if st < span:
            raise ArgumentError(f"assign: the view of shape {view.shape} names some elements several times")
        x = x.pad([(0, 0)] * (x.ndim - 1) + [(0, st - span)]).flatten(-2)
        span = (n - 1) * st + span
        x = x.shrink([None] * (x.ndim - 1) + [(0, span)])
    return x.reshape(span).pad(((offset, size - offset - span),))


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


# --- helpers of the functional ops ---
_SCAN_BLOCK = 64  # cumsum & co. split longer axes into blocks of this many elements


def _einops_groups(side: str, ellipsis: list[str]) -> list[list[str]]:
    """ "b (h w) c" -> [["b"], ["h", "w"], ["c"]], one group per dim; a lone "..." becomes one group per name in
    `ellipsis`, a "..." inside parentheses adds those names to its group."""
    groups: list[list[str]] = []
    current: list[str] | None = None
    for token in side.replace("(", " ( ").replace(")", " ) ").split():
        names = ellipsis if token == "..." else [token]
        if token == "(":
            if current is not None:
                raise ValueError(f"rearrange: nested parentheses in {side!r}")
            current = []
        elif token == ")":
            if current is None:
                raise ValueError(f"rearrange: unbalanced ')' in {side!r}")
            groups.append(current)
            current = None
        elif current is not None:
            current.extend(names)
        else:
            groups.extend([name] for name in names)
    if current is not None:
        raise ValueError(f"rearrange: unbalanced '(' in {side!r}")
    return groups


def _int_tuple(value: int | Sequence[int], n: int, name: str) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    out = tuple(int(v) for v in value)
    if len(out) != n:
        raise ValueError(f"{name} {tuple(value)} should have {n} entries, one per spatial dim")
    return out


def _pool_pads(padding: Any, dims: int, kernel: Sequence[int], dilation: Sequence[int]) -> list[tuple[int, int]]:
    """(before, after) per spatial dim from an int, one int per dim, pairs per dim, a flat PyTorch-pad tuple
    (left, right, top, bottom: last dim first), or "valid" / "same" (PyTorch's split: the extra cell goes after)."""
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * dims
        if padding == "same":
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return [(t // 2, t - t // 2) for t in totals]
        raise ValueError(f"padding must be 'valid', 'same' or numbers, got {padding!r}")
    if isinstance(padding, int):
        return [(padding, padding)] * dims
    items = list(padding)
    if len(items) == dims and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in items):
        return [(int(lo), int(hi)) for lo, hi in items]
    if len(items) == dims and all(isinstance(p, int) for p in items):
        return [(p, p) for p in items]
    if len(items) == 2 * dims and all(isinstance(p, int) for p in items):
        return [(items[2 * i], items[2 * i + 1]) for i in range(dims)][::-1]
    raise ValueError(
        f"padding {padding!r} should be an int, {dims} ints, {dims} (before, after) pairs or {2 * dims} ints"
    )


def _interpolation_matrix(n_in: int, n_out: int, mode: str, align_corners: bool) -> np.ndarray:
    """(n_out, n_in) weights: output position r is sum_c matrix[r, c] * input[c], with PyTorch's source positions."""
    matrix = np.zeros((n_out, n_in), np.float32)
    rows = np.arange(n_out)
    if mode == "linear":
        if align_corners:
            src = rows * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
        else:
            src = np.maximum((rows + 0.5) * (n_in / n_out) - 0.5, 0.0)
        low = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        high = np.minimum(low + 1, n_in - 1)
        fraction = src - low
        np.add.at(matrix, (rows, low), 1 - fraction)
        np.add.at(matrix, (rows, high), fraction)
        return matrix
    offset = np.float32(0.5 if mode == "nearest-exact" else 0.0)
    # float32 arithmetic, as PyTorch does it, so ties round the same way
    src = np.floor((rows.astype(np.float32) + offset) * np.float32(n_in / n_out)).astype(np.int64)
    matrix[rows, np.minimum(src, n_in - 1)] = 1
    return matrix


def _bitonic_step(values: Tensor, index: Tensor, block: int, mirror: bool, descending: bool) -> tuple[Tensor, Tensor]:
    """One layer of a bitonic sorting network over the last dim: a compare-exchange inside every block of `block`
    elements, pairing i with i + block/2, or with block-1-i when `mirror` (that merges two sorted halves).
    Ties are ordered by index, so the network sorts (value, index) pairs: a stable sort."""
    shape = values.shape
    split = shape[:-1] + (shape[-1] // block, 2, block // 2)
    lead: list[tuple[int, int] | None] = [None] * (len(split) - 2)
    v, i = values.reshape(split), index.reshape(split)
    v_a, v_b = v.shrink([*lead, (0, 1), None]), v.shrink([*lead, (1, 2), None])
    i_a, i_b = i.shrink([*lead, (0, 1), None]), i.shrink([*lead, (1, 2), None])
    if mirror:
        v_b, i_b = v_b.flip(-1), i_b.flip(-1)
    after = v_b.gt(v_a) if descending else v_a.gt(v_b)
    swap = after | (v_a.eq(v_b) & i_a.gt(i_b))
    first_v, second_v = swap.where(v_b, v_a), swap.where(v_a, v_b)
    first_i, second_i = swap.where(i_b, i_a), swap.where(i_a, i_b)
    if mirror:
        second_v, second_i = second_v.flip(-1), second_i.flip(-1)
    # a kernel boundary per layer, forward and backward: inlined, each layer would read the previous one twice
    values = first_v.cat(second_v, dim=-2).reshape(shape).contiguous().contiguous_backward()
    index = first_i.cat(second_i, dim=-2).reshape(shape).contiguous()
    return values, index
