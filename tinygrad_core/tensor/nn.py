"""Neural-network functions: sliding windows, convolution, pooling, interpolation, normalisation, dropout,
attention and linear layers' arithmetic."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_core import function as F
from tinygrad_core.dtype import DType, dtypes, to_dtype
from tinygrad_core.errors import ArgumentError, ShapeError
from tinygrad_core.tensor.autodiff import apply

if TYPE_CHECKING:
    from tinygrad_core.tensor.tensor import Tensor


WINDOWS_GRADIENT_MAX = 64  # overlapping windows of at most this many elements get their gradient from F.Windows


def _pool(self: Tensor, kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int]) -> Tensor:
    """Sliding windows over the last len(kernel) dims: (..., *spatial) -> (..., *out, *kernel), views only.

    Windows that don't overlap (k <= s, no dilation): cut each dim into (out, s) blocks, keep k of each.
    Otherwise, along one dim of size i: repeat the input, lay it out in rows of length L = d (mod i), so row j
    starts at element j*d; columns 0, s, 2s, ... of the first k rows are the windows. Without padding the view
    stack merges into one strided view: no copy, and a backend reads each element in place."""
    dims = len(kernel)
    prefix, spatial = self.shape[:-dims], self.shape[-dims:]
    out = [(i - d * (k - 1) - 1) // s + 1 for i, k, s, d in zip(spatial, kernel, stride, dilation)]
    if any(o <= 0 for o in out) or any(k <= 0 or s <= 0 or d <= 0 for k, s, d in zip(kernel, stride, dilation)):
        raise ShapeError(f"pool: kernel {tuple(kernel)} (dilation {tuple(dilation)}) does not fit input {self.shape}")
    keep: list[tuple[int, int] | None] = [None] * len(prefix)
    n = len(prefix)
    if all(k <= s and d == 1 for k, s, d in zip(kernel, stride, dilation)):
        # no expand here, so the gradient is a padded view too, not a sum over repeated copies
        x = self.pad(keep + [(0, max(0, o * s - i)) for i, o, s in zip(spatial, out, stride)])
        x = x.shrink(keep + [(0, o * s) for o, s in zip(out, stride)])
        x = x.reshape(prefix + tuple(d for o, s in zip(out, stride) for d in (o, s)))
        x = x.shrink(keep + [b for o, k in zip(out, kernel) for b in ((0, o), (0, k))])
        return x.permute(list(range(n)) + [n + 2 * i for i in range(dims)] + [n + 2 * i + 1 for i in range(dims)])
    rows = [i + d + i * max(0, math.ceil((o * s - i - d) / i)) for i, d, o, s in zip(spatial, dilation, out, stride)]
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
    return apply(
        F.Windows, self, windows=x.lazydata, kernel=tuple(kernel), stride=tuple(stride), dilation=tuple(dilation)
    )


def unfold(self: Tensor, dim: int, size: int, step: int) -> Tensor:
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
    conv_pads = [(d * (k - 1) - lo, d * (k - 1) - hi + e) for (lo, hi), k, d, e in zip(pads, kernel, dilation_, extra)]
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
    plane = math.prod(spatial)
    positions = self.arange(plane, device=self.device).reshape(spatial)
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
        ones = self.ones(padded, dtype=x.dtype, device=self.device).pad([(0, e) for e in extra])
    else:
        ones = self.ones(spatial, dtype=x.dtype, device=self.device).pad(full)
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
    out = self.zeros(flat.shape[:-1] + (math.prod(spatial),), dtype=self.dtype, device=self.device)
    return out.scatter(-1, where_to, flat).reshape(self.shape[:-dims] + spatial)


def interpolate(self: Tensor, size: Sequence[int], mode: str = "linear", align_corners: bool = False) -> Tensor:
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
        matrix = type(self)(_interpolation_matrix(n_in, n_out, mode, align_corners), device=x.device)
        moved = x.transpose(axis, -1).unsqueeze(-2)
        # nearest modes select (inf and nan stay exact); linear blends
        blend = moved * matrix.cast(x.dtype) if mode == "linear" else matrix.cast(dtypes.bool).where(moved, 0)
        x = blend.sum(-1, dtype=x.dtype).transpose(axis, -1)
        if x.dtype != self.dtype:  # linear over integers: each pass rounds half up, as PyTorch's uint8 kernels do
            low, high = dtypes.min(self.dtype), dtypes.max(self.dtype)
            x = (x + 0.5).floor().clip(low, high).cast(self.dtype)._float()
    return x.cast(self.dtype)


def layernorm(self: Tensor, axis: int | Sequence[int] = -1, eps: float = 1e-5) -> Tensor:
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


def dropout(self: Tensor, p: float = 0.5) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p), only while Tensor.training.

    `Tensor([1.0, 2.0]).dropout(0.5).tolist()` -> [1.0, 2.0] (Tensor.training is False)"""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not type(self).training or p == 0:
        return self
    if p == 1:
        return self * 0
    keep = self.rand(*self.shape, device=self.device).ge(p)
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
        attn_mask = self.ones(scores.shape[-2:], dtype=dtypes.bool, device=self.device).tril()
    if attn_mask is not None:
        scores = attn_mask.where(scores, -math.inf) if attn_mask.dtype == dtypes.bool else scores + attn_mask
    return scores.softmax(-1).dropout(dropout_p).matmul(value)


def linear(self: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight + bias with tinygrad's weight layout (in, out), the transpose of PyTorch's; a 1-D weight scales.

    `Tensor([[1.0, 2.0]]).linear(Tensor([[1.0], [1.0]]), Tensor([0.5])).tolist()` -> [[3.5]]"""
    out = self * weight if weight.ndim == 1 else self.dot(weight)
    return out if bias is None else out + bias


def sequential(self: Tensor, layers: Sequence[Any]) -> Tensor:
    """Apply callables in order. `Tensor([-1.0]).sequential([Tensor.relu, Tensor.exp]).tolist()` -> [1.0]"""
    x = self
    for layer in layers:
        x = layer(x)
    return x


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


class NnMixin:
    """Tensor's neural-network methods: the functions above, bound by Tensor, which inherits this class."""

    _pool = _pool
    unfold = unfold
    conv2d = conv2d
    conv1d = conv1d
    conv_transpose2d = conv_transpose2d
    _pool_setup = _pool_setup
    max_pool2d = max_pool2d
    avg_pool2d = avg_pool2d
    max_unpool2d = max_unpool2d
    interpolate = interpolate
    layernorm = layernorm
    batchnorm = batchnorm
    dropout = dropout
    scaled_dot_product_attention = scaled_dot_product_attention
    linear = linear
    sequential = sequential
