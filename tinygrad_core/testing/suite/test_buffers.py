"""Level 'buffers': the allocator and Buffer: alloc, copy in, copy out, free; sizes 0, 1 and large; every dtype."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_core.devices import Device
from tinygrad_core.dtype import ALL_DTYPES, DType, dtypes
from tinygrad_core.runtime import Buffer
from tinygrad_core.tensor import Tensor
from tinygrad_core.testing import dtype_name, require
from tinygrad_core.testing.kernels import sample

pytestmark = pytest.mark.kit("buffers")
LARGE = 64 << 20  # bytes; a backend declaring a smaller max_buffer_size gets that instead


def _roundtrip(device: str, host: np.ndarray) -> np.ndarray:
    """Through the allocator alone: alloc, copyin, copyout, free."""
    allocator = Device[device].allocator
    handle = allocator.alloc(host.nbytes)
    allocator.copyin(handle, np.ascontiguousarray(host).data.cast("B"))
    out = np.empty_like(host)
    Device[device].synchronize()
    allocator.copyout(out.data.cast("B"), handle)
    allocator.free(handle, host.nbytes)
    return out


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
def test_roundtrip(device: str, dtype: DType) -> None:
    require(device, dtype)
    host = sample(dtype, (257,), seed=1)
    np.testing.assert_array_equal(_roundtrip(device, host).view(np.uint8), host.view(np.uint8))


@pytest.mark.parametrize("size", [0, 1, 3, 4097])
def test_sizes(device: str, size: int) -> None:
    for dtype in (dtypes.uint8, dtypes.float32):
        host = sample(dtype, (size,), seed=size)
        buf = Buffer(Device[device], size, dtype)
        if size:
            buf.copyin(host)
        else:
            buf.handle  # noqa: B018  (allocating zero bytes must work too)
        np.testing.assert_array_equal(buf.numpy(), host)


def test_empty_copies(device: str) -> None:
    """Zero-byte buffers copy nothing and break nothing: the allocator serves a real buffer right after."""
    allocator = Device[device].allocator
    handle = allocator.alloc(0)
    allocator.copyin(handle, memoryview(b""))
    out = bytearray()
    allocator.copyout(memoryview(out), handle)
    allocator.free(handle, 0)
    assert out == bytearray()
    host = np.arange(16, dtype=np.uint8)
    np.testing.assert_array_equal(_roundtrip(device, host), host)
    assert Tensor(np.zeros((0, 3), np.float32), device=device).numpy().shape == (0, 3)


def test_large(device: str) -> None:
    limit = Device[device].max_buffer_size
    nbytes = LARGE if limit is None else min(LARGE, limit)
    # a pattern with a prime period, so a buffer read at a wrong offset can't look right
    host = np.resize(np.random.default_rng(0).integers(0, 256, 4099, dtype=np.uint8), nbytes)
    out = _roundtrip(device, host)
    assert out.nbytes == nbytes
    np.testing.assert_array_equal(out, host)


def test_buffers_are_independent(device: str) -> None:
    bufs = [Buffer(Device[device], 100, dtypes.int32).copyin(np.full(100, i, np.int32)) for i in range(8)]
    for i, buf in enumerate(bufs):
        np.testing.assert_array_equal(buf.numpy(), np.full(100, i, np.int32))


def test_copyin_overwrites(device: str) -> None:
    buf = Buffer(Device[device], 64, dtypes.float32).copyin(np.zeros(64, np.float32))
    buf.copyin(np.arange(64, dtype=np.float32))
    np.testing.assert_array_equal(buf.numpy(), np.arange(64, dtype=np.float32))


def test_free_and_allocate_again(device: str) -> None:
    """64 rounds of allocate, fill, read back and free: every round reads its own values (a freed handle that is
    reused is written anew, never one still read from)."""
    allocator = Device[device].allocator
    for i in range(64):
        handle = allocator.alloc(1 << 20)
        allocator.copyin(handle, np.full(1 << 20, i, np.uint8).data)
        out = np.empty(1 << 20, np.uint8)
        allocator.copyout(out.data, handle)
        assert (out == i).all(), f"round {i} read back {np.unique(out)[:4]}"
        allocator.free(handle, 1 << 20)


def test_host_view(device: str) -> None:
    """A host view (plugin API 2.2, optional) is the buffer's own memory: what copyin wrote is seen there, and what is
    written there is what copyout reads."""
    allocator = Device[device].allocator
    handle = allocator.alloc(64)
    allocator.copyin(handle, np.arange(64, dtype=np.uint8).data)
    view = allocator.host_view(handle, 64)
    if view is None:
        allocator.free(handle, 64)
        pytest.skip(f"{device}'s memory is not host memory (host_view returns None)")
    Device[device].synchronize()
    host = np.frombuffer(view, np.uint8)
    assert len(host) == 64
    assert not view.readonly
    np.testing.assert_array_equal(host, np.arange(64, dtype=np.uint8))
    host[:] = 7
    out = np.empty(64, np.uint8)
    allocator.copyout(out.data, handle)
    assert (out == 7).all()
    allocator.free(handle, 64)


@pytest.mark.parametrize("dtype", [d for d in ALL_DTYPES if d != dtypes.bfloat16], ids=dtype_name)
def test_tensor_roundtrip(device: str, dtype: DType) -> None:
    require(device, dtype)
    host = sample(dtype, (3, 5), seed=2)
    out = Tensor(host, device=device).numpy()
    assert out.dtype == host.dtype
    np.testing.assert_array_equal(out, host)


def test_copy_between_devices(device: str) -> None:
    others = _other_devices(device)
    if not others:
        pytest.skip(f"no second device to copy to from {device}")
    host = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for other in others:
        there = Tensor(host, device=device).to(other)
        assert there.device == other
        back = (there + 1).to(device)
        np.testing.assert_array_equal(back.numpy(), host + 1)


def _other_devices(device: str) -> list[str]:
    """Another index of the same backend, when it has one, and the other available backends."""
    from tinygrad_core.devices import _load_target

    base = Device.canonicalize(device).partition(":")[0]
    spec = next(s for s in Device.backends() if s.name == base)
    count = 2 if spec.device_count is None else int(_load_target(spec.device_count)())
    others = [f"{base}:1"] if count > 1 and Device.canonicalize(device) != f"{base}:1" else []
    available = [s.name for s in Device.backends() if s.name != base and s.priority >= 0]
    return others + [name for name in available if Device.why_unavailable(name) is None][:1]
