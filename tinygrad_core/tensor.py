"""Tensor, the user's API. Every operation is written in terms of function.py's primitives, so backends only see those."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, Union

import numpy as np

from tinygrad_core import function as F
from tinygrad_core.devices import Device
from tinygrad_core.dtype import DType, dtypes, least_upper_dtype, least_upper_float, to_dtype
from tinygrad_core.errors import JitError, ShapeError
from tinygrad_core.lazy import LazyBuffer
from tinygrad_core.ops import Ops
from tinygrad_core.schedule import realize

Scalar = Union[int, float, bool]
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


class Tensor:
    """A lazily evaluated, differentiable n-dimensional array on one device."""

    training: ClassVar[bool] = False
    no_grad: ClassVar[bool] = False
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
            array = np.array(data, dtype=dtypes.float32.np if kind == dtypes.bfloat16 else kind.np)
            lazy = _from_host(array, kind, device)
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
        """Compute this tensor (and any others given) now: `Tensor.realize(a, b)` or `a.realize()`."""
        realize(*(t.lazydata for t in (self, *lst)))
        return self

    def contiguous(self) -> Tensor:
        return F.Contiguous.apply(self)

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
        return memoryview(np.ascontiguousarray(self.numpy()))

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
        """Write x's values into this tensor's memory (used by optimizers; keeps the buffer the JIT captured)."""
        if not isinstance(x, Tensor):
            x = Tensor(x, device=self.device, dtype=self.dtype)
        if x.shape != self.shape:
            raise ShapeError(f"assign: shapes {self.shape} and {x.shape} differ")
        if x.device != self.device:
            raise ShapeError(f"assign: devices {self.device} and {x.device} differ")
        value = x.lazydata.cast(self.dtype)
        if not (self.lazydata.realized and self.lazydata.st.contiguous and self.lazydata.shape == self.lazydata.base.shape):
            self.lazydata = value
            return self
        self.lazydata = self.lazydata.assign(value)
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
        return bool(self.item())

    def __hash__(self) -> int:
        return id(self)

    # --- creation ---
    @staticmethod
    def _const(value: Scalar, shape: tuple[int, ...], dtype: DType | str | None, device: str | None, **kw: Any) -> Tensor:
        device = Device.canonicalize(device) if device is not None else Device.DEFAULT
        kind = to_dtype(dtype) if dtype is not None else dtypes.from_py(value)
        return Tensor(LazyBuffer.const(value, kind, device, shape), device=device, **kw)

    @staticmethod
    def full(shape: Sequence[int] | int, fill_value: Scalar, **kwargs: Any) -> Tensor:
        """A tensor filled with one value. `Tensor.full((2,), 7).tolist()` -> [7, 7]"""
        shape = _argfix(shape)
        kw = {k: kwargs.pop(k) for k in ("dtype", "device") if k in kwargs}
        return Tensor._const(fill_value, shape, kw.get("dtype"), kw.get("device"), **kwargs)

    @staticmethod
    def zeros(*shape: Any, **kwargs: Any) -> Tensor:
        """`Tensor.zeros(2, 3)` -> float32 zeros of shape (2, 3)"""
        return Tensor.full(_argfix(*shape), 0.0, **kwargs)

    @staticmethod
    def ones(*shape: Any, **kwargs: Any) -> Tensor:
        """`Tensor.ones(2).tolist()` -> [1.0, 1.0]"""
        return Tensor.full(_argfix(*shape), 1.0, **kwargs)

    @staticmethod
    def empty(*shape: Any, device: str | None = None, dtype: DType | str | None = None, **kwargs: Any) -> Tensor:
        """Uninitialised memory of a shape. `Tensor.empty(2, 2).shape` -> (2, 2)"""
        device = Device.canonicalize(device) if device is not None else Device.DEFAULT
        kind = to_dtype(dtype) if dtype is not None else dtypes.default_float
        return Tensor(LazyBuffer.empty(_argfix(*shape), kind, device), device=device, **kwargs)

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
        if steps < 0:
            raise ValueError("linspace: steps must be non-negative")
        kind = to_dtype(kwargs.pop("dtype", dtypes.default_float))
        if steps == 1:
            return Tensor.full((1,), start, dtype=kind, **kwargs)
        step = (stop - start) / max(steps - 1, 1)
        return (Tensor.arange(steps, dtype=dtypes.float32, **kwargs) * step + start).cast(kind)

    @staticmethod
    def eye(n: int, m: int | None = None, **kwargs: Any) -> Tensor:
        """Identity matrix. `Tensor.eye(2).tolist()` -> [[1.0, 0.0], [0.0, 1.0]]"""
        m = n if m is None else m
        kind = kwargs.pop("dtype", dtypes.default_float)
        if n == 0 or m == 0:
            return Tensor.zeros(n, m, dtype=kind, **kwargs)
        # a one followed by n zeros, tiled: every (n+1)th element of the flat matrix is on the diagonal
        row = Tensor.ones(1, dtype=kind, **kwargs).pad(((0, m),)).reshape(1, m + 1).expand(n, m + 1)
        return row.reshape(-1)[: n * m].reshape(n, m)

    @staticmethod
    def manual_seed(seed: int = 0) -> None:
        """Seed the generator behind rand/randn/randint/dropout."""
        Tensor._rng = np.random.default_rng(seed)

    @staticmethod
    def _random(array: np.ndarray, dtype: DType | str | None, default: DType, **kwargs: Any) -> Tensor:
        if Tensor._jit_capturing:
            raise JitError("random numbers drawn inside a TinyJit function would be frozen into its recording; draw them outside and pass them in")
        kind = to_dtype(dtype) if dtype is not None else default
        return Tensor(array.astype(np.float32) if dtypes.is_float(kind) else array, dtype=kind, **kwargs)

    @staticmethod
    def rand(*shape: Any, dtype: DType | str | None = None, **kwargs: Any) -> Tensor:
        """Uniform samples in [0, 1). `Tensor.rand(2, 3).shape` -> (2, 3)"""
        return Tensor._random(Tensor._rng.random(_argfix(*shape), np.float32), dtype, dtypes.default_float, **kwargs)

    @staticmethod
    def randn(*shape: Any, dtype: DType | str | None = None, **kwargs: Any) -> Tensor:
        """Standard normal samples. `Tensor.randn(3).shape` -> (3,)"""
        return Tensor._random(Tensor._rng.standard_normal(_argfix(*shape), np.float32), dtype, dtypes.default_float, **kwargs)

    @staticmethod
    def randint(*shape: Any, low: int = 0, high: int = 10, dtype: DType | str | None = None, **kwargs: Any) -> Tensor:
        """Integers drawn from [low, high). `Tensor.randint(3, high=5).dtype` -> dtypes.int"""
        if high <= low:
            raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
        return Tensor._random(Tensor._rng.integers(low, high, _argfix(*shape)).astype(np.int32), dtype, dtypes.int32, **kwargs)

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
        return Tensor.full(self.shape, fill_value, dtype=kwargs.pop("dtype", self.dtype), device=kwargs.pop("device", self.device), **kwargs)

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
                if node._ctx is not None:
                    stack.extend((p, False) for p in node._ctx.parents)
        return order

    def _gradients(self, grad: Tensor) -> dict[int, tuple[Tensor, LazyBuffer]]:
        grads: dict[int, tuple[Tensor, LazyBuffer]] = {id(self): (self, grad.lazydata)}
        for node in reversed(self._toposort()):
            if node._ctx is None or id(node) not in grads:
                continue
            results = node._ctx.backward(grads[id(node)][1])
            if not isinstance(results, tuple):
                results = (results,)
            for parent, g in zip(node._ctx.parents, results):
                if g is None or not parent.requires_grad:
                    continue
                if g.shape != parent.shape:
                    raise RuntimeError(f"internal: gradient of shape {g.shape} for a tensor of shape {parent.shape}")
                previous = grads.get(id(parent))
                grads[id(parent)] = (parent, g if previous is None else previous[1].alu(Ops.ADD, g))
        return grads

    def _seed_grad(self, gradient: Tensor | None) -> Tensor:
        if gradient is None:
            if self.numel() != 1:
                raise RuntimeError(f"backward() on a tensor of shape {self.shape} needs a gradient argument; reduce it to one element first (e.g. .sum())")
            return Tensor.ones(self.shape, dtype=self.dtype, device=self.device)
        if gradient.shape != self.shape:
            raise ShapeError(f"backward: gradient shape {gradient.shape} does not match tensor shape {self.shape}")
        return gradient

    def backward(self, gradient: Tensor | None = None) -> Tensor:
        """Accumulate d(self)/d(leaf) into every leaf's .grad. `(x * 2).sum().backward()` gives x.grad == 2"""
        if self._ctx is None and not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad (create inputs with requires_grad=True)")
        for tensor, g in self._gradients(self._seed_grad(gradient)).values():
            if tensor._ctx is not None:
                continue  # only leaves keep gradients, like PyTorch
            if tensor.grad is None:
                tensor.grad = Tensor(g, device=tensor.device, requires_grad=False)
            else:
                tensor.grad = Tensor(tensor.grad.lazydata.alu(Ops.ADD, g), device=tensor.device, requires_grad=False)
        return self

    def gradient(self, *targets: Tensor, gradient: Tensor | None = None) -> list[Tensor]:
        """d(self)/d(target) for each target, leaving .grad untouched."""
        grads = self._gradients(self._seed_grad(gradient))
        out = []
        for target in targets:
            if id(target) not in grads:
                raise RuntimeError(f"gradient: a target of shape {target.shape} is not part of this graph (or has requires_grad=False)")
            out.append(Tensor(grads[id(target)][1], device=target.device))
        return out

    @staticmethod
    @contextlib.contextmanager
    def train(mode: bool = True) -> Iterator[None]:
        """`with Tensor.train():` sets Tensor.training inside the block."""
        previous, Tensor.training = Tensor.training, mode
        try:
            yield
        finally:
            Tensor.training = previous

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
        axes = tuple(sorted({self._axis(a) for a in _argfix(axis, *args)}))
        return F.Flip.apply(self, axes=axes) if axes else self

    def shrink(self, arg: Sequence[tuple[int, int] | None]) -> Tensor:
        """Keep [lo, hi) of each dim (None keeps it all). `Tensor([1, 2, 3]).shrink(((1, 3),)).tolist()` -> [2, 3]"""
        bounds = tuple((0, s) if b is None else (int(b[0]), int(b[1])) for b, s in zip(arg, self.shape))
        if any(not 0 <= lo <= hi <= s for (lo, hi), s in zip(bounds, self.shape)):
            raise ShapeError(f"shrink: bounds {bounds} out of range for shape {self.shape}")
        return self if all(b == (0, s) for b, s in zip(bounds, self.shape)) else F.Shrink.apply(self, bounds=bounds)

    def pad(self, padding: Sequence[Any], mode: str = "constant", value: float = 0.0) -> Tensor:
        """Pad with a constant. Accepts ((before, after), ...) per dim, or PyTorch's flat (left, right, top, bottom, ...)."""
        if mode != "constant":
            raise NotImplementedError(f"pad mode {mode!r}; only 'constant' is supported")
        if padding and not isinstance(padding[0], (tuple, list)) and padding[0] is not None:
            flat = list(padding)
            if len(flat) % 2 or len(flat) // 2 > self.ndim:
                raise ShapeError(f"pad: flat padding {tuple(flat)} needs an even length of at most 2 * {self.ndim}")
            pairs = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)][::-1]
            padding = [(0, 0)] * (self.ndim - len(pairs)) + pairs
        if len(padding) != self.ndim:
            raise ShapeError(f"pad: {len(padding)} pairs for a tensor with {self.ndim} dims")
        pairs = tuple((0, 0) if p is None else (int(p[0]), int(p[1])) for p in padding)
        if all(p == (0, 0) for p in pairs):
            return self
        if any(b < 0 or a < 0 for b, a in pairs):
            shrink = tuple((-min(b, 0), s + min(a, 0)) for (b, a), s in zip(pairs, self.shape))
            return self.shrink(shrink).pad(tuple((max(b, 0), max(a, 0)) for b, a in pairs), value=value)
        padded = F.Pad.apply(self, padding=pairs)
        if value == 0:
            return padded
        inside = F.Pad.apply(Tensor.ones(self.shape, dtype=dtypes.bool, device=self.device), padding=pairs)
        return inside.where(padded, value)

    def transpose(self, dim0: int = 1, dim1: int = 0) -> Tensor:
        """Swap two dims. `Tensor.ones(2, 3).transpose().shape` -> (3, 2)"""
        order = list(range(self.ndim))
        a, b = self._axis(dim0), self._axis(dim1)
        order[a], order[b] = order[b], order[a]
        return self.permute(order)

    @property
    def T(self) -> Tensor:  # noqa: N802
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
        if self.ndim == 0:
            return self
        dim = self._axis(dim)
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
        """numpy indexing: ints, slices with steps, None, Ellipsis, negative indices, and integer tensors."""
        if not isinstance(indices, tuple):
            indices = (indices,)
        indices = tuple(Tensor(i, device=self.device, dtype=dtypes.int32) if isinstance(i, (list, np.ndarray)) else i for i in indices)
        if sum(1 for i in indices if i is Ellipsis) > 1:
            raise IndexError("an index can only have a single ellipsis")
        consuming = sum(1 for i in indices if i is not None and i is not Ellipsis)
        if consuming > self.ndim:
            raise IndexError(f"too many indices ({consuming}) for a tensor of shape {self.shape}")
        if Ellipsis in [i if not isinstance(i, Tensor) else None for i in indices]:
            at = [i if not isinstance(i, Tensor) else None for i in indices].index(Ellipsis)
            indices = indices[:at] + (slice(None),) * (self.ndim - consuming) + indices[at + 1 :]
        else:
            indices = indices + (slice(None),) * (self.ndim - consuming)
        x, dim, shape_out, tensor_dims = self, 0, [], []
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
            else:
                raise IndexError(f"unsupported index {index!r} (use ints, slices, None, ..., or integer tensors)")
            dim += 1
        x = x.shrink(bounds).flip(tuple(i for i, f in enumerate(flips) if f))
        if any(s != 1 for s in strides):
            x = x._stride(strides)
        # rebuild the shape: dropped dims go, new dims come
        kept_shape, tensor_positions, axis = [], [], 0
        for kind, index in shape_out:
            if kind == "new":
                kept_shape.append(1)
            elif kind == "drop":
                axis += 1
            else:
                if kind == "tensor":
                    tensor_positions.append((len(kept_shape), index))
                kept_shape.append(x.shape[axis])
                axis += 1
        x = x.reshape(kept_shape)
        if tensor_positions:
            x = x._gather_tensors(tensor_positions)
        return x

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
            onehot = fixed.reshape(batch + (1,)) == Tensor.arange(size, device=self.device).reshape((1,) * len(batch) + (size,))
            remaining = len(dims) - k - 1
            onehot = onehot.reshape(batch + (size,) + (1,) * (remaining + len(rest)))
            x = (x * onehot.cast(x.dtype)).sum(len(batch), dtype=x.dtype)
        # x is now batch + rest dims; numpy puts batch dims at the first index's place when the indexed dims are adjacent
        if dims == list(range(dims[0], dims[0] + len(dims))):
            nb = len(batch)
            order = list(range(nb, nb + dims[0])) + list(range(nb)) + list(range(nb + dims[0], x.ndim))
            x = x.permute(order)
        return x.cast(self.dtype)

    # --- broadcasting and elementwise ---
    def _broadcasted(self, other: TensorLike, reverse: bool = False, op: str = "op", match_dtype: bool = True) -> tuple[Tensor, Tensor]:
        x: Tensor = self
        if isinstance(other, Tensor):
            y = other
            if y.device != x.device:
                from tinygrad_core.errors import DeviceError

                raise DeviceError(f"{op}: tensors on different devices ({x.device} and {y.device}); move one with .to(device)")
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
            y = Tensor(LazyBuffer.const(other, kind, x.device), device=x.device)
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

    def float(self) -> Tensor:
        return self.cast(dtypes.float32)

    def half(self) -> Tensor:
        return self.cast(dtypes.float16)

    def int(self) -> Tensor:
        return self.cast(dtypes.int32)

    def long(self) -> Tensor:
        return self.cast(dtypes.int64)

    def bool(self) -> Tensor:
        return self.cast(dtypes.bool)

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
            raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
        return F.Div.apply(a._float(), b._float())

    def idiv(self, x: TensorLike, reverse: bool = False) -> Tensor:
        """Integer division truncating toward zero (C's /). `Tensor([-7]).idiv(2).tolist()` -> [-3]"""
        a, b = self._broadcasted(x, reverse, "idiv")
        if dtypes.is_float(a.dtype):
            raise TypeError(f"idiv needs integer tensors, got {a.dtype}")
        return Tensor(a.lazydata.alu(Ops.IDIV, b.lazydata), device=a.device)

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
        remainder = Tensor(a.lazydata.alu(Ops.MOD, b.lazydata), device=a.device)
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
        return -F.Maximum.apply(-a, -b) if not dtypes.is_unsigned(a.dtype) else a.lt(b).where(a, b)

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
        return Tensor(a.lazydata.alu(op, b.lazydata), device=a.device)

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
            raise TypeError(f"{name} needs integer or bool tensors, got {a.dtype}")
        return Tensor(a.lazydata.alu(op, b.lazydata), device=a.device)

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
        return Tensor(self.cast(dtypes.bool).lazydata.alu(Ops.NEG), device=self.device)

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
        return Tensor(self.lazydata.alu(Ops.TRUNC), device=self.device)

    def floor(self) -> Tensor:
        truncated = self.trunc()
        return self.lt(truncated).where(truncated - 1, truncated) if dtypes.is_float(self.dtype) else self

    def ceil(self) -> Tensor:
        truncated = self.trunc()
        return self.gt(truncated).where(truncated + 1, truncated) if dtypes.is_float(self.dtype) else self

    def clip(self, min_: TensorLike | None = None, max_: TensorLike | None = None) -> Tensor:
        """Clamp into [min_, max_]. `Tensor([-1, 5]).clip(0, 3).tolist()` -> [0, 3]"""
        if min_ is None and max_ is None:
            raise ValueError("clip needs at least one of min_ or max_")
        x = self
        if min_ is not None:
            x = x.maximum(min_)
        if max_ is not None:
            x = x.minimum(max_)
        return x

    clamp = clip

    def pow(self, x: TensorLike, reverse: bool = False) -> Tensor:
        """`(Tensor([2.0]) ** 3).tolist()` -> [8.0]"""
        if not reverse and isinstance(x, (int, float)) and not isinstance(x, bool) and float(x).is_integer() and abs(x) <= 16:
            if x == 0:
                return self.ones_like()
            base = self if x > 0 else self.reciprocal()
            result = base
            for _ in range(int(abs(x)) - 1):
                result = result * base
            return result
        base, exponent = self._broadcasted(x, reverse, "pow")
        if not dtypes.is_float(base.dtype):
            base, exponent = base._float(), exponent._float()
        magnitude = (exponent * base.abs().log()).exp()
        odd_integer = exponent.trunc().eq(exponent) & (exponent.abs() % 2).eq(1)
        integer = exponent.trunc().eq(exponent)
        negative = base.lt(0)
        signed = (negative & odd_integer).where(-magnitude, magnitude)
        signed = (negative & integer.logical_not()).where(float("nan"), signed)
        return exponent.eq(0).where(1.0, signed)

    # --- reductions ---
    def _reduce_axes(self, axis: int | Sequence[int] | None) -> tuple[int, ...]:
        if axis is None:
            return tuple(range(self.ndim))
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        return tuple(sorted({self._axis(a) for a in axes}))

    def _reduce(self, fn: type[F.Function], axis: int | Sequence[int] | None, keepdim: bool) -> Tensor:
        axes = self._reduce_axes(axis)
        out = fn.apply(self, axis=axes) if axes else self
        if keepdim:
            return out
        return out.reshape(tuple(s for i, s in enumerate(self.shape) if i not in axes))

    def sum(self, axis: int | Sequence[int] | None = None, keepdim: bool = False, acc_dtype: DType | None = None, dtype: DType | None = None) -> Tensor:
        """`Tensor([[1, 2], [3, 4]]).sum(axis=1).tolist()` -> [3, 7]"""
        kind = dtype or acc_dtype
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
        if self.numel() == 0 and any(self.shape[a] == 0 for a in self._reduce_axes(axis)):
            raise ValueError(f"max of an empty dim (shape {self.shape}) has no identity")
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

    def std_mean(self, axis: int | Sequence[int] | None = None, keepdim: bool = False, correction: int = 1) -> tuple[Tensor, Tensor]:
        return self.std(axis, keepdim, correction), self.mean(axis, keepdim)

    def prod(self, axis: int | Sequence[int] | None = None, keepdim: bool = False, dtype: DType | None = None) -> Tensor:
        """Product of elements. `Tensor([2, 3, 4]).prod().item()` -> 24"""
        x = self.cast(dtype) if dtype is not None else self
        if dtype is None and (x.dtype == dtypes.bool or (dtypes.is_int(x.dtype) and x.dtype.itemsize < 4)):
            x = x.cast(dtypes.uint32 if dtypes.is_unsigned(x.dtype) else dtypes.int32)
        axes = self._reduce_axes(axis)
        rest = [a for a in range(self.ndim) if a not in axes]
        # reduce by multiplying halves: exact for integers, log2(n) small kernels
        flat = x.permute(rest + list(axes)).reshape(tuple(self.shape[a] for a in rest) + (_prod([self.shape[a] for a in axes]),))
        while flat.shape[-1] > 1:
            if flat.shape[-1] % 2:
                flat = flat.pad([(0, 0)] * (flat.ndim - 1) + [(0, 1)], value=1)
            halves = flat.reshape(flat.shape[:-1] + (flat.shape[-1] // 2, 2))
            flat = (halves[..., 0] * halves[..., 1]).contiguous()
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
        return (-self).argmax(axis, keepdim)

    def any(self, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return self.bool().max(axis, keepdim) if self.numel() else Tensor.full((), False, device=self.device)

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
            raise ShapeError(f"matmul: shapes {self.shape} and {w.shape} are not aligned ({x.shape[-1]} != {y.shape[-2]})")
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


def _from_host(array: np.ndarray, dtype: DType, device: str) -> LazyBuffer:
    if dtype == dtypes.bfloat16:
        # round-to-nearest-even float32 -> bfloat16 bits
        bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)
        rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
        return LazyBuffer.from_numpy(rounded, dtype, device)
    return LazyBuffer.from_numpy(np.ascontiguousarray(array, dtype=dtype.np), dtype, device)


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """`with no_grad():` builds no autodiff graph inside the block (Tensor.no_grad = True does the same)."""
    previous, Tensor.no_grad = Tensor.no_grad, True
    try:
        yield
    finally:
        Tensor.no_grad = previous
