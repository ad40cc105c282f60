"""The protocols numpy, PyTorch and Python users rely on, on every available backend: __array__, mixed arithmetic
with numpy arrays, one-element conversions and format, pickle and deepcopy, DLPack both ways."""

from __future__ import annotations

import copy
import operator
import pickle

import numpy as np
import pytest
import torch

from tinygrad_core import Device, Tensor, dtypes
from tinygrad_core.dtype import DType
from tinygrad_core.errors import DeviceError

VALUES = np.array([[1.5, -2.0, 0.25], [3.0, 4.0, -0.5]], np.float32)


def host_memory(device: str) -> bool:
    allocator = Device[device].allocator
    handle = allocator.alloc(4)
    try:
        return allocator.host_view(handle, 4) is not None
    finally:
        allocator.free(handle, 4)


def test_array_protocol(device: str) -> None:
    t = Tensor(VALUES, device=device)
    out = np.asarray(t)
    assert out.dtype == np.float32
    assert out.shape == (2, 3)
    np.testing.assert_array_equal(out, VALUES)
    np.testing.assert_array_equal(np.array(t, dtype=np.int64), VALUES.astype(np.int64))
    np.testing.assert_array_equal(np.asarray(Tensor(VALUES, device=device)[:, 1]), VALUES[:, 1])  # a view
    assert np.asarray(Tensor.zeros(0, 3, device=device)).shape == (0, 3)
    with pytest.raises(ValueError, match="copied off its device"):
        np.asarray(t, copy=False)


def test_arithmetic_with_numpy_arrays(device: str) -> None:
    t = Tensor(VALUES, device=device)
    row = np.array([1.0, 2.0, 3.0], np.float32)
    for result, expected in [
        (t + row, VALUES + row),
        (row + t, row + VALUES),
        (row - t, row - VALUES),
        (row * t, row * VALUES),
        (np.ones((3, 2), np.float32) @ t, np.ones((3, 2), np.float32) @ VALUES),
        (t @ np.ones((3, 1), np.float32), VALUES @ np.ones((3, 1), np.float32)),
        (np.float32(2) * t, 2 * VALUES),
        (t * np.array(3.0), 3 * VALUES),  # a 0-d array acts as a scalar: float32 stays float32
    ]:
        assert isinstance(result, Tensor)
        assert result.device == device
        np.testing.assert_allclose(result.numpy(), expected, rtol=1e-6)
    assert (t * np.array(3.0)).dtype == dtypes.float32
    compared = row > t
    assert isinstance(compared, Tensor)
    assert compared.dtype == dtypes.bool
    np.testing.assert_array_equal(compared.numpy(), row > VALUES)


def test_one_element_conversions(device: str) -> None:
    t = Tensor(VALUES, device=device)
    assert float(t[0, 0]) == 1.5
    assert int(t[1, 1]) == 4
    assert bool(t[0, 0]) is True
    assert operator.index(Tensor([7], device=device)) == 7
    assert [10, 20, 30][Tensor(2, device=device)] == 30
    with pytest.raises(TypeError, match="slice bounds must be ints"):  # tinygrad's rule for our own indexing
        t[: Tensor([1], device=device)]
    assert f"{t.sum():.2f}" == "6.25"
    assert format(t, "") == str(t)
    with pytest.raises(TypeError, match=r"one element, got shape \(2, 3\)"):
        float(t)
    with pytest.raises(TypeError, match="one element"):
        int(t)
    with pytest.raises(TypeError, match="one element"):
        f"{t:.2f}"
    with pytest.raises(TypeError, match="integer tensors"):
        operator.index(Tensor(1.0, device=device))


@pytest.mark.parametrize("dtype", [dtypes.float32, dtypes.int32, dtypes.bool, dtypes.float16], ids=str)
def test_pickle(device: str, dtype: DType) -> None:
    if dtype not in Device[device].dtypes:
        pytest.skip(f"{device} has no {dtype}")
    t = Tensor(VALUES, device=device).cast(dtype)
    back = pickle.loads(pickle.dumps(t))
    assert (back.device, back.dtype, back.shape) == (device, dtype, t.shape)
    np.testing.assert_array_equal(back.numpy(), t.numpy())
    lazy = Tensor(VALUES, device=device, requires_grad=True) * 2  # unrealized: pickling computes it
    back = pickle.loads(pickle.dumps(lazy))
    np.testing.assert_array_equal(back.numpy(), VALUES * 2)


def test_deepcopy(device: str) -> None:
    t = Tensor(VALUES, device=device, requires_grad=True)
    (t * t).sum().backward()
    twin = copy.deepcopy(t)
    assert twin is not t
    assert (twin.requires_grad, twin.device) == (True, device)
    np.testing.assert_array_equal(twin.numpy(), VALUES)
    assert twin.grad is not None
    assert twin.grad is not t.grad
    np.testing.assert_allclose(twin.grad.numpy(), 2 * VALUES)
    twin.assign(Tensor.zeros(2, 3, device=device)).realize()  # a buffer of its own: the original is untouched
    np.testing.assert_array_equal(t.numpy(), VALUES)
    params = copy.deepcopy({"w": t, "same": t})
    assert params["w"] is params["same"]


def test_dlpack_export(device: str) -> None:
    t = Tensor(VALUES, device=device) + 1
    np.testing.assert_array_equal(np.from_dlpack(t), VALUES + 1)
    np.testing.assert_array_equal(torch.from_dlpack(t).numpy(), VALUES + 1)
    np.testing.assert_array_equal(np.from_dlpack(t, copy=True), VALUES + 1)
    assert np.from_dlpack(Tensor.zeros(0, 2, device=device)).shape == (0, 2)
    if host_memory(device):
        with pytest.raises(BufferError, match="view of part of a buffer"):
            np.from_dlpack(t.realize()[:, 1], copy=False)  # its values sit apart in the buffer: only a copy has them
        shared = np.from_dlpack(t, copy=False)
        shared[0, 0] = 42.0  # zero-copy: the tensor's own memory
        assert t.numpy()[0, 0] == 42.0
        view = torch.from_dlpack(t)
        del t
        assert view[0, 0].item() == 42.0  # the buffer outlives the tensor while torch holds it
    else:
        with pytest.raises(BufferError, match="not host memory"):
            np.from_dlpack(t, copy=False)


def test_dlpack_import(device: str) -> None:
    source = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    for t in (Tensor(source, device=device), Tensor.from_dlpack(source, device=device)):
        assert (t.device, t.dtype, t.shape) == (device, dtypes.float32, (2, 3))
        np.testing.assert_array_equal(t.numpy(), source.numpy())
    assert Tensor(torch.tensor([1, 2]), device=device).dtype == dtypes.int64
    assert Tensor(source, device=device, dtype=dtypes.int32).tolist() == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(DeviceError, match=r"detach\(\)"):
        Tensor(torch.ones(2, requires_grad=True), device=device)


def test_bfloat16_dlpack_is_refused() -> None:
    with pytest.raises(BufferError, match="bfloat16"):
        np.from_dlpack(Tensor([1.0], device="CPU", dtype=dtypes.bfloat16))
