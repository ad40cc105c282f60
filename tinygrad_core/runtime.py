"""Base classes a backend fills in (Allocator, Device; Compiler, Program, CompiledDevice) and Buffer, the core's
handle on device memory. The compile cache lives here too."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_core import flags
from tinygrad_core.dtype import ALL_DTYPES, DType, dtypes
from tinygrad_core.errors import DeviceError

if TYPE_CHECKING:
    from tinygrad_core.codegen import CompiledKernel
    from tinygrad_core.codegen.cstyle import CStyleRenderer
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


class CachingAllocator(Allocator):
    """Keeps freed handles and gives them to the next allocation of the same size, like PyTorch's caching allocator:
    fresh memory costs a system call and a page fault per page on first touch, every step of a loop. A subclass
    implements `_alloc` and `_free`; at most `cache_limit` bytes wait for reuse, beyond that handles are freed."""

    cache_limit = 1 << 30

    def __init__(self) -> None:
        self._cache: dict[int, list[Any]] = {}
        self._cached = 0

    def _alloc(self, nbytes: int) -> Any:
        raise NotImplementedError

    def _free(self, handle: Any, nbytes: int) -> None:
        """Release a handle for good; the default trusts the garbage collector."""

    def alloc(self, nbytes: int) -> Any:
        waiting = self._cache.get(nbytes)
        if waiting:
            self._cached -= nbytes
            return waiting.pop()
        return self._alloc(nbytes)

    def free(self, handle: Any, nbytes: int) -> None:
        if self._cached + nbytes <= self.cache_limit:
            self._cache.setdefault(nbytes, []).append(handle)
            self._cached += nbytes
        else:
            self._free(handle, nbytes)


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
        Device[self.device].allocator.copyin(self.handle, host.data.cast("B"))
        return self

    def numpy(self) -> np.ndarray:
        from tinygrad_core.devices import Device

        out = np.empty(self.size, dtype=self.dtype.np)
        if self.size:
            Device[self.device].synchronize()
            Device[self.device].allocator.copyout(out.data.cast("B"), self.handle)
        return out

    def __repr__(self) -> str:
        return f"<Buffer {self.device} {self.size} {self.dtype}>"


# --- compiled backends: Compiler (source -> binary, cached on disk), Program (binary -> launches), CompiledDevice ---
class CompileError(DeviceError):
    """A generated kernel failed to compile; the message carries the compiler's own output."""


class CompilerCrash(CompileError):
    """The compiler itself crashed (a signal, an internal error), not the source: codegen retries the kernel with a
    plainer plan (no vectors) before reporting it."""


class Compiler:
    """Turns source into a binary. `compile_cached` keeps every result on disk under CACHEDIR, keyed by a hash of the
    source, the compiler's `identity` (name, version, flags), so a changed compiler or flag never reuses a binary.

    Entries are written to a temporary file and renamed into place (atomic on POSIX and Windows), so processes that
    compile the same kernel at once each produce a whole entry and the last rename wins. Each entry starts with a
    header holding the payload's length and SHA-256: a truncated or corrupted entry is detected and rebuilt.
    """

    identity: str = ""  # e.g. "clang 15.0.6 -O3 -march=native"; part of every cache key
    _MAGIC = b"TGCC1\n"

    def compile(self, src: str) -> bytes:
        raise NotImplementedError

    def cache_path(self, src: str) -> Path:
        digest = hashlib.sha256(f"{self.identity}\0{src}".encode()).hexdigest()
        return Path(flags.CACHEDIR.value) / "kernels" / digest[:2] / digest

    def compile_cached(self, src: str) -> bytes:
        path = self.cache_path(src)
        cached = _read_entry(path, self._MAGIC)
        if cached is not None:
            return cached
        binary = self.compile(src)
        with contextlib.suppress(OSError):  # a read-only or full cache costs speed, never correctness
            _write_entry(path, self._MAGIC, binary)
        return binary


def _read_entry(path: Path, magic: bytes) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    header = len(magic) + 8 + 32
    if len(data) < header or not data.startswith(magic):
        return None
    length = int.from_bytes(data[len(magic) : len(magic) + 8], "little")
    payload = data[header:]
    if len(payload) != length or hashlib.sha256(payload).digest() != data[len(magic) + 8 : header]:
        return None
    return payload


def _write_entry(path: Path, magic: bytes, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:16]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(magic + len(payload).to_bytes(8, "little") + hashlib.sha256(payload).digest() + payload)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def cached_blob(name: str, make: Callable[[], bytes]) -> bytes:
    """A small on-disk cache entry under CACHEDIR (search results, ...), with the same integrity checks."""
    path = Path(flags.CACHEDIR.value) / "blobs" / hashlib.sha256(name.encode()).hexdigest()
    cached = _read_entry(path, Compiler._MAGIC)
    if cached is None:
        cached = make()
        with contextlib.suppress(OSError):
            _write_entry(path, Compiler._MAGIC, cached)
    return cached


class Program:
    """One compiled kernel, ready to launch: `prog(handles, global_size, work)` runs it over `global_size` iterations
    of its global loop (a CPU splits them across threads; a GPU launches one work item each). `work` estimates the
    kernel's inner-loop iterations, so a CPU can keep small kernels on one thread."""

    # threads per threadgroup the kernel was written for (a group reduction, lower.Plan.group): a GPU launches
    # global_size * local_size threads in groups of exactly local_size; 1 for every other kernel
    local_size: int = 1

    def __init__(self, name: str, binary: bytes):
        self.name, self.binary = name, binary

    def __call__(self, handles: list[Any], global_size: int, work: int = 0) -> None:
        raise NotImplementedError

    def bind(self, handles: list[Any], global_size: int, work: int = 0) -> Callable[[], None]:
        """This launch with its arguments prepared once (see Device.bind); override to pack them ahead of time."""
        return functools.partial(self, handles, global_size, work)


class CompiledDevice(Device):
    """A device that renders each kernel to source, compiles it (cached on disk and in memory) and launches it.

    A backend sets `renderer` and `compiler` (instances) and implements `make_program`; `run` does the rest."""

    renderer: CStyleRenderer
    compiler: Compiler

    def __init__(self, name: str):
        super().__init__(name)
        self._programs: dict[Any, Any] = {}  # structural kernel key -> codegen.CompiledKernel
        # the same Kernel object again (the schedule cache reuses them): skip computing its structural key
        self._recent: weakref.WeakKeyDictionary[Kernel, tuple[tuple[bool, bool], Any]] = weakref.WeakKeyDictionary()

    def make_program(self, name: str, binary: bytes) -> Program:
        raise NotImplementedError

    def run(self, kernel: Kernel, handles: list[Any]) -> None:
        self.prepare(kernel, aliased=_aliased(handles))(self, handles)

    def bind(self, kernel: Kernel, handles: list[Any]) -> Callable[[], None]:
        return self.prepare(kernel, aliased=_aliased(handles)).bind(self, handles)

    def prepare(self, kernel: Kernel, aliased: bool = False) -> CompiledKernel:
        """The compiled form of `kernel`, built on first use: `compiled(device, handles)` runs it and
        `compiled.bind(device, handles)` prepares a launch. `aliased`: one buffer is passed twice."""
        from tinygrad_core.codegen import compile_kernel, kernel_key

        variant = (aliased, flags.NOOPT.value >= 1)  # a plain-loops build (NOOPT) is a program of its own
        recent = self._recent.get(kernel)
        if recent is not None and recent[0] == variant:
            return recent[1]
        key = (kernel_key(kernel), variant)
        compiled = self._programs.get(key)
        if compiled is None:
            compiled = self._programs[key] = compile_kernel(self, kernel, noalias=not aliased)
        self._recent[kernel] = (variant, compiled)
        return compiled


def _aliased(handles: list[Any]) -> bool:
    return len({id(h) for h in handles}) < len(handles)
