"""Base classes a backend fills in (Allocator, Device) and Buffer, the core's handle on device memory."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_core.dtype import ALL_DTYPES, DType, dtypes

if TYPE_CHECKING:
    from tinygrad_core.kernel import Kernel


class Allocator:
    """Device memory. Handles are opaque to the core: whatever `alloc` returns is passed back to the others."""

    def alloc(self, nbytes: int) -> Any:
        raise NotImplementedError

    def free(self, handle: Any, nbytes: int) -> None:
        """Release a handle; the default trusts the garbage collector."""

    def copyin(self, handle: Any, src: memoryview) -> None:
        """Copy `src` (exactly the buffer's nbytes) from host memory into the buffer."""
        raise NotImplementedError

    def copyout(self, dest: memoryview, handle: Any) -> None:
        """Copy the whole buffer into `dest` (writable, exactly nbytes) in host memory."""
        raise NotImplementedError


class Device:
    """One device of a backend, e.g. OPENCL:1. A backend's factory builds it from its full name."""

    # dtypes this device computes with; the core raises a clear error before sending a kernel that uses another
    dtypes: frozenset[DType] = frozenset(ALL_DTYPES) - {dtypes.bfloat16}
    # why each missing dtype is missing, shown in that error and in the conformance kit's skips
    missing_dtype_reason: str = "not supported by this backend"

    def __init__(self, name: str):
        self.name = name  # canonical "NAME:INDEX"
        self.allocator: Allocator = self.make_allocator()

    def make_allocator(self) -> Allocator:
        raise NotImplementedError

    def run(self, kernel: Kernel, handles: list[Any]) -> None:
        """Execute one kernel. handles[i] is the allocator handle of kernel.bufs[i]; handles[0] is written."""
        raise NotImplementedError

    def synchronize(self) -> None:
        """Wait until every launched kernel has finished (a no-op for synchronous backends)."""


class Buffer:
    """`size` elements of `dtype` on a device, allocated on first use and freed with the last reference."""

    def __init__(self, device: str, size: int, dtype: DType):
        self.device, self.size, self.dtype = device, size, dtype
        self._handle: Any = None

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def handle(self) -> Any:
        if self._handle is None:
            from tinygrad_core.devices import Device

            allocator = Device[self.device].allocator
            self._handle = allocator.alloc(self.nbytes)
            weakref.finalize(self, allocator.free, self._handle, self.nbytes)
        return self._handle

    def copyin(self, data: np.ndarray) -> Buffer:
        from tinygrad_core.devices import Device

        host = np.ascontiguousarray(data, dtype=self.dtype.np).reshape(-1)
        assert host.size == self.size, f"copyin of {host.size} elements into a buffer of {self.size}"
        Device[self.device].allocator.copyin(self.handle, memoryview(host).cast("B"))
        return self

    def numpy(self) -> np.ndarray:
        from tinygrad_core.devices import Device

        out = np.empty(self.size, dtype=self.dtype.np)
        if self.size:
            Device[self.device].synchronize()
            Device[self.device].allocator.copyout(memoryview(out).cast("B"), self.handle)
        return out

    def __repr__(self) -> str:
        return f"<Buffer {self.device} {self.size} {self.dtype}>"
