"""Tensor ops vs numpy (values, shapes, dtypes) and PyTorch (gradients), on every available device."""

import numpy as np
import pytest
import torch

from tinygrad_core import Tensor, dtypes
from tinygrad_core.testing import check_op

# (name, shapes, numpy, ours, torch); ours=None means the numpy lambda works on Tensors too
ELEMENTWISE = [
    ("add", [(3, 4), (3, 4)], lambda x, y: x + y, None, lambda x, y: x + y),
    ("add_broadcast", [(3, 1), (1, 4)], lambda x, y: x + y, None, lambda x, y: x + y),
    ("add_rank", [(2, 3, 4), (4,)], lambda x, y: x + y, None, lambda x, y: x + y),
    ("sub", [(5,), (5,)], lambda x, y: x - y, None, lambda x, y: x - y),
    ("mul", [(2, 3), (2, 3)], lambda x, y: x * y, None, lambda x, y: x * y),
    (
        "div",
        [(4, 4), (4, 4)],
        lambda x, y: x / (np.abs(y) + 0.5),
        lambda x, y: x / (y.abs() + 0.5),
        lambda x, y: x / (y.abs() + 0.5),
    ),
    ("rsub_scalar", [(3,)], lambda x: 2 - x, None, lambda x: 2 - x),
    ("rdiv_scalar", [(3,)], lambda x: 1 / (x * x + 1), None, lambda x: 1 / (x * x + 1)),
    ("neg", [(6,)], lambda x: -x, None, lambda x: -x),
    ("relu", [(10,)], lambda x: np.maximum(x, 0), lambda x: x.relu(), lambda x: x.relu()),
    ("exp", [(3, 3)], np.exp, lambda x: x.exp(), torch.exp),
    (
        "log",
        [(3, 3)],
        lambda x: np.log(np.abs(x) + 0.1),
        lambda x: (x.abs() + 0.1).log(),
        lambda x: (x.abs() + 0.1).log(),
    ),
    (
        "sqrt",
        [(7,)],
        lambda x: np.sqrt(np.abs(x) + 0.1),
        lambda x: (x.abs() + 0.1).sqrt(),
        lambda x: (x.abs() + 0.1).sqrt(),
    ),
    ("sin", [(7,)], np.sin, lambda x: x.sin(), torch.sin),
    ("cos", [(7,)], np.cos, lambda x: x.cos(), torch.cos),
    ("sigmoid", [(7,)], lambda x: 1 / (1 + np.exp(-x)), lambda x: x.sigmoid(), torch.sigmoid),
    ("tanh", [(7,)], np.tanh, lambda x: x.tanh(), torch.tanh),
    ("abs", [(7,)], np.abs, lambda x: x.abs(), torch.abs),
    ("maximum", [(4, 5), (4, 5)], np.maximum, lambda x, y: x.maximum(y), torch.maximum),
    ("minimum", [(4, 5), (5,)], np.minimum, lambda x, y: x.minimum(y), torch.minimum),
    ("pow_int", [(4,)], lambda x: x**3, None, lambda x: x**3),
    (
        "pow_float",
        [(4,)],
        lambda x: (np.abs(x) + 0.5) ** 1.7,
        lambda x: (x.abs() + 0.5) ** 1.7,
        lambda x: (x.abs() + 0.5) ** 1.7,
    ),
    (
        "pow_tensor",
        [(4,), (4,)],
        lambda x, y: (np.abs(x) + 0.5) ** y,
        lambda x, y: (x.abs() + 0.5) ** y,
        lambda x, y: (x.abs() + 0.5) ** y,
    ),
    ("square", [(4,)], np.square, lambda x: x.square(), torch.square),
    (
        "reciprocal",
        [(4,)],
        lambda x: 1 / (x * x + 1),
        lambda x: (x * x + 1).reciprocal(),
        lambda x: (x * x + 1).reciprocal(),
    ),
    ("clip", [(9,)], lambda x: np.clip(x, -0.5, 0.5), lambda x: x.clip(-0.5, 0.5), lambda x: x.clip(-0.5, 0.5)),
    (
        "where",
        [(3, 4), (3, 4), (3, 4)],
        lambda c, x, y: np.where(c > 0, x, y),
        lambda c, x, y: (c > 0).where(x, y),
        lambda c, x, y: torch.where(c > 0, x, y),
    ),
    ("sign", [(6,)], np.sign, lambda x: x.sign(), None),
    ("trunc", [(6,)], np.trunc, lambda x: x.trunc(), None),
    ("floor", [(6,)], np.floor, lambda x: x.floor(), None),
    ("ceil", [(6,)], np.ceil, lambda x: x.ceil(), None),
]


@pytest.mark.parametrize(("name", "shapes", "np_fn", "fn", "torch_fn"), ELEMENTWISE, ids=[e[0] for e in ELEMENTWISE])
def test_elementwise(device, name, shapes, np_fn, fn, torch_fn):
    check_op(shapes, np_fn, fn or np_fn, torch_fn, device=device)


REDUCTIONS = [
    ("sum_all", [(3, 4)], lambda x: x.sum(), lambda x: x.sum(), lambda x: x.sum()),
    ("sum_axis", [(3, 4, 5)], lambda x: x.sum(axis=1), lambda x: x.sum(axis=1), lambda x: x.sum(1)),
    (
        "sum_keepdim",
        [(3, 4)],
        lambda x: x.sum(axis=0, keepdims=True),
        lambda x: x.sum(0, keepdim=True),
        lambda x: x.sum(0, keepdim=True),
    ),
    ("sum_axes", [(2, 3, 4)], lambda x: x.sum(axis=(0, 2)), lambda x: x.sum(axis=(0, 2)), lambda x: x.sum((0, 2))),
    ("mean", [(3, 4)], lambda x: x.mean(axis=1), lambda x: x.mean(1), lambda x: x.mean(1)),
    ("max", [(3, 4)], lambda x: x.max(axis=1), lambda x: x.max(1), lambda x: x.max(1).values),
    ("max_all", [(3, 4)], lambda x: x.max(), lambda x: x.max(), lambda x: x.max()),
    ("min", [(3, 4)], lambda x: x.min(axis=0), lambda x: x.min(0), lambda x: x.min(0).values),
    ("prod", [(3, 5)], lambda x: x.prod(axis=1), lambda x: x.prod(1), lambda x: x.prod(1)),
    ("var", [(4, 6)], lambda x: x.var(axis=1, ddof=1), lambda x: x.var(1), lambda x: x.var(1)),
    ("std", [(4, 6)], lambda x: x.std(axis=0, ddof=1), lambda x: x.std(0), lambda x: x.std(0)),
    ("sum_nonc", [(4, 6)], lambda x: x.T.sum(axis=1), lambda x: x.T.sum(1), lambda x: x.T.sum(1)),
    ("sum_1elem", [(1,)], lambda x: x.sum(), lambda x: x.sum(), lambda x: x.sum()),
]


@pytest.mark.parametrize(("name", "shapes", "np_fn", "fn", "torch_fn"), REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
def test_reduction(device, name, shapes, np_fn, fn, torch_fn):
    check_op(shapes, np_fn, fn, torch_fn, device=device)


MOVEMENT = [
    ("reshape", [(2, 6)], lambda x: x.reshape(3, 4), lambda x: x.reshape(3, 4), lambda x: x.reshape(3, 4)),
    (
        "reshape_after_permute",
        [(2, 3, 4)],
        lambda x: x.transpose(2, 0, 1).reshape(4, 6),
        lambda x: x.permute(2, 0, 1).reshape(4, 6),
        lambda x: x.permute(2, 0, 1).reshape(4, 6),
    ),
    (
        "permute",
        [(2, 3, 4)],
        lambda x: x.transpose(1, 2, 0),
        lambda x: x.permute(1, 2, 0),
        lambda x: x.permute(1, 2, 0),
    ),
    ("transpose", [(3, 5)], lambda x: x.T, lambda x: x.T, lambda x: x.T),
    ("expand", [(3, 1)], lambda x: np.broadcast_to(x, (3, 4)), lambda x: x.expand(3, 4), lambda x: x.expand(3, 4)),
    ("flatten", [(2, 3, 4)], lambda x: x.reshape(2, 12), lambda x: x.flatten(1), lambda x: x.flatten(1)),
    ("unsqueeze", [(3,)], lambda x: x[None], lambda x: x.unsqueeze(0), lambda x: x.unsqueeze(0)),
    ("squeeze", [(1, 3, 1)], lambda x: x.squeeze(), lambda x: x.squeeze(), lambda x: x.squeeze()),
    (
        "pad",
        [(2, 3)],
        lambda x: np.pad(x, ((1, 2), (0, 1))),
        lambda x: x.pad(((1, 2), (0, 1))),
        lambda x: torch.nn.functional.pad(x, (0, 1, 1, 2)),
    ),
    (
        "pad_value",
        [(2, 3)],
        lambda x: np.pad(x, ((1, 0), (2, 0)), constant_values=3.0),
        lambda x: x.pad(((1, 0), (2, 0)), value=3.0),
        lambda x: torch.nn.functional.pad(x, (2, 0, 1, 0), value=3.0),
    ),
    ("shrink", [(4, 5)], lambda x: x[1:3, 2:5], lambda x: x.shrink(((1, 3), (2, 5))), lambda x: x[1:3, 2:5]),
    ("flip", [(3, 4)], lambda x: np.flip(x, 1), lambda x: x.flip(1), lambda x: x.flip(1)),
    ("repeat", [(2, 3)], lambda x: np.tile(x, (2, 2)), lambda x: x.repeat(2, 2), lambda x: x.repeat(2, 2)),
    (
        "cat",
        [(2, 3), (4, 3)],
        lambda x, y: np.concatenate([x, y]),
        lambda x, y: x.cat(y),
        lambda x, y: torch.cat([x, y]),
    ),
    (
        "cat_dim1",
        [(2, 3), (2, 1)],
        lambda x, y: np.concatenate([x, y], 1),
        lambda x, y: x.cat(y, dim=1),
        lambda x, y: torch.cat([x, y], 1),
    ),
    (
        "stack",
        [(2, 3), (2, 3)],
        lambda x, y: np.stack([x, y], 1),
        lambda x, y: Tensor.stack(x, y, dim=1),
        lambda x, y: torch.stack([x, y], 1),
    ),
]


@pytest.mark.parametrize(("name", "shapes", "np_fn", "fn", "torch_fn"), MOVEMENT, ids=[m[0] for m in MOVEMENT])
def test_movement(device, name, shapes, np_fn, fn, torch_fn):
    check_op(shapes, np_fn, fn, torch_fn, device=device)


INDEXING = [
    ("int", lambda x: x[1]),
    ("negative", lambda x: x[-1, -2]),
    ("slice_step", lambda x: x[::2, 1::3]),
    ("slice_negative_step", lambda x: x[::-1, ::-2]),
    ("none_ellipsis", lambda x: x[None, ..., 1]),
    ("ellipsis_middle", lambda x: x[..., 1:3]),
    ("mixed", lambda x: x[1:, None, 2]),
]


@pytest.mark.parametrize(("name", "fn"), INDEXING, ids=[i[0] for i in INDEXING])
def test_basic_indexing(device, name, fn):
    torch_fn = None if name == "slice_negative_step" else fn  # torch has no negative steps
    check_op([(4, 5, 6)], fn, fn, torch_fn, device=device)


def test_advanced_indexing(device):
    x = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    t = Tensor(x, device=device)
    idx = np.array([2, 0, -1], dtype=np.int32)
    assert (t[Tensor(idx, device=device)].numpy() == x[idx]).all()
    assert (t[:, Tensor([[1, 3], [0, 0]], device=device)].numpy() == x[:, [[1, 3], [0, 0]]]).all()
    rows, cols = np.array([0, 2]), np.array([3, 1])
    assert (t[Tensor(rows, device=device), Tensor(cols, device=device)].numpy() == x[rows, cols]).all()
    assert (t[Tensor(rows, device=device), :, Tensor(cols, device=device)].numpy() == x[rows, :, cols]).all()
    assert (t[[1, 0]].numpy() == x[[1, 0]]).all()


def test_advanced_indexing_gradient(device):
    x = Tensor(np.arange(12, dtype=np.float32).reshape(4, 3), device=device, requires_grad=True)
    x[Tensor([0, 0, 2], device=device)].sum().backward()
    assert (x.grad.numpy() == np.array([[2] * 3, [0] * 3, [1] * 3, [0] * 3])).all()


def test_index_errors(device):
    t = Tensor.ones(3, 4, device=device)
    with pytest.raises(IndexError, match="out of bounds"):
        t[3]
    with pytest.raises(IndexError, match="too many indices"):
        t[0, 0, 0]
    with pytest.raises(IndexError, match="out of bounds"):  # checked on the device: raised at the next read
        t[Tensor([5], device=device)].numpy()


MATMUL = [
    ("2d", [(3, 4), (4, 5)]),
    ("1d_2d", [(4,), (4, 2)]),
    ("2d_1d", [(3, 4), (4,)]),
    ("1d_1d", [(4,), (4,)]),
    ("batched", [(2, 3, 4), (2, 4, 5)]),
    ("broadcast_batch", [(2, 1, 3, 4), (5, 4, 2)]),
]


@pytest.mark.parametrize(("name", "shapes"), MATMUL, ids=[m[0] for m in MATMUL])
def test_matmul(device, name, shapes):
    check_op(shapes, np.matmul, lambda x, y: x @ y, torch.matmul, device=device)


def test_matmul_shape_error(device):
    with pytest.raises(ValueError, match=r"matmul.*\(3, 4\).*\(5, 2\)"):
        Tensor.ones(3, 4, device=device) @ Tensor.ones(5, 2, device=device)


def test_broadcast_error_names_op_and_shapes(device):
    with pytest.raises(ValueError, match=r"add: shapes \(3,\) and \(4,\)"):
        Tensor.ones(3, device=device) + Tensor.ones(4, device=device)


@pytest.mark.parametrize("dtype", [dtypes.int8, dtypes.uint8, dtypes.int32, dtypes.int64, dtypes.uint32])
def test_integer_arithmetic(device, dtype):
    check_op([(20,), (20,)], lambda x, y: x + y, lambda x, y: x + y, device=device, dtype=dtype, low=0, high=50)
    check_op([(20,), (20,)], lambda x, y: x * y, lambda x, y: x * y, device=device, dtype=dtype, low=0, high=10)
    a, b = np.array([7, -7, 7, -7, 0], dtype=np.int32), np.array([2, 2, -2, -2, 3], dtype=np.int32)
    ta, tb = Tensor(a, device=device), Tensor(b, device=device)
    assert ((ta // tb).numpy() == a // b).all()
    assert ((ta % tb).numpy() == a % b).all()
    assert (ta.idiv(tb).numpy() == np.trunc(a / b)).all()


@pytest.mark.parametrize("dtype", [dtypes.float16, dtypes.float64, dtypes.int16])
def test_dtypes_flow(device, dtype):
    from tinygrad_core.devices import Device

    if dtype not in Device[device].dtypes:
        pytest.skip(f"{device} lacks {dtype}")
    check_op(
        [(5, 3), (5, 3)], lambda x, y: x * y + x, lambda x, y: x * y + x, device=device, dtype=dtype, low=0, high=5
    )


def test_comparisons_and_logic(device):
    a, b = np.array([1, 2, 3, 4]), np.array([4, 2, 1, 4])
    ta, tb = Tensor(a, device=device), Tensor(b, device=device)
    for np_fn, fn in [
        (np.less, Tensor.lt),
        (np.greater, Tensor.gt),
        (np.equal, Tensor.eq),
        (np.not_equal, Tensor.ne),
        (np.less_equal, Tensor.le),
        (np.greater_equal, Tensor.ge),
    ]:
        out = fn(ta, tb)
        assert out.dtype == dtypes.bool
        assert (out.numpy() == np_fn(a, b)).all()
    assert ((ta & 6).numpy() == (a & 6)).all()
    assert ((ta | tb).numpy() == (a | b)).all()
    assert ((ta ^ tb).numpy() == (a ^ b)).all()
    assert ((ta << 2).numpy() == (a << 2)).all()
    assert ((ta >> 1).numpy() == (a >> 1)).all()
    assert ((~ta).numpy() == ~a).all()


def test_argmax_argmin(device):
    x = np.array([[1, 5, 5, 2], [7, 0, 7, -1]], dtype=np.float32)
    t = Tensor(x, device=device)
    assert (t.argmax(1).numpy() == x.argmax(1)).all()
    assert (t.argmin(1).numpy() == x.argmin(1)).all()
    assert t.argmax().item() == x.argmax()
    assert t.argmax(0, keepdim=True).shape == (1, 4)
    assert t.argmax(1).dtype == dtypes.int32


def test_split_chunk(device):
    x = np.arange(10, dtype=np.float32)
    t = Tensor(x, device=device)
    assert [p.numpy().tolist() for p in t.split(4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [p.numpy().tolist() for p in t.split([2, 8])] == [[0, 1], list(range(2, 10))]
    assert [p.shape for p in t.chunk(3)] == [(4,), (4,), (2,)]


ZERO_SIZE = [
    ("add", [(0, 3), (0, 3)], lambda x, y: x + y),
    ("sum", [(0, 3)], lambda x: x.sum(0)),
    ("reshape", [(0, 4)], lambda x: x.reshape(2, 0, 2)),
    ("matmul", [(2, 0), (0, 3)], lambda x, y: x @ y),
]


@pytest.mark.parametrize(("name", "shapes", "fn"), ZERO_SIZE, ids=[z[0] for z in ZERO_SIZE])
def test_zero_size(device, name, shapes, fn):
    check_op(shapes, fn, fn, device=device)


def test_mean_of_ints_is_float(device):
    out = Tensor([1, 2, 4], device=device).mean()
    assert out.dtype == dtypes.float32
    assert out.item() == pytest.approx(7 / 3)
