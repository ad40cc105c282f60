"""Tensor's side of the protocols Python, numpy and PyTorch speak: `np.asarray(t)`, `float(t)`/`int(t)`/`format(t)`,
pickle and deepcopy, and DLPack both ways (zero-copy out of devices whose memory is host memory)."""

from __future__ import annotations

import copy as copy_module
import typing
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_core.dtype import dtypes
from tinygrad_core.errors import DeviceError
from tinygrad_core.schedule import realize
from tinygrad_core.tensor.checks import verify

if TYPE_CHECKING:
    from tinygrad_core.runtime import Buffer
    from tinygrad_core.tensor.tensor import Tensor

KDL_CPU = 1  # DLPack's device type for host memory


def from_dlpack_host(x: Any) -> np.ndarray:
    """A DLPack producer's values as a numpy array in host memory (a view of them where the producer allows)."""
    try:
        return np.from_dlpack(x)
    except (BufferError, RuntimeError, TypeError, ValueError) as e:
        raise DeviceError(
            f"from_dlpack: can't read a {type(x).__name__} as host memory ({e}); move it to the CPU first "
            "(for PyTorch: x.detach().cpu())"
        ) from None


class _SharedMemory:
    """What numpy sees of a buffer shared with it: the memory, and the Buffer that owns it, kept alive (not freed or
    reused by the allocator) as long as any array or DLPack consumer still points into it."""

    def __init__(self, buffer: Buffer, view: memoryview, shape: tuple[int, ...], dtype: np.dtype):
        self.buffer = buffer
        self.__array_interface__ = {"shape": shape, "typestr": dtype.str, "data": view, "version": 3}


def _shared_array(t: Tensor, copy: bool | None) -> np.ndarray | None:
    """t's values as a numpy array sharing the device buffer's memory, or None where the device can't share. A view
    of part of a buffer is copied into one of its own first, which `copy=False` forbids (BufferError)."""
    t.realize()
    verify()
    lazy = t.lazydata
    if not (lazy.st.contiguous and lazy.base.size == lazy.size and lazy.base.realized):
        if copy is False:
            raise BufferError(f"a view of part of a buffer (shape {t.shape}) can't be shared without a copy")
        lazy = lazy.contiguous(force=True)
        realize(lazy)
    buffer = lazy.base.buffer
    assert buffer is not None
    view = buffer.owner.allocator.host_view(buffer.handle, buffer.nbytes)
    if view is None:
        return None
    buffer.owner.synchronize()
    return np.asarray(_SharedMemory(buffer, view, t.shape, np.dtype(t.dtype.np)))


def _rebuild(cls: type[Tensor], values: np.ndarray, dtype: str, device: str, requires_grad: bool | None) -> Tensor:
    return cls(values, device=device, dtype=getattr(dtypes, dtype), requires_grad=requires_grad)


class InteropMixin:
    # numpy leaves `array + tensor` (and every other ufunc) to Tensor's reflected operators: the result is a Tensor
    __array_ufunc__ = None

    def __array__(self: Any, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """`np.asarray(t)`: the values, copied off the device (`np.from_dlpack(t)` shares them where it can)."""
        if copy is False:
            raise ValueError(
                "np.asarray(t, copy=False): a Tensor's values are copied off its device; "
                "np.from_dlpack(t) shares them on devices whose memory is host memory"
            )
        values = self.numpy()
        return values if dtype is None else values.astype(dtype, copy=False)

    def _only_element(self: Any, what: str) -> Any:
        if self.numel() != 1:
            raise TypeError(f"{what} needs a tensor with one element, got shape {self.shape}")
        return self.item()

    def __float__(self) -> float:
        return float(self._only_element("float(tensor)"))

    def __int__(self) -> int:
        return int(self._only_element("int(tensor)"))

    def __index__(self: Any) -> int:
        if not (dtypes.is_int(self.dtype) or self.dtype == dtypes.bool):
            raise TypeError(f"only integer tensors of one element can be used as an index, got {self.dtype}")
        return int(self._only_element("an index"))

    def __format__(self, spec: str) -> str:
        """`f"{loss:.3f}"` on a one-element tensor formats its value; an empty spec is str(t) for any tensor."""
        return str(self) if not spec else format(self._only_element(f"format spec {spec!r}"), spec)

    # --- pickle, copy ---
    def __reduce__(self: Any) -> tuple[Any, ...]:
        """Pickled as its values, dtype, device and requires_grad (the autodiff graph and .grad are not kept)."""
        return _rebuild, (type(self), self.numpy(), self.dtype.name, self.device, self.requires_grad)

    def __deepcopy__(self: Any, memo: dict[int, Any]) -> Tensor:
        """A new buffer with the same values, requires_grad and (deep-copied) .grad, as in PyTorch."""
        out = self.detach().clone()
        out.requires_grad = self.requires_grad
        memo[id(self)] = out
        if self.grad is not None:
            out.grad = copy_module.deepcopy(self.grad, memo)
        return out

    # --- DLPack ---
    def __dlpack_device__(self) -> tuple[int, int]:
        return (KDL_CPU, 0)  # what __dlpack__ hands out is host memory: the device's own, or a copy of it

    def __dlpack__(
        self: Any,
        *,
        stream: Any = None,
        max_version: tuple[int, int] | None = None,
        dl_device: tuple[int, int] | None = None,
        copy: bool | None = None,
    ) -> Any:
        """DLPack export: zero-copy on devices whose allocator shares host memory (CPU, CLANG, TORCH on the CPU);
        elsewhere a copy, or BufferError when `copy=False` forbids one."""
        if self.dtype == dtypes.bfloat16:
            raise BufferError("DLPack export of bfloat16 needs a consumer that reads it; cast to float32 first")
        shared = None if copy or 0 in self.shape else _shared_array(self, copy)
        if shared is None:
            if copy is False:
                raise BufferError(
                    f"{self.device}'s memory is not host memory, so DLPack can't share it without a copy; "
                    "pass copy=None (or True), or move the tensor to a host-memory device such as CLANG first"
                )
            shared = self.numpy()
        return shared.__dlpack__(stream=stream, max_version=max_version, dl_device=dl_device)

    @classmethod
    def from_dlpack(cls, x: Any, device: str | None = None) -> Tensor:
        """A Tensor with the values of any DLPack producer in host memory (numpy, PyTorch on the CPU, ...). The
        values are copied once into the device's memory. `Tensor.from_dlpack(np.arange(3)).tolist()` -> [0, 1, 2]"""
        return typing.cast("type[Tensor]", cls)(from_dlpack_host(x), device=device)
