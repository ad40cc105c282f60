"""Tensors on several devices of this process (data parallelism): shard() and shard_(), and the helpers tensor.py
calls for a tensor whose lazydata is a MultiLazyBuffer (tinygrad_core/multi.py, docs/multi.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_core.devices import Device
from tinygrad_core.dtype import DType, to_dtype
from tinygrad_core.errors import DeviceError
from tinygrad_core.lazy import LazyBuffer
from tinygrad_core.multi import MultiLazyBuffer
from tinygrad_core.schedule import realize

if TYPE_CHECKING:
    from tinygrad_core.tensor.tensor import Tensor


def canonical_devices(devices: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(Device.canonicalize(device) for device in devices)
    if not names or len(set(names)) != len(names):
        raise DeviceError(f"a tensor on several devices needs distinct devices, got {devices}")
    return names


def multi_data(
    cls: type[Tensor], data: Any, device: str | tuple[str, ...] | None, dtype: DType | str | None
) -> LazyBuffer | MultiLazyBuffer:
    """What Tensor(data, device, dtype) holds when data is a MultiLazyBuffer or device a tuple: data made on the
    first device and replicated, or a MultiLazyBuffer moved where asked."""
    if not isinstance(data, MultiLazyBuffer):
        assert isinstance(device, tuple)
        devices = canonical_devices(device)
        return MultiLazyBuffer.shard(cls(data, device=devices[0], dtype=dtype).lazydata, devices, None)
    multi = data if dtype is None else data.cast(to_dtype(dtype))
    if device is None:
        return multi
    if isinstance(device, str):
        return multi.copy_to_device(Device.canonicalize(device))
    devices = canonical_devices(device)
    return multi if devices == multi.device else MultiLazyBuffer.shard(multi.copy_to_device(devices[0]), devices, None)


def to_devices(self: Tensor, device: str | tuple[str, ...]) -> Tensor:
    """Tensor.to when the tensor or the destination spans several devices: replicate, or gather onto one device.
    Like Tensor.to, the result is a new leaf (requires_grad kept, the graph not), and .grad moves along."""
    if isinstance(device, tuple):
        devices = canonical_devices(device)
        if isinstance(self.lazydata, MultiLazyBuffer) and self.lazydata.device == devices:
            return self
        return self.shard(devices)
    lazy = self.lazydata
    assert isinstance(lazy, MultiLazyBuffer)
    name = Device.canonicalize(device)
    out = type(self)(lazy.copy_to_device(name), device=name, requires_grad=self.requires_grad)
    if self.grad is not None:
        out.grad = self.grad.to(name)
    return out


def gathered_numpy(self: Tensor) -> np.ndarray:
    """Tensor.numpy of a tensor on several devices: every device's part computed in one schedule, read back and
    put together on the host (a replicated tensor is read from its first device)."""
    lazy = self.lazydata
    assert isinstance(lazy, MultiLazyBuffer)
    parts = [lb.contiguous() for lb in (lazy.lbs if lazy.axis is not None else lazy.lbs[:1])]
    realize(*parts)
    arrays = [type(self)(part, device=part.device).numpy() for part in parts]
    return arrays[0] if lazy.axis is None else np.concatenate(arrays, axis=lazy.axis)


def shard(self: Tensor, devices: tuple[str, ...], axis: int | None = None) -> Tensor:
    """This tensor on several devices: split along `axis` in ceil-div chunks, one per device, or a whole copy on
    each (axis None). A new leaf, like Tensor.to; .grad is sharded alike.

    `Tensor([1, 2, 3]).shard(("CPU:0", "CPU:1"), axis=0).device` -> ('CPU', 'CPU:1')"""
    names = canonical_devices(tuple(devices))
    resolved = None if axis is None else self._axis(axis)
    lazy = self.lazydata
    if isinstance(lazy, MultiLazyBuffer) and lazy.device == names:
        multi = lazy.to_layout(resolved)
    else:
        single = lazy.copy_to_device(names[0]) if isinstance(lazy, MultiLazyBuffer) else lazy
        multi = MultiLazyBuffer.shard(single, names, resolved)
    out = type(self)(multi, requires_grad=self.requires_grad)
    if self.grad is not None:
        out.grad = self.grad.shard(names, resolved)
    return out


def shard_(self: Tensor, devices: tuple[str, ...], axis: int | None = None) -> Tensor:
    """shard() in place: this tensor (and its .grad) now lives on `devices`. Returns self."""
    moved = self.shard(devices, axis)
    self.lazydata, self.grad = moved.lazydata, moved.grad
    return self


class MultiMixin:
    """Tensor's multi-device methods: the functions above, bound by Tensor, which inherits this class."""

    shard = shard
    shard_ = shard_
