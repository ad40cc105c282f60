"""Layers: callables holding parameter Tensors, with tinygrad's names and PyTorch's default initialisation.

A layer is a plain object: its Tensors are its attributes, found by nn.state.get_state_dict (keys like "0.weight")
and by the optimizers (`optim.Adam([model])`). Parameters are created with requires_grad=True, like PyTorch's
nn.Parameter, so gradients reach them whether the optimizer is built before or after the first backward().
Buffers (BatchNorm's running statistics) have requires_grad=False. Tensors go to Device.DEFAULT.

    from tinygrad_core.nn import Linear, optim
    model = Sequential(Linear(2, 8), Tensor.relu, Linear(8, 1))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from tinygrad_core.devices import Device
from tinygrad_core.dtype import dtypes
from tinygrad_core.errors import ArgumentError
from tinygrad_core.nn import optim, state
from tinygrad_core.tensor import Tensor
from tinygrad_core.tensor.checks import defer

__all__ = [
    "BatchNorm",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "Dropout",
    "Embedding",
    "GroupNorm",
    "InstanceNorm",
    "LSTMCell",
    "LayerNorm",
    "LayerNorm2d",
    "Linear",
    "RMSNorm",
    "Sequential",
    "optim",
    "state",
]


def _param(tensor: Tensor) -> Tensor:
    """A trainable tensor of its own (realized: a layer's parameters are updated in place from the first step)."""
    param = tensor.detach().contiguous().realize()
    param.requires_grad = True  # set after contiguous(): a parameter must be a leaf of the autodiff graph
    return param


def _uniform(*shape: int, bound: float) -> Tensor:
    return _param(Tensor.uniform(*shape, low=-bound, high=bound))


def _buffer(value: float, shape: tuple[int, ...]) -> Tensor:
    return Tensor.full(shape, value, dtype=dtypes.default_float, requires_grad=False).contiguous().realize()


def _tuple(value: int | Sequence[int], n: int) -> tuple[int, ...]:
    return (value,) * n if isinstance(value, int) else tuple(value)


def _sizes(layer: object, positive: bool = False, **sizes: Any) -> None:
    """Raise an ArgumentError naming the layer and the argument when a size is not a non-negative (or, with
    `positive`, a positive) int; `Linear(-1, 3)` would otherwise fail deep inside an initializer."""
    lowest = 1 if positive else 0
    for name, value in sizes.items():
        values = value if isinstance(value, (tuple, list)) else (value,)
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= lowest for v in values):
            kind = "a positive int" if positive else "a non-negative int"
            raise ArgumentError(f"{type(layer).__name__}: {name} must be {kind}, got {value!r}")


def _bound(fan_in: int) -> float:
    """PyTorch's uniform(+-1/sqrt(fan_in)) bias bound; 0 for layers without inputs."""
    return 1 / math.sqrt(fan_in) if fan_in else 0.0


# --- linear and convolution ---
class Linear:
    """y = x @ weight.T + bias; weight (out_features, in_features). `Linear(3, 1)(Tensor.ones(2, 3)).shape` -> (2, 1)"""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        _sizes(self, in_features=in_features, out_features=out_features)
        # kaiming_uniform with a=sqrt(5) and a uniform(+-1/sqrt(fan_in)) bias: PyTorch's nn.Linear defaults
        self.weight = _param(Tensor.kaiming_uniform(out_features, in_features, a=math.sqrt(5)))
        self.bias = _uniform(out_features, bound=_bound(in_features)) if bias else None

    def __call__(self, x: Tensor) -> Tensor:
        return x.linear(self.weight.transpose(), self.bias)


class Conv2d:
    """2-D convolution over (N, C, H, W); weight (out_channels, in_channels // groups, *kernel_size)."""

    _dims = 2  # spatial dims: Conv1d overrides it, and conv2d takes any number of them from the weight's shape

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] | str = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
    ):
        self._setup(in_channels, out_channels, kernel_size, stride, padding, dilation, groups)
        self._init_params((out_channels, in_channels // groups), out_channels, bias)

    def _setup(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        groups: int,
    ) -> None:
        _sizes(self, in_channels=in_channels, out_channels=out_channels)
        _sizes(self, positive=True, kernel_size=kernel_size, stride=stride, dilation=dilation, groups=groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{type(self).__name__}: in_channels ({in_channels}) and out_channels ({out_channels}) "
                f"must be divisible by groups ({groups})"
            )
        self.kernel_size = _tuple(kernel_size, self._dims)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{type(self).__name__}: padding must be 'same', 'valid' or numbers, got {padding!r}")
            if padding == "same" and any(s != 1 for s in _tuple(stride, self._dims)):
                raise ValueError(f"{type(self).__name__}: padding='same' needs stride 1, got stride={stride}")
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def _init_params(self, channels: tuple[int, int], out_channels: int, bias: bool) -> None:
        # PyTorch's defaults: kaiming_uniform(a=sqrt(5)) weights, bias uniform(+-1/sqrt(fan_in)), where fan_in is
        # weight.shape[1] * kernel area (for a transposed conv that is out_channels // groups * kernel area)
        fan_in = channels[1] * math.prod(self.kernel_size)
        self.weight = _param(Tensor.kaiming_uniform(*channels, *self.kernel_size, a=math.sqrt(5)))
        self.bias = _uniform(out_channels, bound=_bound(fan_in)) if bias else None

    def __call__(self, x: Tensor) -> Tensor:
        return x.conv2d(
            self.weight, self.bias, groups=self.groups, stride=self.stride, dilation=self.dilation, padding=self.padding
        )


class ConvTranspose2d(Conv2d):
    """Transposed 2-D convolution; weight (in_channels, out_channels // groups, *kernel_size), like PyTorch."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        output_padding: int | Sequence[int] = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
    ):
        self._setup(in_channels, out_channels, kernel_size, stride, padding, dilation, groups)
        self.output_padding = output_padding
        self._init_params((in_channels, out_channels // groups), out_channels, bias)

    def __call__(self, x: Tensor) -> Tensor:
        return x.conv_transpose2d(
            self.weight,
            self.bias,
            groups=self.groups,
            stride=self.stride,
            dilation=self.dilation,
            padding=self.padding,
            output_padding=self.output_padding,
        )


class Conv1d(Conv2d):
    """1-D convolution over (N, C, L); weight (out_channels, in_channels // groups, kernel_size)."""

    _dims = 1


class ConvTranspose1d(ConvTranspose2d):
    """Transposed 1-D convolution over (N, C, L); weight (in_channels, out_channels // groups, kernel_size)."""

    _dims = 1


# --- normalisation ---
class BatchNorm:
    """Batch normalisation over every axis but 1 (channels): (N, C), (N, C, L) or (N, C, H, W).

    With Tensor.training, normalises with the batch's statistics and updates running_mean / running_var (the
    variance unbiased, like PyTorch) and num_batches_tracked; the updates are assigned lazily and realized with
    the next optimizer step (or any realize of them). Otherwise it uses the running statistics.
    """

    def __init__(
        self, sz: int, eps: float = 1e-5, affine: bool = True, track_running_stats: bool = True, momentum: float = 0.1
    ):
        _sizes(self, sz=sz)
        self.eps, self.track_running_stats, self.momentum = eps, track_running_stats, momentum
        self.weight = _param(Tensor.ones(sz)) if affine else None
        self.bias = _param(Tensor.zeros(sz)) if affine else None
        if track_running_stats:
            self.running_mean = _buffer(0.0, (sz,))
            self.running_var = _buffer(1.0, (sz,))
            count_dtype = dtypes.int64 if dtypes.int64 in Device[Device.DEFAULT].dtypes else dtypes.int32
            self.num_batches_tracked = Tensor.zeros((), dtype=count_dtype, requires_grad=False).contiguous().realize()

    def __call__(self, x: Tensor) -> Tensor:
        if x.ndim < 2:
            raise ValueError(f"BatchNorm needs input of shape (N, C, ...), got {x.shape}")
        axes = tuple(a for a in range(x.ndim) if a != 1)
        if Tensor.training or not self.track_running_stats:
            mean = x.mean(axis=axes)
            var = (x - mean.reshape(1, -1, *[1] * (x.ndim - 2))).square().mean(axis=axes)
            if Tensor.training and self.track_running_stats:
                count = x.numel() // x.shape[1]
                unbiased = var.detach() * (count / max(count - 1, 1))
                new_mean = (1 - self.momentum) * self.running_mean + self.momentum * mean.detach()
                new_var = (1 - self.momentum) * self.running_var + self.momentum * unbiased
                self.running_mean.assign(new_mean.cast(self.running_mean.dtype))
                self.running_var.assign(new_var.cast(self.running_var.dtype))
                self.num_batches_tracked.assign(self.num_batches_tracked + 1)
        else:
            mean, var = self.running_mean, self.running_var
        return x.batchnorm(self.weight, self.bias, mean, (var + self.eps).rsqrt())


BatchNorm1d = BatchNorm2d = BatchNorm


class LayerNorm:
    """Normalise over the last len(normalized_shape) axes, then scale and shift (elementwise_affine)."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True):
        _sizes(self, normalized_shape=normalized_shape)
        self.normalized_shape = _tuple(normalized_shape, 1)
        self.axis = tuple(-1 - i for i in range(len(self.normalized_shape)))
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.weight = _param(Tensor.ones(*self.normalized_shape)) if elementwise_affine else None
        self.bias = _param(Tensor.zeros(*self.normalized_shape)) if elementwise_affine else None

    def __call__(self, x: Tensor) -> Tensor:
        if x.shape[-len(self.normalized_shape) :] != self.normalized_shape:
            raise ValueError(f"LayerNorm{self.normalized_shape} got input of shape {x.shape}")
        out = x.layernorm(axis=self.axis, eps=self.eps)
        if self.weight is None or self.bias is None:
            return out
        return out * self.weight + self.bias


class LayerNorm2d(LayerNorm):
    """LayerNorm over the channels of (N, C, H, W): each position's C values are normalised together."""

    def __call__(self, x: Tensor) -> Tensor:
        return super().__call__(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class GroupNorm:
    """Split the channels (axis 1) into num_groups groups and normalise each group over its channels and positions."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True):
        _sizes(self, num_channels=num_channels)
        _sizes(self, positive=True, num_groups=num_groups)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        self.weight = _param(Tensor.ones(num_channels)) if affine else None
        self.bias = _param(Tensor.zeros(num_channels)) if affine else None

    def __call__(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm({self.num_groups}, {self.num_channels}) got input of shape {x.shape}")
        out = x.reshape(x.shape[0], self.num_groups, -1).layernorm(eps=self.eps).reshape(x.shape)
        if self.weight is None or self.bias is None:
            return out
        channel_shape = (1, -1, *[1] * (x.ndim - 2))
        return out * self.weight.reshape(channel_shape) + self.bias.reshape(channel_shape)


class InstanceNorm(GroupNorm):
    """Normalise each channel of each sample over its positions: (N, C, ...) -> same shape; affine per channel.
    A GroupNorm with one channel per group."""

    def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = True):
        super().__init__(num_features, num_features, eps, affine)
        self.num_features = num_features


class RMSNorm:
    """x / sqrt(mean(x**2 over the last axis) + eps) * weight, computed in float32 and cast back to x's dtype."""

    def __init__(self, dim: int, eps: float = 1e-6, elementwise_affine: bool = True):
        _sizes(self, dim=dim)
        self.eps = eps
        self.weight = _param(Tensor.ones(dim)) if elementwise_affine else None

    def _norm(self, x: Tensor) -> Tensor:
        return x * (x.square().mean(-1, keepdim=True) + self.eps).rsqrt()

    def __call__(self, x: Tensor) -> Tensor:
        out = self._norm(x.float()).cast(x.dtype)
        return out if self.weight is None else out * self.weight


# --- lookup, regularisation, recurrence ---
class Embedding:
    """A lookup table: integer indices of any shape -> their rows of weight (vocab_size, embed_size), N(0, 1) init."""

    def __init__(self, vocab_size: int, embed_size: int):
        _sizes(self, vocab_size=vocab_size, embed_size=embed_size)
        self.vocab_sz, self.embed_sz = vocab_size, embed_size
        self.weight = _param(Tensor.randn(vocab_size, embed_size))

    def __call__(self, idx: Tensor) -> Tensor:
        if dtypes.is_float(idx.dtype):
            raise TypeError(f"Embedding needs integer indices, got {idx.dtype}")
        # a one-hot row per index times the table: a matmul, so the gradient reaches exactly the rows used
        vocab = Tensor.arange(self.vocab_sz, device=self.weight.device, dtype=idx.dtype)
        one_hot = (idx.unsqueeze(-1) == vocab).cast(self.weight.dtype)
        out = one_hot @ self.weight
        n = self.vocab_sz
        defer((idx < 0) | (idx >= n), IndexError, f"Embedding: an index is out of range (vocab 0 to {n - 1})", out)
        return out


class Dropout:
    """Zero each element with probability p while Tensor.training (scaling the rest by 1/(1-p)); identity otherwise."""

    def __init__(self, p: float = 0.5):
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def __call__(self, x: Tensor) -> Tensor:
        return x.dropout(self.p)


class LSTMCell:
    """One LSTM step: (x, (h, c)) -> (h', c'), gates ordered input, forget, cell, output like PyTorch."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        _sizes(self, input_size=input_size, hidden_size=hidden_size)
        bound = _bound(hidden_size)  # PyTorch initialises every LSTM weight and bias uniform(+-1/sqrt(hidden))
        self.hidden_size = hidden_size
        self.weight_ih = _uniform(4 * hidden_size, input_size, bound=bound)
        self.weight_hh = _uniform(4 * hidden_size, hidden_size, bound=bound)
        self.bias_ih = _uniform(4 * hidden_size, bound=bound) if bias else None
        self.bias_hh = _uniform(4 * hidden_size, bound=bound) if bias else None

    def __call__(self, x: Tensor, hc: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        if hc is None:
            zeros = Tensor.zeros(*x.shape[:-1], self.hidden_size, dtype=x.dtype, device=x.device)
            hc = (zeros, zeros)
        h, c = hc
        gates = x.linear(self.weight_ih.transpose(), self.bias_ih) + h.linear(self.weight_hh.transpose(), self.bias_hh)
        i, f, g, o = gates.chunk(4, dim=-1)
        new_c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        new_h = o.sigmoid() * new_c.tanh()
        return new_h, new_c


# --- composition ---
class Sequential:
    """Calls its layers (any callables: layers, Tensor.relu, lambdas) in order; state dict keys "0.weight", ...

    `Sequential(Linear(2, 4), Tensor.relu, Linear(4, 1))(Tensor.ones(3, 2)).shape` -> (3, 1)
    """

    def __init__(self, *layers: Callable[[Tensor], Tensor]):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for index, layer in enumerate(layers):
            if not callable(layer):
                raise TypeError(f"Sequential: layer {index} is a {type(layer).__name__}, which is not callable")
            setattr(self, str(index), layer)

    def __len__(self) -> int:
        return len(vars(self))

    def __iter__(self) -> Iterator[Callable[[Tensor], Tensor]]:
        return iter(list(vars(self).values()))

    def __getitem__(self, index: int | slice) -> Any:
        layers = list(vars(self).values())
        return Sequential(*layers[index]) if isinstance(index, slice) else layers[index]

    def append(self, layer: Callable[[Tensor], Tensor]) -> Sequential:
        setattr(self, str(len(self)), layer)
        return self

    def __call__(self, x: Tensor) -> Tensor:
        for layer in self:
            x = layer(x)
        return x
