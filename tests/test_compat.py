"""Behaviours tinygrad code relies on, each pinned against PyTorch (values, dtypes, gradients and error types) on
every available device: reductions at the edges, creation, pow and friends, indexing, padding, gather/scatter,
einsum, losses, attention, interpolation and the exception types users catch."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from tinygrad_core import Tensor, dtypes
from tinygrad_core.nn import BatchNorm2d, Conv2d, optim
from tinygrad_core.nn.state import get_parameters

INF, NAN = math.inf, math.nan


def compare(device, fn, torch_fn, *arrays, grad=True, atol=1e-5):
    """fn on Tensors and torch_fn on torch tensors of the same arrays: values and dtype match; with grad, so does
    the gradient of sum(output * a fixed weight) with respect to every float input."""
    float_inputs = grad and all(np.asarray(a).dtype.kind == "f" for a in arrays)
    ours = [Tensor(np.asarray(a), device=device, requires_grad=float_inputs or None) for a in arrays]
    theirs = [torch.tensor(np.asarray(a), requires_grad=float_inputs) for a in arrays]
    out, expected = fn(*ours), torch_fn(*theirs)
    got = out.numpy()
    assert got.dtype == expected.detach().numpy().dtype, f"dtype {got.dtype} != torch's {expected.dtype}"
    np.testing.assert_allclose(got, expected.detach().numpy(), atol=atol, rtol=atol, equal_nan=True)
    if float_inputs:
        weight = np.random.default_rng(1).uniform(0.5, 1.5, got.shape).astype(got.dtype)
        (out * Tensor(weight, device=device)).sum().backward()
        (expected * torch.tensor(weight)).sum().backward()
        for mine, reference in zip(ours, theirs):
            np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), atol=atol, rtol=atol, equal_nan=True)


def raises_like_torch(builtin, ours, theirs):
    """ours raises an instance of `builtin`, and so does PyTorch for the same mistake."""
    with pytest.raises(builtin):
        theirs()
    with pytest.raises(builtin):
        ours()


# --- reductions ---
@pytest.mark.parametrize("op", ["sum0", "sum-1", "sum()", "prod0", "max0", "mean-1"])
def test_reductions_of_0d_tensors(device, op):
    fns = {
        "sum0": (lambda x: x.sum(0), lambda x: x.sum(0)),
        "sum-1": (lambda x: x.sum(-1), lambda x: x.sum(-1)),
        "sum()": (lambda x: x.sum(()), lambda x: x.sum(())),
        "prod0": (lambda x: x.prod(0), lambda x: x.prod(0)),
        "max0": (lambda x: x.max(0), lambda x: x.amax(0)),
        "mean-1": (lambda x: x.mean(-1), lambda x: x.mean(-1)),
    }
    compare(device, *fns[op], np.array(3.5, np.float32))


@pytest.mark.parametrize("axis", [1, (0, 1), (1, 2), None])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("op", ["any", "all"])
def test_any_all_over_empty_dims(device, axis, keepdim, op):
    values = np.ones((2, 0, 3), bool)
    ours = getattr(Tensor(values, device=device), op)(axis, keepdim=keepdim)
    reference = getattr(torch.tensor(values), op)(dim=axis, keepdim=keepdim) if axis is not None else None
    if reference is None:
        reference = getattr(torch.tensor(values), op)()
        if keepdim:
            reference = reference.reshape(1, 1, 1)
    assert ours.shape == tuple(reference.shape)
    assert ours.dtype == dtypes.bool
    np.testing.assert_array_equal(ours.numpy(), reference.numpy())


def test_empty_max_and_min(device):
    """An empty reduction gives its identity, as tinygrad does (-inf for max, inf for min)."""
    assert Tensor([], device=device).max().item() == -INF
    assert Tensor([], device=device).min().item() == INF
    assert Tensor.ones(2, 0, device=device).sum(1).tolist() == [0.0, 0.0]
    assert Tensor.ones(3, 0, dtype=dtypes.int32, device=device).max(1).tolist() == [-(2**31)] * 3


def test_axis_out_of_range(device):
    x = Tensor.ones(2, 3, 4, 5, device=device)
    raises_like_torch(IndexError, lambda: x.sum(axis=5), lambda: torch.ones(2, 3, 4, 5).sum(5))
    raises_like_torch(IndexError, lambda: x.cumsum(4), lambda: torch.ones(2, 3, 4, 5).cumsum(4))
    raises_like_torch(IndexError, lambda: x.cumprod(-5), lambda: torch.ones(2, 3, 4, 5).cumprod(-5))
    raises_like_torch(IndexError, lambda: x.squeeze(7), lambda: torch.ones(2, 3, 4, 5).squeeze(7))
    raises_like_torch(RuntimeError, lambda: x.sum(axis=(0, 0)), lambda: torch.ones(2, 3, 4, 5).sum((0, 0)))


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (dtypes.int64, torch.int64),
        (dtypes.float32, torch.float32),
        ("float32", torch.float32),
        (dtypes.int16, torch.int16),
    ],
)
def test_sum_and_prod_take_a_dtype(device, ours, theirs):
    values = np.array([[1, 2, 3], [4, 5, 6]], np.int32)
    for method in ("sum", "prod"):
        got = getattr(Tensor(values, device=device), method)(1, dtype=ours)
        expected = getattr(torch.tensor(values), method)(1, dtype=theirs)
        assert got.numpy().dtype == expected.numpy().dtype
        np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_sum_and_prod_reject_garbage_dtypes(device):
    x = Tensor([1, 2], device=device)
    for garbage in ("", "garbage", 3.5):
        with pytest.raises((TypeError, AttributeError)):
            x.sum(dtype=garbage)
        with pytest.raises((TypeError, AttributeError)):
            x.prod(dtype=garbage)
    with pytest.raises(AttributeError):  # tinygrad's error for an unknown dtype name
        Tensor([3], dtype="typo", device=device)


def test_int32_min_and_argmin_at_the_bottom(device):
    values = np.array([[5, -(2**31), 7], [-(2**31) + 1, 3, 2**31 - 1]], np.int32)
    compare(device, lambda x: x.min(), lambda x: x.min(), values)
    compare(device, lambda x: x.min(1), lambda x: x.amin(1), values)
    compare(device, lambda x: x.argmin(1), lambda x: x.argmin(1).int(), values)
    compare(device, lambda x: x.max(0), lambda x: x.amax(0), values)


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_argmax_argmin_take_the_first_tie(device, dtype):
    values = np.array([[3, 1, 3, 1], [2, 2, 0, 0]], dtype)
    for axis in (None, 0, 1):
        compare(device, lambda x, a=axis: x.argmax(a), lambda x, a=axis: x.argmax(a).int(), values, grad=False)
        compare(device, lambda x, a=axis: x.argmin(a), lambda x, a=axis: x.argmin(a).int(), values, grad=False)


# --- creation ---
@pytest.mark.parametrize(("n", "m"), [(4, 2), (2, 4), (3, 3), (1, 5), (5, 1), (0, 3), (3, 0)])
def test_eye(device, n, m):
    np.testing.assert_array_equal(Tensor.eye(n, m, device=device).numpy(), torch.eye(n, m).numpy())


def test_linspace_arguments(device):
    np.testing.assert_allclose(Tensor.linspace(-1, 2, 7, device=device).numpy(), torch.linspace(-1, 2, 7).numpy())
    assert Tensor.linspace(0, 1, 0, device=device).shape == (0,)
    raises_like_torch(RuntimeError, lambda: Tensor.linspace(0, 1, -1, device=device), lambda: torch.linspace(0, 1, -1))
    raises_like_torch(TypeError, lambda: Tensor.linspace(0, 1, 2.5, device=device), lambda: torch.linspace(0, 1, 2.5))


# --- gradients at the edges ---
def test_clip_gradient_is_one_at_the_bounds(device):
    values = np.array([0.0, 1.0, 1.5, 2.0, 3.0, NAN], np.float32)
    compare(device, lambda x: x.clip(1.0, 2.0), lambda x: x.clamp(1.0, 2.0), values)
    compare(device, lambda x: x.clip(min_=1.0), lambda x: x.clamp(min=1.0), values)
    bounds = np.array([1.0, 1.0, 2.0, 2.0, 2.0, 0.0], np.float32)
    compare(device, lambda x, lo: x.clip(lo, 2.5), lambda x, lo: x.clamp(lo, torch.tensor(2.5)), values, bounds)


@pytest.mark.parametrize(
    ("base", "exponent"),
    [
        ([0.0, 0.0, 0.0, 0.0, 2.0], [0.0, 2.0, 1.0, -1.0, 0.0]),  # 0 ** y, x ** 0
        ([-2.0, -2.0, -1.5, -3.0], [2.0, 3.0, 2.0, -1.0]),  # negative bases, integer exponents
        ([-2.0, 4.0, 0.5], [0.5, -0.5, 3.5]),  # non-integer exponents
    ],
)
def test_pow_edges(device, base, exponent):
    b, e = np.array(base, np.float32), np.array(exponent, np.float32)
    compare(device, lambda x, y: x**y, lambda x, y: x**y, b, e)
    for scalar in (0, 2, 3, -2, 0.5, 2.0):
        compare(device, lambda x, scalar=scalar: x**scalar, lambda x, scalar=scalar: x**scalar, b)
    compare(device, lambda y: 2.0**y, lambda y: 2.0**y, e)


def test_integer_pow_stays_integer(device):
    base, exponent = np.array([2, -3, 5, 0, 7], np.int32), np.array([10, 3, 0, 4, 2], np.int32)
    compare(device, lambda x, y: x**y, lambda x, y: x**y, base, exponent, grad=False)
    compare(device, lambda x: x**3, lambda x: x**3, base, grad=False)
    compare(device, lambda y: 2**y, lambda y: 2**y, exponent, grad=False)
    raises_like_torch(RuntimeError, lambda: Tensor(base, device=device) ** -2, lambda: torch.tensor(base) ** -2)


def test_sign_and_copysign_gradients(device):
    x = np.array([-1.5, 0.0, -0.0, 2.0], np.float32)
    y = np.array([1.0, -1.0, 1.0, -2.0], np.float32)
    compare(device, lambda a: a.sign(), torch.sign, x)
    compare(device, lambda a, b: a.copysign(b), torch.copysign, x, y)


def test_sigmoid_is_finite_at_large_values(device):
    x = np.array([-1e4, -1000.0, -100.0, -20.0, 0.0, 20.0, 100.0, 1000.0, 1e4], np.float32)
    compare(device, lambda a: a.sigmoid(), torch.sigmoid, x)


# --- indexing ---
@pytest.mark.parametrize(
    "index",
    [
        [0, 2],
        ([0, 2],),
        ((0,), slice(None)),
        ([1], 0),
        ([[0], [1]], [1, 2]),
        (slice(None), [2, 0, 1]),
        (..., [True, False, True]),
        ([True, False, True],),
        (Ellipsis, 1),
    ],
    ids=lambda i: repr(i),
)
def test_list_and_tuple_indices(device, index):
    values = np.arange(9, dtype=np.float32).reshape(3, 3)
    expected = torch.tensor(values)[index]
    got = Tensor(values, device=device)[index]
    assert got.shape == tuple(expected.shape)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_indexing_keeps_inf_and_nan(device):
    values = np.array([1.0, INF, NAN, -INF], np.float32)
    x = Tensor(values, device=device)
    np.testing.assert_array_equal(x[[0, 2, 1, 3]].numpy(), values[[0, 2, 1, 3]])
    np.testing.assert_array_equal(x[Tensor([1, 3], device=device)].numpy(), values[[1, 3]])
    np.testing.assert_array_equal(x.reshape(2, 2)[[1, 0]].numpy(), values.reshape(2, 2)[[1, 0]])
    np.testing.assert_array_equal(x.gather(0, Tensor([3, 2, 1], device=device)).numpy(), values[[3, 2, 1]])


def test_index_out_of_range(device):
    x, t = Tensor([1, 2, 3], device=device), torch.tensor([1, 2, 3])
    raises_like_torch(IndexError, lambda: x[[5]], lambda: t[[5]])
    # an index tensor's values are checked on the device: the error comes at the next read (tensor/checks.py)
    raises_like_torch(IndexError, lambda: x[Tensor([0, -4], device=device)].numpy(), lambda: t[torch.tensor([0, -4])])
    raises_like_torch(IndexError, lambda: x[3], lambda: t[3])


@pytest.mark.parametrize("mask", [[[True, False], [False, True]], [True, False]])
def test_boolean_masks(device, mask):
    values = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    compare(device, lambda x: x[Tensor(mask, device=device)], lambda x: x[torch.tensor(mask)], values)
    compare(device, lambda x: x[x > 2], lambda x: x[x > 2], values)


# --- padding ---
def test_pad_then_slice(device):
    x = Tensor([3.0], device=device).pad(((1, 0),), value=3.456)
    assert x[0].item() == pytest.approx(3.456)
    assert x[1].item() == 3.0
    compare(device, lambda a: a.pad(((1, 2),), value=-1.5)[0], lambda a: TF.pad(a, (1, 2), value=-1.5)[0], [7.0])


@pytest.mark.parametrize(
    ("mode", "width", "padding"),
    [("reflect", 3, (2, 2)), ("reflect", 2, (1, 0)), ("replicate", 1, (3, 2)), ("circular", 3, (3, 3))],
)
def test_pad_modes_at_the_edge_sizes(device, mode, width, padding):
    values = np.arange(2 * width, dtype=np.float32).reshape(1, 2, width) + 1
    compare(device, lambda x: x.pad(padding, mode=mode), lambda x: TF.pad(x, padding, mode=mode), values)


# --- gather and scatter ---
def test_gather_with_a_smaller_index(device):
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    index = np.array([[2, 0], [1, 1]], np.int64)
    compare(
        device, lambda x: x.gather(1, Tensor(index, device=device)), lambda x: x.gather(1, torch.tensor(index)), values
    )
    compare(
        device, lambda x: x.gather(0, Tensor(index, device=device)), lambda x: x.gather(0, torch.tensor(index)), values
    )


def test_scatter_with_a_smaller_index(device):
    values, src = np.zeros((3, 4), np.float32), np.arange(1, 13, dtype=np.float32).reshape(3, 4)
    index = np.array([[2, 0, 1], [1, 2, 3]], np.int64)
    compare(
        device,
        lambda x, s: x.scatter(1, Tensor(index, device=device), s),
        lambda x, s: x.scatter(1, torch.tensor(index), s),
        values,
        src,
        grad=False,  # PyTorch's own scatter backward rejects a src larger than the index
    )
    x, s = Tensor(values, device=device, requires_grad=True), Tensor(src, device=device, requires_grad=True)
    x.scatter(1, Tensor(index, device=device), s).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 0, 1], [1, 0, 0, 0], [1, 1, 1, 1]])
    np.testing.assert_array_equal(s.grad.numpy(), [[1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce(device, reduce, include_self):
    values = np.arange(1, 9, dtype=np.float32).reshape(2, 4)
    src = np.array([[3.0, -1.0, 5.0], [2.0, 7.0, 0.5]], np.float32)
    index = np.array([[0, 0, 3], [1, 1, 1]], np.int64)
    compare(
        device,
        lambda x, s: x.scatter_reduce(1, Tensor(index, device=device), s, reduce, include_self=include_self),
        lambda x, s: x.scatter_reduce(1, torch.tensor(index), s, reduce, include_self=include_self),
        values,
        src,
        grad=reduce in ("sum", "mean"),
    )


def test_scatter_argument_errors(device):
    x, index = Tensor([1, 2], device=device), Tensor([0], device=device)
    with pytest.raises(TypeError):  # tinygrad: a tensor src with reduce= is scatter_reduce's job
        x.scatter(0, index, Tensor([3], device=device), reduce="add")
    with pytest.raises(TypeError):
        x.scatter(0, index, 3, reduce="typo")
    assert x.scatter(0, index, 3, reduce="add").tolist() == [4, 2]


# --- einsum and matmul ---
@pytest.mark.parametrize(
    ("formula", "shapes"),
    [
        ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
        ("i...,i->...", [(3, 2), (3,)]),
        ("...i,...i", [(2, 3), (3,)]),
        ("b...,b...->b", [(2, 3, 4), (2, 1, 4)]),
        ("ii->i", [(3, 3)]),
    ],
)
def test_einsum_ellipsis_and_broadcasting(device, formula, shapes):
    arrays = [np.random.default_rng(i).uniform(-1, 1, s).astype(np.float32) for i, s in enumerate(shapes)]
    compare(device, lambda *xs: Tensor.einsum(formula, *xs), lambda *xs: torch.einsum(formula, *xs), *arrays)


def test_matmul_errors_are_runtime_errors(device):
    a = Tensor.ones(2, 3, device=device)
    raises_like_torch(RuntimeError, lambda: a @ Tensor.ones(4, device=device), lambda: torch.ones(2, 3) @ torch.ones(4))
    raises_like_torch(
        RuntimeError, lambda: a.dot(Tensor.ones(2, 3, device=device)), lambda: torch.ones(2, 3) @ torch.ones(2, 3)
    )
    raises_like_torch(
        RuntimeError, lambda: a.matmul(Tensor(2.0, device=device)), lambda: torch.ones(2, 3) @ torch.tensor(2.0)
    )
    raises_like_torch(
        RuntimeError, lambda: a + Tensor.ones(3, 2, device=device), lambda: torch.ones(2, 3) + torch.ones(3, 2)
    )


# --- losses, attention, interpolation ---
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_with_class_indices(device, label_smoothing):
    logits = np.random.default_rng(0).uniform(-2, 2, (4, 5)).astype(np.float32)
    target = np.array([1, 0, 4, 2], np.int64)
    compare(
        device,
        lambda x: x.cross_entropy(Tensor(target, device=device), label_smoothing=label_smoothing),
        lambda x: TF.cross_entropy(x, torch.tensor(target), label_smoothing=label_smoothing),
        logits,
    )
    compare(
        device,
        lambda x: x.cross_entropy(Tensor(target, device=device), reduction="none"),
        lambda x: TF.cross_entropy(x, torch.tensor(target), reduction="none"),
        logits,
    )
    raises_like_torch(
        RuntimeError,
        lambda: Tensor(logits, device=device).cross_entropy(Tensor(target.reshape(4, 1), device=device)),
        lambda: TF.cross_entropy(torch.tensor(logits), torch.tensor(target.reshape(4, 1))),
    )
    raises_like_torch(
        ValueError,
        lambda: Tensor(logits, device=device).cross_entropy(Tensor(target, device=device), reduction="typo"),
        lambda: TF.cross_entropy(torch.tensor(logits), torch.tensor(target), reduction="typo"),
    )


def test_attention_causal_mask_and_gqa(device):
    rng = np.random.default_rng(0)
    q, k, v = (rng.uniform(-1, 1, shape).astype(np.float32) for shape in [(1, 4, 3, 8), (1, 2, 3, 8), (1, 2, 3, 8)])
    compare(
        device,
        lambda a, b, c: a.scaled_dot_product_attention(b, c, is_causal=True, enable_gqa=True),
        lambda a, b, c: TF.scaled_dot_product_attention(a, b, c, is_causal=True, enable_gqa=True),
        q,
        k,
        v,
    )
    mask = np.tril(np.ones((3, 3), bool), -1) | np.eye(3, dtype=bool)
    raises_like_torch(
        RuntimeError,
        lambda: Tensor(q, device=device).scaled_dot_product_attention(
            Tensor(q, device=device), Tensor(q, device=device), attn_mask=Tensor(mask, device=device), is_causal=True
        ),
        lambda: TF.scaled_dot_product_attention(
            torch.tensor(q[0]), torch.tensor(q[0]), torch.tensor(q[0]), attn_mask=torch.tensor(mask), is_causal=True
        ),
    )


def test_interpolate_keeps_uint8(device):
    values = np.array([[[[1, 2, 250], [3, 4, 0]]]], np.uint8)
    for mode in ("bilinear", "nearest"):
        got = Tensor(values, device=device).interpolate((3, 5), mode=mode)
        expected = TF.interpolate(torch.tensor(values), (3, 5), mode=mode)
        assert got.dtype == dtypes.uint8
        np.testing.assert_array_equal(got.numpy(), expected.numpy())


# --- movement ---
def test_unfold_with_size_zero(device):
    got = Tensor.ones(3, 4, device=device).unfold(1, 0, 1)
    assert got.shape == tuple(torch.ones(3, 4).unfold(1, 0, 1).shape)
    assert Tensor.ones(3, 4, device=device).unfold(0, 0, 2).shape == tuple(torch.ones(3, 4).unfold(0, 0, 2).shape)


@pytest.mark.parametrize(("shifts", "dims"), [((1, 2), (0, 1)), ((-1, 5), (1, 0)), ((2, -3), (1, 1)), (4, None)])
def test_roll_several_shifts_and_dims(device, shifts, dims):
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    compare(device, lambda x: x.roll(shifts, dims), lambda x: x.roll(shifts, dims), values)


def test_flip_of_a_repeated_axis_raises(device):
    x = Tensor.ones(2, 3, device=device)
    raises_like_torch(RuntimeError, lambda: x.flip((0, 0)), lambda: torch.ones(2, 3).flip((0, 0)))
    raises_like_torch(RuntimeError, lambda: x.flip((1, -1)), lambda: torch.ones(2, 3).flip((1, -1)))


# --- argument errors: the exception types PyTorch raises ---
def test_argument_error_types(device):
    x = Tensor([1.0, 2.0], device=device)
    t = torch.tensor([1.0, 2.0])
    raises_like_torch(NotImplementedError, lambda: x.pad((1, 1), mode="typo"), lambda: TF.pad(t, (1, 1), mode="typo"))
    raises_like_torch(RuntimeError, lambda: x.div(x, rounding_mode="typo"), lambda: t.div(t, rounding_mode="typo"))
    raises_like_torch(RuntimeError, lambda: x.reshape(3), lambda: t.reshape(3))
    raises_like_torch(RuntimeError, lambda: x.expand(3, 3), lambda: t.expand(3, 3))
    with pytest.raises(ValueError, match="reshape"):  # tinygrad's type for a shape mismatch, kept by the same classes
        x.reshape(3)


# --- optimizers over models with buffers ---
def test_optimizer_over_get_parameters_with_batchnorm(device):
    from tinygrad_core import Device

    default = Device.DEFAULT
    Device.DEFAULT = device
    try:
        model = [Conv2d(1, 2, 3), BatchNorm2d(2)]
        opt = optim.Adam(get_parameters(model), lr=0.01)
        assert len(opt.params) == 4
        assert len(opt.buffers) == 3
        before = model[1].running_mean.numpy().copy()
        with Tensor.train():
            x = Tensor.randn(2, 1, 5, 5, device=device)
            model[1](model[0](x)).sum().backward()
            opt.step()
        assert not np.array_equal(model[1].running_mean.numpy(), before)
    finally:
        Device.DEFAULT = default
