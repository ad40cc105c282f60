"""Tensor creation, conversion, devices, autodiff bookkeeping and the README's first snippet."""

import numpy as np
import pytest
import torch

from tinygrad_core import Tensor, dtypes, no_grad


def test_readme_snippet(device):
    a = Tensor([1, 2, 3], device=device)
    b = Tensor.zeros(3, device=device)
    c = Tensor.rand(2, 3, device=device)
    d = (a + b) * 2
    f = a @ Tensor([[1], [2], [3]], device=device)
    assert d.numpy().tolist() == [2.0, 4.0, 6.0]
    assert f.numpy().tolist() == [14]
    assert (c.shape, c.dtype, c.device) == ((2, 3), dtypes.float32, device)
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    y = (x * 2).sum()
    y.backward()
    assert x.grad.numpy().tolist() == [2.0, 2.0, 2.0]
    y.backward()
    assert x.grad.numpy().tolist() == [4.0, 4.0, 4.0]


@pytest.mark.parametrize(
    ("data", "dtype", "shape"),
    [
        ([1, 2, 3], dtypes.int32, (3,)),
        ([1.0, 2], dtypes.float32, (2,)),
        ([[True], [False]], dtypes.bool, (2, 1)),
        (3, dtypes.int32, ()),
        (2.5, dtypes.float32, ()),
        (np.arange(4, dtype=np.int64), dtypes.int64, (4,)),
        (np.zeros((2, 0), np.float32), dtypes.float32, (2, 0)),
        (np.float64(1.5), dtypes.float64, ()),
        (np.array(3.0, np.float32), dtypes.float32, ()),
    ],
)
def test_creation_from_data(device, data, dtype, shape):
    t = Tensor(data, device=device)
    assert (t.dtype, t.shape) == (dtype, shape)
    np.testing.assert_array_equal(t.numpy(), np.array(data, dtype=dtype.np))


def test_creation_functions(device):
    assert Tensor.full((2, 3), 7, device=device).numpy().tolist() == [[7] * 3] * 2
    assert Tensor.ones(2, 2, device=device).dtype == dtypes.float32
    assert Tensor.empty(2, 3, device=device).shape == (2, 3)
    assert Tensor.arange(1, 7, 2, device=device).tolist() == [1, 3, 5]
    assert Tensor.arange(0, 1, 0.25, device=device).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert Tensor.arange(5, device=device).dtype == dtypes.int32
    np.testing.assert_allclose(Tensor.linspace(-1, 1, 5, device=device).numpy(), np.linspace(-1, 1, 5))
    np.testing.assert_array_equal(Tensor.eye(3, 4, device=device).numpy(), np.eye(3, 4))
    t = Tensor([[1, 2]], device=device)
    assert t.zeros_like().tolist() == [[0, 0]]
    assert t.ones_like().dtype == dtypes.int32
    assert t.full_like(5).tolist() == [[5, 5]]


def test_random_is_seeded_and_in_range(device):
    Tensor.manual_seed(42)
    first = Tensor.rand(100, device=device).numpy()
    Tensor.manual_seed(42)
    assert (Tensor.rand(100, device=device).numpy() == first).all()
    assert first.min() >= 0
    assert first.max() < 1
    ints = Tensor.randint(1000, low=-3, high=4, device=device).numpy()
    assert ints.min() >= -3
    assert ints.max() <= 3
    assert ints.dtype == np.int32
    normal = Tensor.normal(10000, mean=2.0, std=0.5, device=device).numpy()
    assert abs(normal.mean() - 2.0) < 0.05
    assert abs(normal.std() - 0.5) < 0.05
    uniform = Tensor.uniform(1000, low=-2, high=-1, device=device).numpy()
    assert uniform.min() >= -2
    assert uniform.max() < -1
    assert Tensor.randn(3, 4, device=device).shape == (3, 4)


def test_scalar_promotion(device):
    assert (Tensor([1, 2], device=device) + 1.5).dtype == dtypes.float32
    assert (Tensor([1, 2], device=device) * 2).dtype == dtypes.int32
    assert (Tensor([True], device=device) + 1).dtype == dtypes.int32
    assert (Tensor([1.0], device=device, dtype=dtypes.float16) * 2.0).dtype == dtypes.float16
    assert (
        Tensor([1], device=device, dtype=dtypes.int8) + Tensor([1], device=device, dtype=dtypes.uint8)
    ).dtype == dtypes.int16
    assert (Tensor([1, 2], device=device) / 2).dtype == dtypes.float32
    assert (2 - Tensor([1.0], device=device)).tolist() == [1.0]


def test_conversions(device):
    t = Tensor([[1, 2], [3, 4]], device=device)
    assert t.tolist() == [[1, 2], [3, 4]]
    assert Tensor([5], device=device).item() == 5
    assert len(t) == 2
    assert [row.tolist() for row in t] == [[1, 2], [3, 4]]
    assert "Tensor([[1, 2]," in repr(t)
    assert "int" in repr(t)
    assert "shape=(100, 100)" in repr(Tensor.zeros(100, 100, device=device))
    with pytest.raises(ValueError, match="one element"):
        t.item()
    assert t.cast(dtypes.float32).dtype == dtypes.float32


def test_backward_needs_scalar(device):
    x = Tensor([1.0, 2.0], requires_grad=True, device=device)
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*gradient"):
        (x * 2).backward()
    (x * 2).backward(Tensor([1.0, 0.5], device=device))
    assert x.grad.tolist() == [2.0, 1.0]


def test_detach_and_no_grad(device):
    x = Tensor([1.0, 2.0], requires_grad=True, device=device)
    y = (x.detach() * 3 + x).sum()
    y.backward()
    assert x.grad.tolist() == [1.0, 1.0]
    with no_grad():
        z = x * 2
    assert z._ctx is None
    Tensor.no_grad = True
    try:
        assert (x * 2)._ctx is None
    finally:
        Tensor.no_grad = False


def test_gradient_function_leaves_grad_alone(device):
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    (dx,) = (x * x).sum().gradient(x)
    assert dx.tolist() == [2.0, 4.0, 6.0]
    assert x.grad is None


def test_training_flag():
    assert Tensor.training is False
    with Tensor.train():
        assert Tensor.training is True
    assert Tensor.training is False


def test_gradient_through_reused_and_viewed_tensors(device):
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)
    a, b = Tensor(a_np, requires_grad=True, device=device), Tensor(b_np, requires_grad=True, device=device)
    ta, tb = torch.tensor(a_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)
    for lib_a, lib_b in [(a, b), (ta, tb)]:
        h = (lib_a @ lib_b).relu()
        out = (h * h.T.T + lib_a[:, :2] * 3).sum() + lib_a.max()
        out.backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_assign_updates_in_place(device):
    w = Tensor([1.0, 2.0], device=device).realize()
    buffer = w.lazydata.base.buffer
    w.assign(w * 2 + 1).realize()
    assert w.tolist() == [3.0, 5.0]
    assert w.lazydata.base.buffer is buffer
    w.assign(w.flip(0)).realize()  # reads its own memory through a view: still correct
    assert w.tolist() == [5.0, 3.0]


def test_mixing_devices_is_an_error(device):
    from tinygrad_core.devices import Device
    from tinygrad_core.errors import DeviceError

    other = f"{device.split(':')[0]}:1"
    try:
        Device[other]
    except DeviceError:
        pytest.skip(f"{device} has a single device")
    with pytest.raises(DeviceError, match="different devices"):
        Tensor([1], device=device) + Tensor([1], device=other)
    moved = Tensor([1, 2], device=device).to(other)
    assert moved.device == other
    assert moved.tolist() == [1, 2]
