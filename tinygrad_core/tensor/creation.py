"""Creating tensors: constants, ranges, identity, random numbers (numpy's generator on the host, seeded by
Tensor.manual_seed) and the initialisers layers use."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_core.devices import Device
from tinygrad_core.dtype import DType, dtypes, to_dtype
from tinygrad_core.errors import ArgumentError, JitError
from tinygrad_core.helpers import new_shape
from tinygrad_core.lazy import LazyBuffer
from tinygrad_core.multi import MultiLazyBuffer
from tinygrad_core.schedule import capturing
from tinygrad_core.tensor.multi import canonical_devices

if TYPE_CHECKING:
    from tinygrad_core.tensor.tensor import Scalar, Tensor


def _const(
    cls: type[Tensor],
    value: Scalar,
    shape: tuple[int, ...],
    dtype: DType | str | None,
    device: str | tuple[str, ...] | None,
    **kw: Any,
) -> Tensor:
    kind = to_dtype(dtype) if dtype is not None else dtypes.from_py(value)
    if isinstance(device, tuple):  # replicated on several devices
        return cls(MultiLazyBuffer.const(value, kind, canonical_devices(device), shape), **kw)
    device = Device.canonicalize(device) if device is not None else Device.DEFAULT
    return cls(LazyBuffer.const(value, kind, device, shape), device=device, **kw)


def full(cls: type[Tensor], shape: Sequence[int] | int, fill_value: Scalar, **kwargs: Any) -> Tensor:
    """A tensor filled with one value. `Tensor.full((2,), 7).tolist()` -> [7, 7]"""
    shape = new_shape(shape)
    kw = {k: kwargs.pop(k) for k in ("dtype", "device") if k in kwargs}
    return cls._const(fill_value, shape, kw.get("dtype"), kw.get("device"), **kwargs)


def zeros(cls: type[Tensor], *shape: Any, **kwargs: Any) -> Tensor:
    """`Tensor.zeros(2, 3)` -> float32 zeros of shape (2, 3)"""
    return cls.full(new_shape(*shape), 0.0, **kwargs)


def ones(cls: type[Tensor], *shape: Any, **kwargs: Any) -> Tensor:
    """`Tensor.ones(2).tolist()` -> [1.0, 1.0]"""
    return cls.full(new_shape(*shape), 1.0, **kwargs)


def empty(
    cls: type[Tensor], *shape: Any, device: str | None = None, dtype: DType | str | None = None, **kwargs: Any
) -> Tensor:
    """Uninitialised memory of a shape. `Tensor.empty(2, 2).shape` -> (2, 2)"""
    device = Device.canonicalize(device) if device is not None else Device.DEFAULT
    kind = to_dtype(dtype) if dtype is not None else dtypes.default_float
    return cls(LazyBuffer.empty(new_shape(*shape), kind, device), device=device, **kwargs)


def arange(cls: type[Tensor], start: Scalar, stop: Scalar | None = None, step: Scalar = 1, **kwargs: Any) -> Tensor:
    """`Tensor.arange(5).tolist()` -> [0, 1, 2, 3, 4]"""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must not be zero")
    kind = to_dtype(kwargs.pop("dtype", None) or dtypes.from_py([start, stop, step]))
    values = np.arange(start, stop, step, dtype=np.float64 if dtypes.is_float(kind) else np.int64)
    return cls(values.astype(kind.np), dtype=kind, **kwargs)


def linspace(cls: type[Tensor], start: Scalar, stop: Scalar, steps: int, **kwargs: Any) -> Tensor:
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
        return cls.full((1,), start, dtype=kind, requires_grad=requires_grad, **kwargs)
    step = (stop - start) / max(steps - 1, 1)
    values = (cls.arange(steps, dtype=dtypes.float32, **kwargs) * step + start).cast(kind)
    return cls(values.lazydata, device=values.device, requires_grad=requires_grad)


def eye(cls: type[Tensor], n: int, m: int | None = None, **kwargs: Any) -> Tensor:
    """Identity matrix. `Tensor.eye(2).tolist()` -> [[1.0, 0.0], [0.0, 1.0]]"""
    m = n if m is None else m
    if not (isinstance(n, int) and isinstance(m, int)) or n < 0 or m < 0:
        raise ArgumentError(f"eye: n and m must be non-negative ints, got {n!r} and {m!r}")
    kind = kwargs.pop("dtype", dtypes.default_float)
    requires_grad = kwargs.pop("requires_grad", None)
    if n == 0 or m == 0 or n > m:
        # the tiling below needs rows at least as long as the columns: build the transpose
        square = cls.zeros(n, m, dtype=kind, **kwargs) if n == 0 or m == 0 else cls.eye(m, n, dtype=kind, **kwargs).T
    else:
        # a one followed by n zeros, tiled: every (n+1)th element of the flat matrix is on the diagonal
        row = cls.ones(1, dtype=kind, **kwargs).pad(((0, m),)).reshape(1, m + 1).expand(n, m + 1)
        square = row.reshape(-1)[: n * m].reshape(n, m)
    return cls(square.lazydata, device=square.device, requires_grad=requires_grad)


def manual_seed(cls: type[Tensor], seed: int = 0) -> None:
    """Seed the generator behind rand/randn/randint/dropout."""
    cls._rng = np.random.default_rng(seed)


def _generator(cls: type[Tensor]) -> np.random.Generator:
    """The generator behind rand & co., seeded with 0 on first use unless manual_seed came first."""
    if cls._rng is None:
        cls._rng = np.random.default_rng(0)
    return cls._rng


def _random(cls: type[Tensor], array: np.ndarray, dtype: DType | str | None, default: DType, **kwargs: Any) -> Tensor:
    if capturing():
        raise JitError(
            "random numbers drawn inside a TinyJit function would be frozen into its recording; "
            "draw them outside and pass them in"
        )
    kind = to_dtype(dtype) if dtype is not None else default
    return cls(array.astype(np.float32) if dtypes.is_float(kind) else array, dtype=kind, **kwargs)


def rand(cls: type[Tensor], *shape: Any, dtype: DType | str | None = None, **kwargs: Any) -> Tensor:
    """Uniform samples in [0, 1). `Tensor.rand(2, 3).shape` -> (2, 3)"""
    kind = to_dtype(dtype) if dtype is not None else dtypes.default_float
    # low-precision floats draw on their own grid (multiples of 2**-mantissa), so rounding never reaches 1.0
    bits = {dtypes.float16: 11, dtypes.bfloat16: 8}.get(kind)
    size = new_shape(*shape)
    values = (
        cls._generator().integers(0, 2**bits, size) / 2**bits if bits else cls._generator().random(size, np.float32)
    )
    return cls._random(values, kind, dtypes.default_float, **kwargs)


def randn(cls: type[Tensor], *shape: Any, dtype: DType | str | None = None, **kwargs: Any) -> Tensor:
    """Standard normal samples. `Tensor.randn(3).shape` -> (3,)"""
    return cls._random(
        cls._generator().standard_normal(new_shape(*shape), np.float32), dtype, dtypes.default_float, **kwargs
    )


def randint(
    cls: type[Tensor], *shape: Any, low: int = 0, high: int = 10, dtype: DType | str | None = None, **kwargs: Any
) -> Tensor:
    """Integers drawn from [low, high). `Tensor.randint(3, high=5).dtype` -> dtypes.int"""
    if not (isinstance(low, int) and isinstance(high, int)):
        raise TypeError(f"randint: low and high must be ints, got {low!r} and {high!r}")
    if dtype is not None and not dtypes.is_int(to_dtype(dtype)):
        raise TypeError(f"randint: dtype must be an integer dtype, got {to_dtype(dtype)}")
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    return cls._random(
        cls._generator().integers(low, high, new_shape(*shape)).astype(np.int32), dtype, dtypes.int32, **kwargs
    )


def multinomial(self: Tensor, num_samples: int = 1, replacement: bool = False) -> Tensor:
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
        u = self.rand(rows, num_samples, 1, device=self.device)
        picks = (u >= cdf.unsqueeze(1)).sum(2).minimum(self.shape[-1] - 1).cast(dtypes.int32)
    else:  # Gumbel top-k: the largest log(w) + Gumbel noise are a draw without replacement
        u = self.rand(rows, self.shape[-1], device=self.device)
        keys = weights.log() - (-(u.maximum(1e-20)).log()).log()
        picks = keys.topk(num_samples, 1)[1]
    return picks.reshape(num_samples) if self.ndim == 1 else picks


def from_blob(cls: type[Tensor], ptr: int, shape: tuple[int, ...], **kwargs: Any) -> Tensor:
    """A Tensor holding a copy of the host memory at address `ptr` (dtype and device as keyword arguments).
    tinygrad maps the memory without copying; we copy, so the pointer need only be valid during the call."""
    import ctypes

    kind = to_dtype(kwargs.pop("dtype", dtypes.default_float))
    count = math.prod(shape)
    raw = (ctypes.c_char * (count * kind.itemsize)).from_address(ptr)
    storage = np.uint16 if kind == dtypes.bfloat16 else kind.np
    array = np.frombuffer(bytes(raw), dtype=storage, count=count).reshape(shape)
    if kind == dtypes.bfloat16:
        return cls(
            LazyBuffer.from_numpy(array, kind, Device.canonicalize(kwargs.pop("device", None) or Device.DEFAULT)),
            **kwargs,
        )
    return cls(array, dtype=kind, **kwargs)


def uniform(cls: type[Tensor], *shape: Any, low: float = 0.0, high: float = 1.0, **kwargs: Any) -> Tensor:
    """Uniform samples in [low, high)."""
    kind = kwargs.pop("dtype", None)
    return (cls.rand(*shape, **kwargs) * (high - low) + low).cast(kind or dtypes.default_float)


def normal(cls: type[Tensor], *shape: Any, mean: float = 0.0, std: float = 1.0, **kwargs: Any) -> Tensor:
    """Normal samples with a mean and standard deviation."""
    kind = kwargs.pop("dtype", None)
    return (cls.randn(*shape, **kwargs) * std + mean).cast(kind or dtypes.default_float)


def full_like(self: Tensor, fill_value: Scalar, **kwargs: Any) -> Tensor:
    """`fill_value` in this tensor's shape, dtype and device (on several devices, in its layout too).

    `Tensor([1, 2]).full_like(7).tolist()` -> [7, 7]"""
    device = kwargs.pop("device", self.device)
    out = self.full(self.shape, fill_value, dtype=kwargs.pop("dtype", self.dtype), device=device, **kwargs)
    lazy = self.lazydata
    if isinstance(lazy, MultiLazyBuffer) and out.device == lazy.device:
        return out.shard(lazy.device, lazy.axis)
    return out


def zeros_like(self: Tensor, **kwargs: Any) -> Tensor:
    return self.full_like(0, **kwargs)


def ones_like(self: Tensor, **kwargs: Any) -> Tensor:
    return self.full_like(1, **kwargs)


def rand_like(self: Tensor, **kwargs: Any) -> Tensor:
    kind = kwargs.pop("dtype", self.dtype)
    return self.rand(*self.shape, device=kwargs.pop("device", self.device), dtype=kind, **kwargs)


def randn_like(self: Tensor, **kwargs: Any) -> Tensor:
    kind = kwargs.pop("dtype", self.dtype)
    return self.randn(*self.shape, device=kwargs.pop("device", self.device), dtype=kind, **kwargs)


def _init(
    cls: type[Tensor], shape: tuple[int, ...], low: float, high: float, normal_std: float | None, **kwargs: Any
) -> Tensor:
    """A fresh leaf: drawn without autodiff, then requires_grad set as asked (arithmetic would make a non-leaf)."""
    requires_grad = kwargs.pop("requires_grad", None)
    kind = to_dtype(kwargs.pop("dtype", None) or dtypes.default_float)
    if normal_std is None:
        out = cls.uniform(*shape, low=low, high=high, dtype=kind, **kwargs)
    else:
        out = cls.normal(*shape, mean=0.0, std=normal_std, dtype=kind, **kwargs)
    out = cls(out.lazydata, device=out.device)
    out.requires_grad = requires_grad
    return out


def _per_sqrt(scale: float, fan: int) -> float:
    """scale / sqrt(fan): an initializer's bound; 0 for a tensor without elements to draw (a Linear(0, n))."""
    return scale / math.sqrt(fan) if fan else 0.0


def scaled_uniform(cls: type[Tensor], *shape: Any, **kwargs: Any) -> Tensor:
    """Uniform in [-1, 1) / sqrt(numel). `Tensor.scaled_uniform(2, 3).shape` -> (2, 3)"""
    shape = new_shape(*shape)
    bound = _per_sqrt(1.0, math.prod(shape))
    return cls._init(shape, -bound, bound, None, **kwargs)


def glorot_uniform(cls: type[Tensor], *shape: Any, **kwargs: Any) -> Tensor:
    """Xavier/Glorot uniform: bound sqrt(6 / (shape[0] + prod(shape[1:]))). `Tensor.glorot_uniform(2, 3).shape` ->
    (2, 3)"""
    shape = new_shape(*shape)
    bound = _per_sqrt(math.sqrt(6), shape[0] + math.prod(shape[1:]))
    return cls._init(shape, -bound, bound, None, **kwargs)


def kaiming_uniform(cls: type[Tensor], *shape: Any, a: float = 0.01, **kwargs: Any) -> Tensor:
    """He uniform with fan_in = prod(shape[1:]) (tinygrad's default a=0.01). `Tensor.kaiming_uniform(2, 3).shape`
    -> (2, 3)"""
    shape = new_shape(*shape)
    bound = _per_sqrt(math.sqrt(3.0) * math.sqrt(2.0 / (1 + a**2)), math.prod(shape[1:]))
    return cls._init(shape, -bound, bound, None, **kwargs)


def kaiming_normal(cls: type[Tensor], *shape: Any, a: float = 0.01, **kwargs: Any) -> Tensor:
    """He normal with fan_in = prod(shape[1:]) (tinygrad's default a=0.01). `Tensor.kaiming_normal(2, 3).shape`
    -> (2, 3)"""
    shape = new_shape(*shape)
    std = _per_sqrt(math.sqrt(2.0 / (1 + a**2)), math.prod(shape[1:]))
    return cls._init(shape, 0.0, 0.0, std, **kwargs)


def randperm(cls: type[Tensor], n: int, **kwargs: Any) -> Tensor:
    """A random permutation of 0..n-1 (int32). `sorted(Tensor.randperm(3).tolist())` -> [0, 1, 2]"""
    kind = kwargs.pop("dtype", dtypes.int32)
    return cls(cls._generator().permutation(n).astype(np.int32), dtype=kind, **kwargs)


class CreationMixin:
    """Tensor's creation methods: the functions above, bound by Tensor, which inherits this class."""

    _const = classmethod(_const)
    full = classmethod(full)
    zeros = classmethod(zeros)
    ones = classmethod(ones)
    empty = classmethod(empty)
    arange = classmethod(arange)
    linspace = classmethod(linspace)
    eye = classmethod(eye)
    manual_seed = classmethod(manual_seed)
    _generator = classmethod(_generator)
    _random = classmethod(_random)
    rand = classmethod(rand)
    randn = classmethod(randn)
    randint = classmethod(randint)
    multinomial = multinomial
    from_blob = classmethod(from_blob)
    uniform = classmethod(uniform)
    normal = classmethod(normal)
    full_like = full_like
    zeros_like = zeros_like
    ones_like = ones_like
    rand_like = rand_like
    randn_like = randn_like
    _init = classmethod(_init)
    scaled_uniform = classmethod(scaled_uniform)
    glorot_uniform = classmethod(glorot_uniform)
    kaiming_uniform = classmethod(kaiming_uniform)
    kaiming_normal = classmethod(kaiming_normal)
    randperm = classmethod(randperm)
