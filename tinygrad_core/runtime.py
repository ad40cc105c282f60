"""The backend contract: Allocator and Device, the base classes every backend fills in, the Capabilities record a
device declares for code generation, and Buffer, the core's handle on device memory. Compiled backends build on
top of this with tinygrad_core.codegen (Compiler, Program, CompiledDevice); this module knows nothing of them."""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_core import flags
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

    def host_view(self, handle: Any, nbytes: int) -> memoryview | None:
        """The buffer's own memory as a writable host memoryview of nbytes, or None (the default) when it isn't
        host memory. Since plugin API 2.2; DLPack export (`np.from_dlpack(t)`) shares the memory it returns."""
        return None


class CachingAllocator(Allocator):
    """Keeps freed handles and gives them to the next allocation of the same size, like PyTorch's caching allocator:
    fresh memory costs a system call and a page fault per page on first touch, every step of a loop. A subclass
    implements `_alloc` and `_free`; at most `cache_limit` bytes (default: the ALLOC_CACHE_MB flag) wait for reuse,
    beyond that handles are freed."""

    cache_limit: int | None = None

    def __init__(self) -> None:
        self._cache: dict[int, list[Any]] = {}
        self._cached = 0
        self._lock = threading.Lock()  # threads allocate from one device at once

    def _alloc(self, nbytes: int) -> Any:
        raise NotImplementedError

    def _free(self, handle: Any, nbytes: int) -> None:
        """Release a handle for good; the default trusts the garbage collector."""

    def alloc(self, nbytes: int) -> Any:
        with self._lock:
            waiting = self._cache.get(nbytes)
            if waiting:
                self._cached -= nbytes
                return waiting.pop()
        return self._alloc(nbytes)

    def free(self, handle: Any, nbytes: int) -> None:
        with self._lock:
            limit = self.cache_limit if self.cache_limit is not None else flags.ALLOC_CACHE_MB.value << 20
            keep = self._cached + nbytes <= limit
            if keep:
                self._cache.setdefault(nbytes, []).append(handle)
                self._cached += nbytes
        if not keep:
            self._free(handle, nbytes)


@dataclass(frozen=True)
class Capabilities:
    """What code generation may assume of a device (tinygrad_core/codegen reads only this). A compiled backend fills
    it in; interpreters (CPU, TORCH) never read it. The defaults describe a plain, single-threaded C machine."""

    vector_bytes: int = 16  # the widest vector register codegen may fill (bytes): 16 SSE/NEON, 32 AVX2, 64 AVX-512
    threads: int = 1  # workers one kernel's outer loop may be split across (cores, or a GPU's parallel items)
    group_reductions: bool = False  # threadgroups sharing memory and a barrier (the renderer must spell them too)


class Device:
    """One device of a backend, e.g. OPENCL:1. A backend's factory builds it from its full name."""

    # dtypes this device computes with; the core raises a clear error before sending a kernel that uses another
    dtypes: frozenset[DType] = frozenset(ALL_DTYPES) - {dtypes.bfloat16}
    # why each missing dtype is missing, shown in that error and in the conformance kit's skips
    missing_dtype_reason: str = "not supported by this backend"
    # the largest buffer it can allocate, in bytes; None: as much as the host has. The kit sizes its tests by it.
    max_buffer_size: int | None = None
    # conformance-kit tests this backend is known to fail: {"level::test_name[params]" glob: reason}. The kit reports
    # each match as an expected failure with the reason, and fails once it passes, so stale entries get noticed.
    known_failures: dict[str, str] = {}  # noqa: RUF012 (read-only by convention; a backend replaces it)

    def __init__(self, name: str):
        self.name = name  # canonical "NAME:INDEX"
        self.allocator: Allocator = self.make_allocator()

    @property
    def capabilities(self) -> Capabilities:
        """What code generation may assume here (compiled backends override it; a property so it may follow
        flags such as THREADS)."""
        return Capabilities()

    def make_allocator(self) -> Allocator:
        raise NotImplementedError

    def run(self, kernel: Kernel, handles: list[Any]) -> None:
        """Execute one kernel. handles[i] is the allocator handle of kernel.bufs[i]; handles[0] is written."""
        raise NotImplementedError

    def bind(self, kernel: Kernel, handles: list[Any]) -> Callable[[], None]:
        """`run(kernel, handles)` prepared once, to be called many times (TinyJit replays these). The default defers
        to `run`; a device may do its per-launch work (finding the program, packing arguments) here instead."""
        return functools.partial(self.run, kernel, handles)

    def synchronize(self) -> None:
        """Wait until every launched kernel has finished (a no-op for synchronous backends)."""


class Buffer:
    """`size` elements of `dtype` on a device (`owner`, the Device object), allocated on first use and freed with
    the last reference."""

    def __init__(self, owner: Device, size: int, dtype: DType):
        self.owner, self.device, self.size, self.dtype = owner, owner.name, size, dtype
        self._handle: Any = None

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def handle(self) -> Any:
        if self._handle is None:
            allocator = self.owner.allocator
            self._handle = allocator.alloc(self.nbytes)
            weakref.finalize(self, allocator.free, self._handle, self.nbytes)
        return self._handle

    def copyin(self, data: np.ndarray) -> Buffer:
        host = np.ascontiguousarray(data, dtype=self.dtype.np).reshape(-1)
        assert host.size == self.size, f"copyin of {host.size} elements into a buffer of {self.size}"
        self.owner.allocator.copyin(self.handle, host.data.cast("B"))
        return self

    def numpy(self) -> np.ndarray:
        out = np.empty(self.size, dtype=self.dtype.np)
        if self.size:
            self.owner.synchronize()
            self.owner.allocator.copyout(out.data.cast("B"), self.handle)
        return out

    def __repr__(self) -> str:
        return f"<Buffer {self.device} {self.size} {self.dtype}>"
