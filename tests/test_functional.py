"""Functional Tensor ops (activations, math, scans, conv/pool, indexing, sorting, einsum, losses, initialisers):
values and gradients against PyTorch, on every available device."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from tinygrad_core import Tensor, dtypes
from tinygrad_core.errors import ShapeError
from tinygrad_core.testing import assert_close, check_op


def via_torch(fn):
    """A reference computed by PyTorch, for ops numpy lacks: numpy arrays in, a numpy array out."""

    def reference(*arrays):
        return fn(*(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)).detach().numpy()

    return reference


def check_torch(shapes, fn, torch_fn, device, **kwargs):
    """check_op with PyTorch as the reference for both values and gradients."""
    check_op(shapes, via_torch(torch_fn), fn, torch_fn, device=device, **kwargs)


# --- activations and elementwise math ---
# (name, shapes, ours, torch, keyword arguments of check_op)
UNARY = [
    ("relu6", [(3, 7)], lambda x: x.relu6(), TF.relu6, {"low": -8, "high": 8}),
    ("leaky_relu", [(9,)], lambda x: x.leaky_relu(), TF.leaky_relu, {}),
    ("leaky_relu_slope", [(9,)], lambda x: x.leaky_relu(0.2), lambda x: TF.leaky_relu(x, 0.2), {}),
    ("elu", [(9,)], lambda x: x.elu(), TF.elu, {}),
    ("elu_alpha", [(9,)], lambda x: x.elu(0.5), lambda x: TF.elu(x, 0.5), {}),
    ("celu", [(9,)], lambda x: x.celu(2.0), lambda x: TF.celu(x, 2.0), {}),
    ("selu", [(9,)], lambda x: x.selu(), TF.selu, {}),
    ("gelu", [(2, 9)], lambda x: x.gelu(), lambda x: TF.gelu(x, approximate="tanh"), {"low": -4, "high": 4}),
    ("quick_gelu", [(9,)], lambda x: x.quick_gelu(), lambda x: x * torch.sigmoid(1.702 * x), {}),
    ("silu", [(9,)], lambda x: x.silu(), TF.silu, {}),
    ("swish", [(9,)], lambda x: x.swish(), TF.silu, {}),
    ("sigmoid", [(9,)], lambda x: x.sigmoid(), torch.sigmoid, {"low": -10, "high": 10}),
    ("tanh", [(9,)], lambda x: x.tanh(), torch.tanh, {"low": -5, "high": 5}),
    ("softplus", [(9,)], lambda x: x.softplus(), TF.softplus, {"low": -30, "high": 30}),
    ("softplus_beta", [(9,)], lambda x: x.softplus(2.0), lambda x: TF.softplus(x, beta=2.0), {}),
    ("logsigmoid", [(9,)], lambda x: x.logsigmoid(), TF.logsigmoid, {"low": -30, "high": 30}),
    ("mish", [(9,)], lambda x: x.mish(), TF.mish, {"low": -5, "high": 5}),
    ("hardtanh", [(9,)], lambda x: x.hardtanh(), TF.hardtanh, {}),
    ("hardtanh_range", [(9,)], lambda x: x.hardtanh(-0.5, 1.5), lambda x: TF.hardtanh(x, -0.5, 1.5), {}),
    ("hardsigmoid", [(9,)], lambda x: x.hardsigmoid(), TF.hardsigmoid, {"low": -5, "high": 5}),
    ("hardswish", [(9,)], lambda x: x.hardswish(), TF.hardswish, {"low": -5, "high": 5}),
    ("softsign", [(9,)], lambda x: x.softsign(), TF.softsign, {}),
    ("exp", [(9,)], lambda x: x.exp(), torch.exp, {}),
    ("exp2", [(9,)], lambda x: x.exp2(), torch.exp2, {}),
    ("log", [(9,)], lambda x: x.log(), torch.log, {"low": 0.1, "high": 5}),
    ("log2", [(9,)], lambda x: x.log2(), torch.log2, {"low": 0.1, "high": 5}),
    ("sqrt", [(9,)], lambda x: x.sqrt(), torch.sqrt, {"low": 0.1, "high": 5}),
    ("rsqrt", [(9,)], lambda x: x.rsqrt(), torch.rsqrt, {"low": 0.1, "high": 5}),
    ("sin", [(9,)], lambda x: x.sin(), torch.sin, {"low": -6, "high": 6}),
    ("cos", [(9,)], lambda x: x.cos(), torch.cos, {"low": -6, "high": 6}),
    ("tan", [(9,)], lambda x: x.tan(), torch.tan, {"low": -1.2, "high": 1.2}),
    ("abs", [(9,)], lambda x: x.abs(), torch.abs, {}),
    ("square", [(9,)], lambda x: x.square(), torch.square, {}),
    ("reciprocal", [(9,)], lambda x: x.reciprocal(), torch.reciprocal, {"low": 0.5, "high": 3}),
    ("clip", [(9,)], lambda x: x.clip(-0.5, 1.0), lambda x: x.clip(-0.5, 1.0), {}),
    ("clamp_min", [(9,)], lambda x: x.clamp(min_=0.2), lambda x: x.clamp(min=0.2), {}),
    ("pow_half", [(9,)], lambda x: x.pow(0.5), lambda x: x.pow(0.5), {"low": 0.1, "high": 4}),
    ("pow_neg_int", [(9,)], lambda x: x.pow(-2), lambda x: x.pow(-2), {"low": 0.5, "high": 2}),
    ("rpow", [(9,)], lambda x: 2**x, lambda x: 2**x, {}),
    ("erf", [(3, 9)], lambda x: x.erf(), torch.erf, {"low": -3, "high": 3}),
    ("asin", [(9,)], lambda x: x.asin(), torch.asin, {"low": -0.95, "high": 0.95}),
    ("acos", [(9,)], lambda x: x.acos(), torch.acos, {"low": -0.95, "high": 0.95}),
    ("atan", [(3, 9)], lambda x: x.atan(), torch.atan, {"low": -6, "high": 6}),
    ("sinh", [(9,)], lambda x: x.sinh(), torch.sinh, {}),
    ("cosh", [(9,)], lambda x: x.cosh(), torch.cosh, {}),
    ("asinh", [(9,)], lambda x: x.asinh(), torch.asinh, {"low": -20, "high": 20}),
    ("acosh", [(9,)], lambda x: x.acosh(), torch.acosh, {"low": 1.1, "high": 9}),
    ("atanh", [(9,)], lambda x: x.atanh(), torch.atanh, {"low": -0.9, "high": 0.9}),
    ("one_element", [(1,)], lambda x: x.gelu().softplus(), lambda x: TF.softplus(TF.gelu(x, approximate="tanh")), {}),
    ("non_contiguous", [(4, 3)], lambda x: x.T.mish(), lambda x: TF.mish(x.T), {}),
]


@pytest.mark.parametrize(("name", "shapes", "fn", "torch_fn", "kwargs"), UNARY, ids=[u[0] for u in UNARY])
def test_unary(device, name, shapes, fn, torch_fn, kwargs):
    check_torch(shapes, fn, torch_fn, device, **kwargs)


BINARY = [
    ("logaddexp", [(3, 4), (3, 4)], lambda x, y: x.logaddexp(y), torch.logaddexp),
    ("logaddexp_broadcast", [(3, 1), (1, 4)], lambda x, y: x.logaddexp(y), torch.logaddexp),
    ("lerp", [(3, 4), (3, 4)], lambda x, y: x.lerp(y, 0.3), lambda x, y: torch.lerp(x, y, 0.3)),
    ("lerp_tensor_weight", [(3, 4), (4,), (3, 1)], lambda x, y, w: x.lerp(y, w), torch.lerp),
    ("copysign", [(3, 4), (3, 4)], lambda x, y: x.copysign(y), torch.copysign),
    ("copysign_broadcast", [(3, 4), (4,)], lambda x, y: x.copysign(y), torch.copysign),
    ("maximum", [(3, 4), (4,)], lambda x, y: x.maximum(y), torch.maximum),
    ("minimum", [(3, 1), (4,)], lambda x, y: x.minimum(y), torch.minimum),
    ("mod", [(3, 4), (3, 4)], lambda x, y: x % (y.abs() + 0.5), lambda x, y: torch.remainder(x, y.abs() + 0.5)),
]


@pytest.mark.parametrize(("name", "shapes", "fn", "torch_fn"), BINARY, ids=[b[0] for b in BINARY])
def test_binary(device, name, shapes, fn, torch_fn):
    check_torch(shapes, fn, torch_fn, device)


def test_rounding_and_classification(device):
    values = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49, -3.7, 3.7, 1e7 + 0.5], np.float32)
    x = Tensor(values, device=device)
    np.testing.assert_array_equal(x.round().numpy(), np.round(values))
    np.testing.assert_array_equal(x.trunc().numpy(), np.trunc(values))
    np.testing.assert_array_equal(x.floor().numpy(), np.floor(values))
    np.testing.assert_array_equal(x.ceil().numpy(), np.ceil(values))
    np.testing.assert_array_equal(x.sign().numpy(), np.sign(values))
    assert Tensor([1, -2], device=device).round().tolist() == [1, -2]
    special = np.array([1.0, np.inf, -np.inf, np.nan, 0.0], np.float32)
    s = Tensor(special, device=device)
    np.testing.assert_array_equal(s.isinf().numpy(), np.isinf(special))
    np.testing.assert_array_equal(s.isinf(detect_negative=False).numpy(), special == np.inf)
    np.testing.assert_array_equal(s.isinf(detect_positive=False).numpy(), special == -np.inf)
    np.testing.assert_array_equal(s.isnan().numpy(), np.isnan(special))
    np.testing.assert_array_equal(s.isfinite().numpy(), np.isfinite(special))
    assert Tensor([1, 2], device=device).isinf().tolist() == [False, False]
    assert Tensor([2.0, 2.0], device=device).copysign(Tensor([-0.0, 0.0], device=device)).tolist() == [-2.0, 2.0]


def test_isclose(device):
    a = np.array([1.0, 1.0, np.inf, np.inf, np.nan, 1.0, 1e-9], np.float32)
    b = np.array([1.0 + 1e-6, 1.1, np.inf, 1.0, np.nan, np.inf, 0.0], np.float32)
    ours = Tensor(a, device=device).isclose(Tensor(b, device=device))
    np.testing.assert_array_equal(ours.numpy(), torch.isclose(torch.tensor(a), torch.tensor(b)).numpy())
    ours = Tensor(a, device=device).isclose(Tensor(b, device=device), rtol=0.2, equal_nan=True)
    expected = torch.isclose(torch.tensor(a), torch.tensor(b), rtol=0.2, equal_nan=True).numpy()
    np.testing.assert_array_equal(ours.numpy(), expected)


# --- softmax family and scans ---
REDUCING = [
    ("softmax", [(3, 5)], lambda x: x.softmax(), lambda x: x.softmax(-1)),
    ("softmax_axis0", [(3, 5)], lambda x: x.softmax(0), lambda x: x.softmax(0)),
    ("softmax_noncontig", [(3, 5)], lambda x: x.T.softmax(), lambda x: x.T.softmax(-1)),
    ("softmax_one", [(1,)], lambda x: x.softmax(), lambda x: x.softmax(-1)),
    ("log_softmax", [(3, 5)], lambda x: x.log_softmax(), lambda x: x.log_softmax(-1)),
    ("log_softmax_3d", [(2, 3, 4)], lambda x: x.log_softmax(1), lambda x: x.log_softmax(1)),
    ("logsumexp_all", [(3, 5)], lambda x: x.logsumexp(), lambda x: x.logsumexp((0, 1))),
    ("logsumexp_axis", [(3, 5)], lambda x: x.logsumexp(1), lambda x: x.logsumexp(1)),
    ("logsumexp_keepdim", [(2, 3, 4)], lambda x: x.logsumexp((0, 2), True), lambda x: x.logsumexp((0, 2), True)),
    ("cumsum", [(7,)], lambda x: x.cumsum(), lambda x: x.cumsum(0)),
    ("cumsum_axis1", [(3, 6)], lambda x: x.cumsum(1), lambda x: x.cumsum(1)),
    ("cumsum_negative_axis", [(3, 4, 5)], lambda x: x.cumsum(-2), lambda x: x.cumsum(-2)),
    ("cumsum_long", [(2, 300)], lambda x: x.cumsum(1), lambda x: x.cumsum(1)),
    ("cumsum_noncontig", [(5, 4)], lambda x: x.T.cumsum(1), lambda x: x.T.cumsum(1)),
    ("cumsum_one", [(1,)], lambda x: x.cumsum(), lambda x: x.cumsum(0)),
    ("cumprod", [(3, 6)], lambda x: x.cumprod(1), lambda x: x.cumprod(1)),
    ("cumprod_long", [(150,)], lambda x: x.cumprod(0), lambda x: x.cumprod(0)),
    ("cummax", [(4, 9)], lambda x: x.cummax(1)[0], lambda x: x.cummax(1).values),
    ("cummax_long", [(130,)], lambda x: x.cummax(0)[0], lambda x: x.cummax(0).values),
    ("cummin", [(4, 9)], lambda x: x.cummin(1)[0], lambda x: x.cummin(1).values),
    ("logcumsumexp", [(3, 6)], lambda x: x.logcumsumexp(1), lambda x: x.logcumsumexp(1)),
    ("logcumsumexp_long", [(2, 200)], lambda x: x.logcumsumexp(1), lambda x: x.logcumsumexp(1)),
]


@pytest.mark.parametrize(("name", "shapes", "fn", "torch_fn"), REDUCING, ids=[r[0] for r in REDUCING])
def test_reducing(device, name, shapes, fn, torch_fn):
    low, high = (0.9, 1.1) if name.startswith("cumprod") else (-2.0, 2.0)
    check_torch(shapes, fn, torch_fn, device, low=low, high=high, atol=1e-3 if "long" in name else None)


def test_softmax_family_is_stable(device):
    x = Tensor([[1000.0, 0.0, -1000.0]], device=device)
    assert_close(x.softmax().numpy(), [[1.0, 0.0, 0.0]])
    assert_close(x.log_softmax().numpy(), [[0.0, -1000.0, -2000.0]])
    assert_close(x.logsumexp(1).numpy(), [1000.0])
    assert_close(Tensor([-math.inf, -math.inf], device=device).logsumexp().numpy(), -math.inf)
    assert_close(Tensor([1000.0, 1000.0], device=device).logcumsumexp().numpy(), [1000.0, 1000.0 + math.log(2)])
    assert_close(Tensor([100.0, -100.0], device=device).softplus().numpy(), [100.0, 0.0])
    assert Tensor([1, 2, 3], device=device).softmax().dtype == dtypes.float32
    assert Tensor([1, 2], device=device).softmax(dtype=dtypes.float64).dtype == dtypes.float64


def test_scan_dtypes(device):
    assert Tensor([1, 2, 3], device=device).cumsum().dtype == dtypes.int32
    assert Tensor([True, True], device=device).cumsum().tolist() == [1, 2]
    assert Tensor([2, 3, 4], device=device).cumprod().tolist() == [2, 6, 24]
    values, indices = Tensor([1, 3, 3, 2, 5, 5], device=device).cummax()
    reference = torch.tensor([1, 3, 3, 2, 5, 5]).cummax(0)
    assert values.tolist() == reference.values.tolist()
    assert indices.tolist() == reference.indices.tolist()  # the latest index on ties, as PyTorch
    values, indices = Tensor([[4, -(2**31), 2], [1, 1, 0]], device=device).cummin(1)
    assert values.tolist() == [[4, -(2**31), -(2**31)], [1, 1, 0]]
    assert indices.tolist() == [[0, 1, 1], [0, 1, 2]]
    assert Tensor(5.0, device=device).cumsum().item() == 5.0
    long = np.arange(5000, dtype=np.int32) % 7
    np.testing.assert_array_equal(Tensor(long, device=device).cumsum().numpy(), np.cumsum(long))


# --- convolution and pooling ---
CONV = [
    ("basic", [(2, 3, 6, 6), (4, 3, 3, 3)], {}),
    ("stride", [(1, 2, 7, 7), (3, 2, 3, 3)], {"stride": 2}),
    ("stride_tuple", [(1, 2, 7, 8), (3, 2, 2, 3)], {"stride": (2, 3)}),
    ("padding", [(1, 2, 5, 5), (3, 2, 3, 3)], {"padding": 1}),
    ("padding_per_dim", [(1, 2, 5, 5), (3, 2, 3, 3)], {"padding": (1, 2)}),
    ("dilation", [(1, 2, 8, 8), (2, 2, 3, 3)], {"dilation": 2}),
    ("groups", [(2, 4, 5, 5), (6, 2, 3, 3)], {"groups": 2}),
    ("depthwise", [(1, 3, 5, 5), (3, 1, 3, 3)], {"groups": 3}),
    ("everything", [(2, 4, 9, 9), (4, 2, 3, 3)], {"groups": 2, "stride": 2, "padding": 2, "dilation": 2}),
    ("one_by_one", [(2, 3, 4, 4), (5, 3, 1, 1)], {}),
    ("kernel_is_input", [(1, 1, 3, 3), (1, 1, 3, 3)], {}),
    ("one_pixel", [(1, 1, 1, 1), (2, 1, 1, 1)], {}),
    ("conv3d", [(1, 2, 4, 4, 4), (2, 2, 2, 2, 2)], {"padding": 1}),
]


@pytest.mark.parametrize(("name", "shapes", "kw"), CONV, ids=[c[0] for c in CONV])
def test_conv2d(device, name, shapes, kw):
    torch_conv = {4: TF.conv2d, 5: TF.conv3d}[len(shapes[0])]
    check_torch(shapes, lambda x, w: x.conv2d(w, **kw), lambda x, w: torch_conv(x, w, **kw), device, grad_atol=1e-3)


def test_conv2d_bias_and_noncontiguous(device):
    check_torch(
        [(4, 2, 5, 5), (3, 4, 3, 3), (3,)],
        lambda x, w, b: x.permute(1, 0, 3, 2).conv2d(w, b, padding=1),
        lambda x, w, b: TF.conv2d(x.permute(1, 0, 3, 2), w, b, padding=1),
        device,
        grad_atol=1e-3,
    )


@pytest.mark.parametrize("kernel", [3, 4])
def test_conv2d_same_padding(device, kernel):
    check_torch(
        [(1, 2, 6, 5), (3, 2, kernel, kernel)],
        lambda x, w: x.conv2d(w, padding="same"),
        lambda x, w: TF.conv2d(x, w, padding="same"),
        device,
        grad_atol=1e-3,
    )
    check_torch(
        [(1, 2, 6, 5), (3, 2, kernel, 2)],
        lambda x, w: x.conv2d(w, padding="same", dilation=2),
        lambda x, w: TF.conv2d(x, w, padding="same", dilation=2),
        device,
        grad_atol=1e-3,
    )


def test_conv2d_per_side_padding(device):
    # PyTorch-pad order (left, right, top, bottom) and (before, after) pairs per dim mean the same thing
    for padding in [(1, 0, 2, 1), ((2, 1), (1, 0))]:
        check_torch(
            [(1, 2, 5, 5), (3, 2, 3, 3)],
            lambda x, w, p=padding: x.conv2d(w, padding=p),
            lambda x, w: TF.conv2d(TF.pad(x, (1, 0, 2, 1)), w),
            device,
            grad_atol=1e-3,
        )


def test_conv1d(device):
    check_torch(
        [(2, 3, 10), (4, 3, 3), (4,)],
        lambda x, w, b: x.conv1d(w, b, stride=2, padding=1),
        lambda x, w, b: TF.conv1d(x, w, b, stride=2, padding=1),
        device,
        grad_atol=1e-3,
    )
    check_torch(
        [(1, 2, 6), (2, 1, 3)],
        lambda x, w: x.conv1d(w, groups=2, dilation=2),
        lambda x, w: TF.conv1d(x, w, groups=2, dilation=2),
        device,
    )


CONV_T = [
    ("basic", [(1, 2, 4, 4), (2, 3, 3, 3)], {}),
    ("stride", [(2, 2, 3, 3), (2, 3, 3, 3)], {"stride": 2}),
    ("padding", [(1, 2, 4, 4), (2, 3, 3, 3)], {"stride": 2, "padding": 1}),
    ("output_padding", [(1, 2, 4, 4), (2, 3, 3, 3)], {"stride": 2, "padding": 1, "output_padding": 1}),
    ("groups", [(1, 4, 3, 3), (4, 2, 2, 2)], {"groups": 2, "stride": 2}),
    ("dilation", [(1, 2, 3, 3), (2, 1, 3, 3)], {"dilation": 2}),
    ("rect", [(1, 1, 3, 2), (1, 2, 2, 3)], {"stride": (2, 1), "padding": (1, 0)}),
]


@pytest.mark.parametrize(("name", "shapes", "kw"), CONV_T, ids=[c[0] for c in CONV_T])
def test_conv_transpose2d(device, name, shapes, kw):
    check_torch(
        shapes,
        lambda x, w: x.conv_transpose2d(w, **kw),
        lambda x, w: TF.conv_transpose2d(x, w, **kw),
        device,
        grad_atol=1e-3,
    )


def test_conv_transpose2d_bias(device):
    check_torch(
        [(1, 2, 3, 3), (2, 3, 2, 2), (3,)],
        lambda x, w, b: x.conv_transpose2d(w, b, stride=2),
        lambda x, w, b: TF.conv_transpose2d(x, w, b, stride=2),
        device,
    )


POOL = [
    ("max_default", [(2, 3, 4, 6)], lambda x: x.max_pool2d(), lambda x: TF.max_pool2d(x, 2)),
    (
        "max_k3s2p1",
        [(1, 2, 7, 7)],
        lambda x: x.max_pool2d(3, 2, padding=1),
        lambda x: TF.max_pool2d(x, 3, 2, padding=1),
    ),
    (
        "max_ceil",
        [(1, 2, 7, 7)],
        lambda x: x.max_pool2d(2, ceil_mode=True),
        lambda x: TF.max_pool2d(x, 2, ceil_mode=True),
    ),
    (
        "max_ceil_pad",
        [(1, 1, 6, 6)],
        lambda x: x.max_pool2d(3, 2, padding=1, ceil_mode=True),
        lambda x: TF.max_pool2d(x, 3, 2, padding=1, ceil_mode=True),
    ),
    (
        "max_dilation",
        [(1, 1, 7, 7)],
        lambda x: x.max_pool2d(2, 1, dilation=2),
        lambda x: TF.max_pool2d(x, 2, 1, dilation=2),
    ),
    ("max_rect", [(1, 2, 6, 5)], lambda x: x.max_pool2d((3, 2), (1, 2)), lambda x: TF.max_pool2d(x, (3, 2), (1, 2))),
    ("max_3d_input", [(2, 4, 4)], lambda x: x.max_pool2d(), lambda x: TF.max_pool2d(x, 2)),
    ("avg_default", [(2, 3, 4, 6)], lambda x: x.avg_pool2d(), lambda x: TF.avg_pool2d(x, 2)),
    ("avg_pad", [(1, 2, 5, 5)], lambda x: x.avg_pool2d(3, 2, padding=1), lambda x: TF.avg_pool2d(x, 3, 2, padding=1)),
    (
        "avg_pad_exclude",
        [(1, 2, 5, 5)],
        lambda x: x.avg_pool2d(3, 2, padding=1, count_include_pad=False),
        lambda x: TF.avg_pool2d(x, 3, 2, padding=1, count_include_pad=False),
    ),
    (
        "avg_ceil",
        [(1, 1, 5, 5)],
        lambda x: x.avg_pool2d(2, ceil_mode=True),
        lambda x: TF.avg_pool2d(x, 2, ceil_mode=True),
    ),
    (
        "avg_ceil_pad",
        [(1, 1, 6, 6)],
        lambda x: x.avg_pool2d(3, 2, padding=1, ceil_mode=True),
        lambda x: TF.avg_pool2d(x, 3, 2, padding=1, ceil_mode=True),
    ),
    ("avg_stride1", [(1, 2, 4, 4)], lambda x: x.avg_pool2d(3, 1), lambda x: TF.avg_pool2d(x, 3, 1)),
    (
        "avg_noncontig",
        [(4, 4, 2, 1)],
        lambda x: x.permute(3, 2, 0, 1).avg_pool2d(),
        lambda x: TF.avg_pool2d(x.permute(3, 2, 0, 1), 2),
    ),
]


@pytest.mark.parametrize(("name", "shapes", "fn", "torch_fn"), POOL, ids=[p[0] for p in POOL])
def test_pool(device, name, shapes, fn, torch_fn):
    check_torch(shapes, fn, torch_fn, device)


def test_max_pool_indices_and_unpool(device):
    x = np.random.default_rng(3).standard_normal((2, 3, 6, 5)).astype(np.float32)
    for kw in [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1}]:
        values, indices = Tensor(x, device=device).max_pool2d(**kw, return_indices=True)
        ref_values, ref_indices = TF.max_pool2d(torch.tensor(x), **kw, return_indices=True)
        assert_close(values.numpy(), ref_values.numpy())
        assert indices.dtype == dtypes.int32
        np.testing.assert_array_equal(indices.numpy(), ref_indices.numpy())
        # overlapping windows share indices: the last write wins in both libraries, but PyTorch also sends
        # a gradient to the losers, so gradients are compared only where windows don't overlap
        check_op(
            [values.shape],
            lambda v, i=ref_indices, kw=kw: TF.max_unpool2d(torch.from_numpy(v), i, **kw, output_size=(6, 5)).numpy(),
            lambda v, i=indices, kw=kw: v.max_unpool2d(i, **kw, output_size=(6, 5)),
            (lambda v, i=ref_indices, kw=kw: TF.max_unpool2d(v, i, **kw, output_size=(6, 5))) if len(kw) == 1 else None,
            device=device,
            inputs=[values.numpy()],
        )
    assert Tensor([[[[5.0]]]], device=device).max_unpool2d(Tensor([[[[3]]]], device=device)).tolist() == [
        [[[0.0, 0.0], [0.0, 5.0]]]
    ]


def test_pool_windows_are_one_view(device):
    # without padding, the windows merge into a single strided view: the reduce reads the input in place
    windows = Tensor.ones(1, 2, 8, 8, device=device)._pool((3, 3), (2, 2), (1, 1))
    assert windows.shape == (1, 2, 3, 3, 3, 3)
    assert len(windows.lazydata.st.views) == 1


INTERPOLATE = [
    ("nearest_up", [(1, 2, 3, 4)], {"size": (6, 7), "mode": "nearest"}),
    ("nearest_down", [(1, 1, 7, 5)], {"size": (3, 2), "mode": "nearest"}),
    ("nearest_exact", [(1, 1, 5, 4)], {"size": (7, 3), "mode": "nearest-exact"}),
    ("linear_1d", [(2, 3, 5)], {"size": (8,), "mode": "linear"}),
    ("linear_1d_corners", [(2, 3, 5)], {"size": (9,), "mode": "linear", "align_corners": True}),
    ("bilinear_up", [(1, 2, 3, 4)], {"size": (5, 7), "mode": "bilinear"}),
    ("bilinear_down", [(1, 2, 6, 7)], {"size": (4, 3), "mode": "bilinear"}),
    ("bilinear_corners", [(1, 2, 3, 4)], {"size": (5, 7), "mode": "bilinear", "align_corners": True}),
    ("bilinear_one", [(1, 1, 1, 1)], {"size": (2, 3), "mode": "bilinear"}),
]


@pytest.mark.parametrize(("name", "shapes", "kw"), INTERPOLATE, ids=[i[0] for i in INTERPOLATE])
def test_interpolate(device, name, shapes, kw):
    mode = "linear" if kw["mode"] == "bilinear" else kw["mode"]
    ours = {**kw, "mode": mode}
    torch_mode = {"linear": {3: "linear", 4: "bilinear"}[len(shapes[0])]}.get(mode, mode)
    theirs = {**kw, "mode": torch_mode}
    check_torch(shapes, lambda x: x.interpolate(**ours), lambda x: TF.interpolate(x, **theirs), device)


def test_interpolate_keeps_integers(device):
    x = Tensor([[1, 2], [3, 4]], device=device)
    assert x.interpolate((4, 4), mode="nearest").tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    with pytest.raises(ValueError, match="mode"):
        x.interpolate((3, 3), mode="cubic")


# --- normalization, dropout, attention ---
def test_layernorm(device):
    check_torch([(3, 5)], lambda x: x.layernorm(), lambda x: TF.layer_norm(x, (5,)), device)
    check_torch(
        [(2, 3, 4)], lambda x: x.layernorm((-2, -1), eps=1e-3), lambda x: TF.layer_norm(x, (3, 4), eps=1e-3), device
    )


def test_batchnorm(device):
    def torch_bn(x, w, b, mean, invstd):
        shape = (1, -1, 1, 1)
        return (x - mean.reshape(shape)) * w.reshape(shape) * invstd.reshape(shape) + b.reshape(shape)

    check_torch(
        [(2, 3, 4, 4), (3,), (3,), (3,), (3,)],
        lambda x, w, b, m, s: x.batchnorm(w, b, m, s.abs() + 0.5),
        lambda x, w, b, m, s: torch_bn(x, w, b, m, s.abs() + 0.5),
        device,
    )
    x = Tensor([[1.0, 2.0]], device=device)
    assert x.batchnorm(None, None, Tensor([1.0, 0.0], device=device), Tensor([1.0, 2.0], device=device)).tolist() == [
        [0.0, 4.0]
    ]


def test_dropout(device):
    x = Tensor.ones(100, 100, device=device)
    assert x.dropout(0.5) is x  # not training
    with Tensor.train():
        Tensor.manual_seed(1)
        out = x.dropout(0.25).numpy()
        kept = out != 0
        assert 0.70 < kept.mean() < 0.80
        assert_close(out[kept], np.full(kept.sum(), 1 / 0.75))
        assert (x.dropout(1.0).numpy() == 0).all()
        assert x.dropout(0.0) is x
        w = Tensor.ones(10, requires_grad=True, device=device)
        w.dropout(0.5).sum().backward()
        assert set(np.unique(w.grad.numpy())) <= {0.0, 2.0}
    with pytest.raises(ValueError, match="dropout"):
        x.dropout(1.5)


def test_scaled_dot_product_attention(device):
    check_torch(
        [(2, 3, 4), (2, 5, 4), (2, 5, 6)],
        lambda q, k, v: q.scaled_dot_product_attention(k, v),
        TF.scaled_dot_product_attention,
        device,
    )
    check_torch(
        [(1, 2, 4, 3), (1, 2, 4, 3), (1, 2, 4, 5)],
        lambda q, k, v: q.scaled_dot_product_attention(k, v, is_causal=True),
        lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, is_causal=True),
        device,
    )
    mask = np.random.default_rng(2).random((3, 5)) < 0.7
    mask[:, 0] = True
    check_torch(
        [(2, 3, 4), (2, 5, 4), (2, 5, 6)],
        lambda q, k, v: q.scaled_dot_product_attention(k, v, Tensor(mask, device=device)),
        lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, torch.tensor(mask)),
        device,
    )
    check_torch(
        [(2, 3, 4), (2, 5, 4), (2, 5, 6), (3, 5)],
        lambda q, k, v, m: q.scaled_dot_product_attention(k, v, m),
        TF.scaled_dot_product_attention,
        device,
    )


def test_linear_and_sequential(device):
    check_torch([(2, 3), (3, 4), (4,)], lambda x, w, b: x.linear(w, b), lambda x, w, b: x @ w + b, device)
    check_torch([(2, 3), (3,)], lambda x, w: x.linear(w), lambda x, w: x * w, device)
    assert Tensor([-1.0, 2.0], device=device).sequential([Tensor.relu, lambda t: t * 3]).tolist() == [0.0, 6.0]


# --- indexing by tensors ---
def test_one_hot(device):
    y = Tensor([0, 2, 1], device=device)
    assert y.one_hot(4).tolist() == [[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0]]
    assert y.one_hot().shape == (3, 3)
    assert y.one_hot().dtype == dtypes.int32
    assert Tensor([[1], [0]], device=device).one_hot(2).tolist() == [[[0, 1]], [[1, 0]]]


def test_gather(device):
    index = np.array([[0, 2, 1], [2, 2, 0]], np.int32)
    t_index = torch.tensor(index, dtype=torch.int64)
    for dim, shape in [(1, (2, 4)), (0, (3, 3))]:
        check_torch(
            [shape],
            lambda x, d=dim: x.gather(d, Tensor(index, device=device)),
            lambda x, d=dim: torch.gather(x, d, t_index),
            device,
        )
    nested = np.array([[[1], [0]], [[0], [1]]], np.int32)
    check_torch(
        [(2, 3, 2)],
        lambda x: x.gather(1, Tensor(nested, device=device)),
        lambda x: torch.gather(x, 1, torch.tensor(nested, dtype=torch.int64)),
        device,
    )
    assert Tensor([True, False], device=device).gather(0, Tensor([1, 0, 0], device=device)).tolist() == [
        False,
        True,
        True,
    ]
    assert Tensor([[1, 2], [3, 4]], device=device).gather(1, Tensor([[1], [0]], device=device)).tolist() == [[2], [3]]


def test_scatter(device):
    index = np.array([[0, 2], [3, 1]], np.int32)
    t_index = torch.tensor(index, dtype=torch.int64)
    check_torch(
        [(2, 4), (2, 2)],
        lambda x, s: x.scatter(1, Tensor(index, device=device), s),
        lambda x, s: x.scatter(1, t_index, s),
        device,
    )
    check_torch(
        [(4, 2), (2, 2)],
        lambda x, s: x.scatter_reduce(0, Tensor(index, device=device), s, "sum"),
        lambda x, s: x.scatter_add(0, t_index, s),
        device,
    )
    check_op(  # PyTorch has no derivative for reduce="multiply": values only
        [(3, 4)],
        via_torch(lambda x: x.scatter(1, t_index, 5.0, reduce="multiply")),
        lambda x: x.scatter(1, Tensor(index, device=device), 5.0, reduce="multiply"),
        device=device,
    )
    check_torch(
        [(2, 4)],
        lambda x: x.scatter(1, Tensor(index, device=device), 9.0),
        lambda x: x.scatter(1, t_index, 9.0),
        device,
    )
    # duplicates: the last write wins
    assert Tensor([0, 0, 0], device=device).scatter(
        0, Tensor([1, 1], device=device), Tensor([5, 6], device=device)
    ).tolist() == [0, 6, 0]
    with pytest.raises(TypeError, match="reduce"):  # tinygrad's type for a bad reduce
        Tensor([0.0], device=device).scatter(0, Tensor([0], device=device), 1.0, reduce="max")


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce(device, reduce, include_self):
    index = np.array([[0, 2, 0, 1], [1, 1, 1, 1]], np.int32)
    t_index = torch.tensor(index, dtype=torch.int64)
    check_torch(
        [(2, 4), (2, 4)],
        lambda x, s: x.scatter_reduce(1, Tensor(index, device=device), s, reduce, include_self=include_self),
        lambda x, s: x.scatter_reduce(1, t_index, s, reduce, include_self=include_self),
        device,
        low=0.5,
        high=2.0,
    )
    ints = np.array([[3, 1, 4, 1]], np.int32)
    ours = Tensor(ints, device=device).scatter_reduce(
        1, Tensor(index[:1], device=device), Tensor(ints * 2, device=device), reduce, include_self=include_self
    )
    theirs = torch.tensor(ints).scatter_reduce(
        1, t_index[:1], torch.tensor(ints * 2), reduce, include_self=include_self
    )
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_masked_select(device):
    mask = np.array([[True, False, True], [False, False, True]])
    check_torch(
        [(2, 3)],
        lambda x: x.masked_select(Tensor(mask, device=device)),
        lambda x: x.masked_select(torch.tensor(mask)),
        device,
    )
    check_torch(
        [(2, 3)],
        lambda x: x.masked_select(Tensor(mask[0], device=device)),
        lambda x: x.masked_select(torch.tensor(mask[0])),
        device,
    )
    assert Tensor([1, 2], device=device).masked_select(Tensor([False, False], device=device)).shape == (0,)
    assert Tensor([1.0], device=device).masked_fill(Tensor([True], device=device), 3.0).tolist() == [3.0]


@pytest.mark.parametrize("diagonal", [-1, 0, 2])
def test_triu_tril(device, diagonal):
    check_torch([(3, 4)], lambda x: x.triu(diagonal), lambda x: x.triu(diagonal), device)
    check_torch([(2, 4, 3)], lambda x: x.tril(diagonal), lambda x: x.tril(diagonal), device)
    assert Tensor.ones(2, 2, dtype=dtypes.bool, device=device).tril().tolist() == [[True, False], [True, True]]


def test_diag_diagonal(device):
    check_torch([(4,)], lambda x: x.diag(), torch.diag, device)
    check_torch([(3,)], lambda x: x.diag(1), lambda x: torch.diag(x, 1), device)
    check_torch([(3,)], lambda x: x.diag(-2), lambda x: torch.diag(x, -2), device)
    check_torch([(3, 4)], lambda x: x.diag(), torch.diag, device)
    check_torch([(3, 4)], lambda x: x.diagonal(), torch.diagonal, device)
    check_torch([(3, 4)], lambda x: x.diagonal(1), lambda x: x.diagonal(1), device)
    check_torch([(4, 3)], lambda x: x.diagonal(-2), lambda x: x.diagonal(-2), device)
    check_torch([(2, 3, 4)], lambda x: x.diagonal(0, 0, 2), lambda x: x.diagonal(0, 0, 2), device)
    check_torch([(2, 3, 4)], lambda x: x.diagonal(1, -1, 1), lambda x: x.diagonal(1, -1, 1), device)
    assert Tensor.ones(2, 3, device=device).diagonal(5).shape == (0,)


def test_roll_unfold_repeat_interleave(device):
    check_torch([(5,)], lambda x: x.roll(2), lambda x: x.roll(2), device)
    check_torch([(3, 4)], lambda x: x.roll(-1, 1), lambda x: x.roll(-1, 1), device)
    check_torch([(3, 4)], lambda x: x.roll((1, 5), (0, 1)), lambda x: x.roll((1, 5), (0, 1)), device)
    check_torch([(3, 4)], lambda x: x.roll(3), lambda x: x.roll(3), device)
    check_torch([(7,)], lambda x: x.unfold(0, 3, 2), lambda x: x.unfold(0, 3, 2), device)
    check_torch([(2, 6, 3)], lambda x: x.unfold(1, 2, 1), lambda x: x.unfold(1, 2, 1), device)
    check_torch([(2, 6)], lambda x: x.unfold(-1, 6, 1), lambda x: x.unfold(-1, 6, 1), device)
    check_torch([(2, 3)], lambda x: x.repeat_interleave(2), lambda x: x.repeat_interleave(2), device)
    check_torch([(2, 3)], lambda x: x.repeat_interleave(3, 1), lambda x: x.repeat_interleave(3, 1), device)
    check_torch([(2, 3)], lambda x: x.repeat_interleave(2, dim=0), lambda x: x.repeat_interleave(2, dim=0), device)


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(device, indexing):
    check_torch(
        [(3,), (4,), (2,)],
        lambda x, y, z: Tensor.stack(*x.meshgrid(y, z, indexing=indexing)),
        lambda x, y, z: torch.stack(torch.meshgrid(x, y, z, indexing=indexing)),
        device,
    )


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_modes(device, mode):
    for padding in [(2, 1, 1, 2), (0, 3), (-1, 2, 0, 1)]:
        check_torch(
            [(2, 3, 4)], lambda x, p=padding: x.pad(p, mode), lambda x, p=padding: TF.pad(x, p, mode=mode), device
        )
    if mode != "replicate":  # reflect and circular borrow at most the dim's own length
        with pytest.raises(ShapeError, match="pad"):
            Tensor.ones(1, 2, device=device).pad((0, 5), mode)


def test_rearrange(device):
    cases = [
        ("a b c -> c (a b)", {}, lambda x: x.permute(2, 0, 1).reshape(4, 6)),
        ("a b (h w) -> a h b w", {"h": 2}, lambda x: x.reshape(2, 3, 2, 2).permute(0, 2, 1, 3)),
        ("... c -> c ...", {}, lambda x: x.permute(2, 0, 1)),
        ("a ... -> (...) a", {}, lambda x: x.permute(1, 2, 0).reshape(12, 2)),
        ("(a b) c d -> a b c d", {"b": 1}, lambda x: x.reshape(2, 1, 3, 4)),
    ]
    for formula, sizes, torch_fn in cases:
        check_torch([(2, 3, 4)], lambda x, f=formula, s=sizes: x.rearrange(f, **s), torch_fn, device)
    with pytest.raises(ShapeError, match="rearrange"):
        Tensor.ones(2, 3, device=device).rearrange("a b c -> a b c")
    with pytest.raises(ValueError, match="same names"):
        Tensor.ones(2, 3, device=device).rearrange("a b -> a c")


def test_padded_views_of_ops_that_are_not_zero_at_zero(device):
    # a padded view reads zeros outside the data, even of ops with f(0) != 0 (the scheduler realizes those first)
    x = Tensor([1.0, 2.0], device=device)
    assert_close(x.exp().pad(((1, 1),)).numpy(), [0.0, math.e, math.e**2, 0.0])
    assert_close(x.reciprocal().pad(((1, 0),)).numpy(), [0.0, 1.0, 0.5])
    assert x.eq(1.0).pad(((0, 1),)).tolist() == [True, False, False]
    assert_close((x.log() + 1).pad(((1, 0),), value=7.0).numpy(), [7.0, 1.0, 1.0 + math.log(2)])


def test_contiguous_is_a_kernel_boundary(device):
    from tinygrad_core.schedule import create_schedule

    x = Tensor([1.0, 2.0], device=device).realize()
    fused = (x.exp() * 2).sum()
    split = (x.exp().contiguous() * 2).sum()
    assert len(create_schedule([fused.lazydata])) == 1
    assert len(create_schedule([split.lazydata])) == 2
    # contiguous_backward: the same values, and a gradient that goes through its own buffer
    w = Tensor([1.0, 2.0], device=device, requires_grad=True)
    (w.exp().contiguous_backward() * 3).sum().backward()
    assert_close(w.grad.numpy(), 3 * np.exp([1.0, 2.0]))


# --- sorting ---
@pytest.mark.parametrize(
    ("shape", "dim", "descending"),
    [((7,), -1, False), ((3, 5), 1, True), ((6, 2), 0, False), ((2, 3, 8), 1, True), ((1,), 0, False)],
)
def test_sort(device, shape, dim, descending):
    x = np.random.default_rng(5).permutation(math.prod(shape)).reshape(shape).astype(np.float32)  # distinct values
    values, indices = Tensor(x, device=device).sort(dim, descending)
    ref_values, ref_indices = torch.sort(torch.tensor(x), dim, descending)
    np.testing.assert_array_equal(values.numpy(), ref_values.numpy())
    np.testing.assert_array_equal(indices.numpy(), ref_indices.numpy())
    assert indices.dtype == dtypes.int32
    np.testing.assert_array_equal(Tensor(x, device=device).argsort(dim, descending).numpy(), ref_indices.numpy())
    check_torch([shape], lambda t: t.sort(dim, descending)[0], lambda t: torch.sort(t, dim, descending)[0], device)


def test_sort_ties_are_stable_and_ints(device):
    x = Tensor([3, 1, 3, 1, 2], device=device)
    values, indices = x.sort()
    assert values.tolist() == [1, 1, 2, 3, 3]
    assert indices.tolist() == [1, 3, 4, 0, 2]
    assert x.sort(descending=True)[1].tolist() == [0, 2, 4, 1, 3]
    assert Tensor([True, False], device=device).sort()[0].tolist() == [False, True]
    assert Tensor([2.0, -math.inf, math.inf], device=device).sort()[0].tolist() == [-math.inf, 2.0, math.inf]


def test_topk(device):
    x = np.random.default_rng(6).permutation(24).reshape(4, 6).astype(np.float32)
    for k, dim, largest in [(3, -1, True), (2, 0, False), (1, 1, True), (6, 1, False)]:
        values, indices = Tensor(x, device=device).topk(k, dim, largest)
        ref_values, ref_indices = torch.topk(torch.tensor(x), k, dim, largest)
        np.testing.assert_array_equal(values.numpy(), ref_values.numpy())
        np.testing.assert_array_equal(indices.numpy(), ref_indices.numpy())
    check_torch([(3, 5)], lambda t: t.topk(2)[0], lambda t: torch.topk(t, 2)[0], device)
    with pytest.raises(ValueError, match="topk"):
        Tensor(x, device=device).topk(7)


# --- einsum ---
EINSUM = [
    ("matmul", "ij,jk->ik", [(2, 3), (3, 4)]),
    ("implicit", "ij,jk", [(2, 3), (3, 4)]),
    ("batched", "bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("transpose", "ij->ji", [(2, 3)]),
    ("sum", "ij->", [(2, 3)]),
    ("trace", "ii->", [(3, 3)]),
    ("diagonal", "ii->i", [(3, 3)]),
    ("outer", "i,j->ij", [(3,), (4,)]),
    ("dot", "i,i->", [(5,), (5,)]),
    ("ellipsis", "...ij,...jk->...ik", [(2, 3, 4), (2, 4, 2)]),
    ("ellipsis_broadcast", "...j,j->...", [(2, 3, 4), (4,)]),
    ("three", "ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("spaces", "ij, jk -> ki", [(2, 3), (3, 4)]),
]


@pytest.mark.parametrize(("name", "formula", "shapes"), EINSUM, ids=[e[0] for e in EINSUM])
def test_einsum(device, name, formula, shapes):
    check_torch(shapes, lambda *xs: Tensor.einsum(formula, *xs), lambda *xs: torch.einsum(formula, *xs), device)


def test_einsum_list_and_errors(device):
    a, b = Tensor.ones(2, 3, device=device), Tensor.ones(3, device=device)
    assert Tensor.einsum("ij,j->i", [a, b]).tolist() == [3.0, 3.0]
    with pytest.raises(ShapeError, match="einsum"):
        Tensor.einsum("ijk,j->i", a, b)
    with pytest.raises(ValueError, match="einsum"):
        Tensor.einsum("ij,j->i", a)


# --- losses ---
def _targets(shape, classes, seed=0):
    return np.random.default_rng(seed).integers(0, classes, shape).astype(np.int32)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_indices(device, reduction, label_smoothing):
    y = _targets((4,), 5)
    kw = {"reduction": reduction, "label_smoothing": label_smoothing}
    check_torch(
        [(4, 5)],
        lambda x: x.cross_entropy(Tensor(y, device=device), **kw),
        lambda x: TF.cross_entropy(x, torch.tensor(y, dtype=torch.int64), **kw),
        device,
    )


def test_cross_entropy_variants(device):
    y = _targets((4,), 5)
    y[1] = -100
    check_torch(
        [(4, 5)],
        lambda x: x.cross_entropy(Tensor(y, device=device), label_smoothing=0.2),
        lambda x: TF.cross_entropy(x, torch.tensor(y, dtype=torch.int64), label_smoothing=0.2),
        device,
    )
    spatial = _targets((2, 3, 3), 4)
    check_torch(
        [(2, 4, 3, 3)],
        lambda x: x.cross_entropy(Tensor(spatial, device=device)),
        lambda x: TF.cross_entropy(x, torch.tensor(spatial, dtype=torch.int64)),
        device,
    )
    check_torch(
        [(5,)],
        lambda x: x.cross_entropy(Tensor(2, device=device)),
        lambda x: TF.cross_entropy(x, torch.tensor(2)),
        device,
    )
    for ls in [0.0, 0.3]:
        check_torch(
            [(3, 4), (3, 4)],
            lambda x, p, ls=ls: x.cross_entropy(p.softmax(), label_smoothing=ls),
            lambda x, p, ls=ls: TF.cross_entropy(x, p.softmax(-1), label_smoothing=ls),
            device,
        )


def test_cross_entropy_ignore_index(device):
    y = np.array([1, 3, 0, 3], np.int32)
    check_torch(
        [(4, 5)],
        lambda x: x.cross_entropy(Tensor(y, device=device), ignore_index=3, label_smoothing=0.1),
        lambda x: TF.cross_entropy(x, torch.tensor(y, dtype=torch.int64), ignore_index=3, label_smoothing=0.1),
        device,
    )


def test_sparse_categorical_crossentropy(device):
    y = _targets((2, 3), 4)
    check_torch(
        [(2, 3, 4)],
        lambda x: x.sparse_categorical_crossentropy(Tensor(y, device=device)),
        lambda x: TF.cross_entropy(x.permute(0, 2, 1), torch.tensor(y, dtype=torch.int64)),
        device,
    )
    y[0, 1] = 2
    check_torch(
        [(2, 3, 4)],
        lambda x: x.sparse_categorical_crossentropy(Tensor(y, device=device), ignore_index=2, label_smoothing=0.1),
        lambda x: TF.cross_entropy(
            x.permute(0, 2, 1), torch.tensor(y, dtype=torch.int64), ignore_index=2, label_smoothing=0.1
        ),
        device,
    )
    check_torch(
        [(3, 4)],
        lambda x: x.sparse_categorical_crossentropy(Tensor(y[0], device=device), reduction="none"),
        lambda x: TF.cross_entropy(x, torch.tensor(y[0], dtype=torch.int64), reduction="none"),
        device,
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(device, reduction):
    y = np.array([0, 2, 1, 2], np.int32)
    t_y = torch.tensor(y, dtype=torch.int64)
    check_torch(
        [(4, 3)],
        lambda x: x.log_softmax().nll_loss(Tensor(y, device=device), reduction=reduction),
        lambda x: TF.nll_loss(x.log_softmax(-1), t_y, reduction=reduction),
        device,
    )
    weight = np.array([0.2, 1.0, 3.0], np.float32)
    check_torch(
        [(4, 3)],
        lambda x: x.nll_loss(
            Tensor(y, device=device), Tensor(weight, device=device), ignore_index=1, reduction=reduction
        ),
        lambda x: TF.nll_loss(x, t_y, torch.tensor(weight).to(x.dtype), ignore_index=1, reduction=reduction),
        device,
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_losses(device, reduction):
    y = (np.random.default_rng(4).random((3, 4)) < 0.5).astype(np.float32)
    t_y = torch.tensor(y)
    check_torch(
        [(3, 4)],
        lambda p: p.binary_crossentropy(Tensor(y, device=device), reduction),
        lambda p: TF.binary_cross_entropy(p, t_y.to(p.dtype), reduction=reduction),
        device,
        low=0.05,
        high=0.95,
    )
    check_torch(
        [(3, 4)],
        lambda x: x.binary_crossentropy_logits(Tensor(y, device=device), reduction),
        lambda x: TF.binary_cross_entropy_with_logits(x, t_y.to(x.dtype), reduction=reduction),
        device,
        low=-30,
        high=30,
    )
    pos_weight = np.array([0.5, 1.0, 2.0, 3.0], np.float32)
    check_torch(
        [(3, 4)],
        lambda x: x.binary_crossentropy_logits(Tensor(y, device=device), reduction, Tensor(pos_weight, device=device)),
        lambda x: TF.binary_cross_entropy_with_logits(
            x, t_y.to(x.dtype), reduction=reduction, pos_weight=torch.tensor(pos_weight).to(x.dtype)
        ),
        device,
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses(device, reduction):
    check_torch(
        [(3, 4), (3, 4)],
        lambda x, y: x.mse_loss(y, reduction),
        lambda x, y: TF.mse_loss(x, y, reduction=reduction),
        device,
    )
    check_torch(
        [(3, 4), (4,)],
        lambda x, y: x.l1_loss(y, reduction),
        lambda x, y: TF.l1_loss(x, y.expand(3, 4), reduction=reduction),
        device,
    )
    for beta in [1.0, 0.5, 0.0]:
        check_torch(
            [(3, 4), (3, 4)],
            lambda x, y, b=beta: x.smooth_l1_loss(y, reduction, beta=b),
            lambda x, y, b=beta: TF.smooth_l1_loss(x, y, reduction=reduction, beta=b),
            device,
        )
    check_torch(
        [(3, 4), (3, 4)],
        lambda x, y: x.huber_loss(y, reduction, delta=0.7),
        lambda x, y: TF.huber_loss(x, y, reduction=reduction, delta=0.7),
        device,
    )
    with pytest.raises(ValueError, match="reduction"):
        Tensor([1.0], device=device).mse_loss(Tensor([1.0], device=device), "avg")


# --- initialisers and small extras ---
def test_initialisers(device):
    Tensor.manual_seed(0)
    shape = (64, 32, 3, 3)
    fan_in = 32 * 9
    cases = [
        (Tensor.scaled_uniform, (math.prod(shape)) ** -0.5, "uniform"),
        (Tensor.glorot_uniform, math.sqrt(6 / (64 + fan_in)), "uniform"),
        (Tensor.kaiming_uniform, math.sqrt(3) * math.sqrt(2 / (1 + 0.01**2)) / math.sqrt(fan_in), "uniform"),
        (Tensor.kaiming_normal, math.sqrt(2 / (1 + 0.01**2)) / math.sqrt(fan_in), "normal"),
    ]
    for init, scale, kind in cases:
        t = init(*shape, device=device)
        assert (t.shape, t.dtype, t.device) == (shape, dtypes.float32, device)
        values = t.numpy()
        if kind == "uniform":
            assert np.abs(values).max() <= scale
            assert abs(np.abs(values).max() - scale) < 0.01 * scale
        else:
            assert abs(values.std() - scale) < 0.05 * scale
        leaf = init(4, 5, requires_grad=True, device=device)
        assert leaf.requires_grad
        assert leaf._ctx is None
        (leaf * 2).sum().backward()
        assert leaf.grad is not None
    assert Tensor.kaiming_uniform(3, 4, a=1.0, device=device).shape == (3, 4)
    assert Tensor.glorot_uniform(3, 4, dtype=dtypes.float16, device=device).dtype == dtypes.float16
    assert sorted(Tensor.randperm(6, device=device).tolist()) == list(range(6))


def test_extras(device):
    check_torch([(3, 4)], lambda x: Tensor.stack(*x.var_mean(1)), lambda x: torch.stack(torch.var_mean(x, 1)), device)
    check_torch([(3, 4)], lambda x: Tensor.stack(*x.std_mean(0)), lambda x: torch.stack(torch.std_mean(x, 0)), device)
    t = Tensor([1.0], device=device).requires_grad_()
    assert t.requires_grad
    assert dtypes.default_float == dtypes.float32
    assert (Tensor([1], device=device) << 3).tolist() == [8]
    assert (Tensor([16], device=device) >> 2).tolist() == [4]
    assert (Tensor([-7], device=device) % 3).tolist() == [2]


# --- docstring examples that return plain values ---
def test_docstring_examples(device):
    t = lambda data: Tensor(data, device=device)  # noqa: E731
    assert t([-1.0, 3.0, 8.0]).relu6().tolist() == [0.0, 3.0, 6.0]
    assert t([-2.0, 3.0]).leaky_relu(0.5).tolist() == [-1.0, 3.0]
    assert t([-4.0, 0.0, 4.0]).hardsigmoid().tolist() == [0.0, 0.5, 1.0]
    assert t([-4.0, 0.0, 4.0]).hardswish().tolist() == [-0.0, 0.0, 4.0]
    assert t([-1.0, 3.0]).softsign().tolist() == [-0.5, 0.75]
    assert t([0.5, 1.5, 2.5]).round().tolist() == [0.0, 2.0, 2.0]
    assert t([1, 2, 3]).cumsum().tolist() == [1, 3, 6]
    assert t([1, 2, 3]).unfold(0, 2, 1).tolist() == [[1, 2], [2, 3]]
    assert Tensor.arange(16, device=device).reshape(1, 1, 4, 4).max_pool2d().tolist() == [[[[5, 7], [13, 15]]]]
    assert Tensor.arange(4.0, device=device).reshape(1, 1, 2, 2).avg_pool2d().tolist() == [[[[1.5]]]]
    assert t([[[1.0, 3.0]]]).interpolate((3,), align_corners=True).tolist() == [[[1.0, 2.0, 3.0]]]
    assert t([0, 0, 0]).scatter(0, t([2]), t([7])).tolist() == [0, 0, 7]
    assert t([1, 1]).scatter_reduce(0, t([0, 0]), t([2, 3]), "sum").tolist() == [6, 1]
    assert t([1, 2, 3]).masked_select(t([True, False, True])).tolist() == [1, 3]
    assert t([[1, 2], [3, 4]]).diagonal().tolist() == [1, 4]
    assert t([1, 2]).diag().tolist() == [[1, 0], [0, 2]]
    assert t([1, 2, 3]).roll(1).tolist() == [3, 1, 2]
    assert [g.tolist() for g in t([1, 2]).meshgrid(t([3]))] == [[[1], [2]], [[3], [3]]]
    assert t([3, 1, 2]).argsort().tolist() == [1, 2, 0]
    assert t([1, 3, 2]).topk(2)[0].tolist() == [3, 2]
    assert Tensor.einsum("ij,j->i", t([[1, 2], [3, 4]]), t([1, 1])).tolist() == [3, 7]
    assert t([[-1.0, -2.0]]).nll_loss(t([1])).item() == 2.0
    assert t([1.0, 3.0]).mse_loss(t([0.0, 0.0])).item() == 5.0
    assert t([0.5, 3.0]).smooth_l1_loss(t([0.0, 0.0])).item() == 1.3125
    assert t([3.0]).huber_loss(t([0.0])).item() == 2.5
    assert t([0.0]).lerp(t([10.0]), 0.3).tolist() == [3.0]
    assert t([1.0, 2.0]).isclose(t([1.0, 2.1])).tolist() == [True, False]
    assert t([[1.0, 2.0]]).linear(t([[1.0], [1.0]]), t([0.5])).tolist() == [[3.5]]
    assert Tensor.ones(1, 1, 4, device=device).conv1d(Tensor.ones(1, 1, 2, device=device)).tolist() == [
        [[2.0, 2.0, 2.0]]
    ]
    assert Tensor.ones(1, 1, 2, 2, device=device).conv_transpose2d(Tensor.ones(1, 1, 2, 2, device=device)).shape == (
        1,
        1,
        3,
        3,
    )


# --- errors ---
def test_shape_errors_name_the_op_and_shapes(device):
    x = Tensor.ones(1, 3, 5, 5, device=device)
    cases = [
        (lambda: x.conv2d(Tensor.ones(2, 4, 3, 3, device=device)), "conv2d", [(1, 3, 5, 5), (2, 4, 3, 3)]),
        (lambda: x.conv2d(Tensor.ones(2, 3, 3, device=device)), "conv2d", [(1, 3, 5, 5), (2, 3, 3)]),
        (lambda: x.conv2d(Tensor.ones(4, 3, 3, 3, device=device), Tensor.ones(3, device=device)), "conv2d", [(3,)]),
        (
            lambda: x.conv_transpose2d(Tensor.ones(2, 4, 3, 3, device=device)),
            "conv_transpose2d",
            [(1, 3, 5, 5), (2, 4, 3, 3)],
        ),
        (lambda: x.conv2d(Tensor.ones(1, 3, 7, 7, device=device)), "pool", [(1, 3, 5, 5)]),
        (
            lambda: Tensor.ones(4, 5, device=device).cross_entropy(Tensor([1, 2], device=device)),
            "cross_entropy",
            [(4, 5), (2,)],
        ),
        (lambda: Tensor.ones(4, 5, device=device).nll_loss(Tensor([1, 2], device=device)), "nll_loss", [(4, 5), (2,)]),
        (lambda: Tensor.ones(3, 4, device=device).gather(1, Tensor([1], device=device)), "gather", [(3, 4), (1,)]),
        (
            lambda: Tensor.ones(3, 4, device=device).scatter(1, Tensor([[[1]]], device=device), 1.0),
            "scatter",
            [(3, 4), (1, 1, 1)],
        ),
        (
            lambda: Tensor.ones(2, 3, device=device).scaled_dot_product_attention(
                Tensor.ones(2, 4, device=device), Tensor.ones(2, 4, device=device)
            ),
            "scaled_dot_product_attention",
            [(2, 3), (2, 4)],
        ),
        (lambda: Tensor.ones(3, device=device).unfold(0, 4, 1), "unfold", [(3,)]),
        (lambda: Tensor.ones(3, device=device).triu(), "triu", [(3,)]),
        (
            lambda: Tensor.ones(2, 2, device=device).max_unpool2d(Tensor.ones(3, 2, device=device)),
            "max_unpool2d",
            [(2, 2), (3, 2)],
        ),
    ]
    for fn, op, shapes in cases:
        with pytest.raises(ShapeError) as info:
            fn()
        message = str(info.value)
        assert op in message, message
        for shape in shapes:
            assert str(shape) in message, message


def test_value_errors(device):
    x = Tensor.ones(1, 1, 4, 4, device=device)
    with pytest.raises(ValueError, match="same"):
        x.conv2d(Tensor.ones(1, 1, 3, 3, device=device), stride=2, padding="same")
    with pytest.raises(ValueError, match="padding"):
        x.conv2d(Tensor.ones(1, 1, 3, 3, device=device), padding=(1, 2, 3))
    with pytest.raises(ValueError, match="label_smoothing"):
        Tensor.ones(2, 3, device=device).cross_entropy(Tensor([0, 1], device=device), label_smoothing=2.0)
    with pytest.raises(ValueError, match="reduce"):
        Tensor.ones(3, device=device).scatter_reduce(0, Tensor([0], device=device), Tensor([1.0], device=device), "max")
    with pytest.raises(ValueError, match="indexing"):
        Tensor.ones(3, device=device).meshgrid(indexing="yx")
