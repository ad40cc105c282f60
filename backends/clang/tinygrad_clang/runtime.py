"""ClangCompiler, ClangProgram, ClangAllocator, ClangDevice and why_unavailable(): C kernels compiled to shared
objects, loaded with cffi and run on every core through a small pthread pool (pool.c)."""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import importlib.util
import io
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import weakref
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np

from tinygrad_clang.renderer import ClangRenderer
from tinygrad_core import flags, runtime
from tinygrad_core.cache import cache_root
from tinygrad_core.codegen import CompiledDevice, Compiler, Program
from tinygrad_core.dtype import ALL_DTYPES, dtypes
from tinygrad_core.errors import CompileError, CompilerCrash, DeviceError

# clang first (it vectorises our code best), newest version first, then the system compiler
_CANDIDATES = ("clang", *(f"clang-{v}" for v in range(21, 13, -1)), "cc", "gcc")
_ARGS = ("-O3", "-march=native", "-fPIC", "-shared", "-pthread", "-fno-math-errno", "-fwrapv", "-fno-strict-aliasing")
# Linux: link only libgcc (float16 conversions live there); libm and libc symbols resolve against the Python process
# at dlopen, which makes the link step much cheaper
_LINK_ARGS = ("-nostdlib", "-lgcc") if sys.platform == "linux" else ()
# NOTE: no -ffast-math: NaN, inf and signed zeros keep their IEEE meaning. -ffp-contract=fast only fuses a*b+c.
_FP_ARGS = ("-ffp-contract=fast",)


@functools.cache
def find_compiler() -> str | None:
    return next((path for name in _CANDIDATES if (path := shutil.which(name))), None)


def why_unavailable() -> str | None:
    if find_compiler() is None:
        return "no C compiler found (install clang or gcc)"
    try:
        import cffi  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return "cffi is not installed (pip install cffi)"
    return None


def device_count() -> int:
    return 1


class ClangCompiler(Compiler):
    def __init__(self, cc: str | None = None):
        self.cc = cc or find_compiler() or "cc"
        version = _compiler_version(self.cc)
        # -march=native makes the binary this CPU's: the CPU is part of the cache key
        self.args = (*_ARGS, *_FP_ARGS)
        self.identity = f"{version} {' '.join(self.args + _LINK_ARGS)} {platform.machine()} {_cpu_signature()}"

    def compile(self, src: str) -> bytes:
        with tempfile.TemporaryDirectory(prefix=_TEMP_PREFIX.format(pid=os.getpid())) as tmp:
            out = os.path.join(tmp, "kernel.so")
            result = subprocess.run(
                [self.cc, *self.args, "-x", "c", "-", *_LINK_ARGS, "-o", out], input=src, capture_output=True, text=True
            )
            if result.returncode != 0:
                name = next(iter(re.findall(r"void (\w+)\(", src)), "kernel")
                crashed = result.returncode < 0 or "PLEASE submit a bug report" in result.stderr
                error = CompilerCrash if crashed else CompileError
                raise error(
                    f"{os.path.basename(self.cc)} {'crashed compiling' if crashed else 'failed to compile'} {name} "
                    f"(exit {result.returncode}); DEBUG=4 prints the source:\n{result.stderr.strip()}"
                )
            with open(out, "rb") as f:
                return f.read()


@functools.cache
def _compiler_version(cc: str) -> str:
    """The compiler binary's identity without running it (this is on the path to a process's first result)."""
    path = os.path.realpath(cc)
    try:
        st = os.stat(path)
    except OSError:
        return path
    return f"{path} {st.st_size} {st.st_mtime_ns}"


@functools.cache
def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            return set(next((line for line in f if line.startswith("flags")), "").split())
    except OSError:
        return set()


@functools.cache
def _cpu_signature() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            lines = [line for line in f if line.startswith(("model name", "flags"))][:2]
        return hashlib.sha256("".join(lines).encode()).hexdigest()[:16] if lines else platform.processor()
    except OSError:
        return platform.processor()


_CDEF = """
void *dlopen(const char *path, int mode); void *dlsym(void *handle, const char *name); char *dlerror(void);
int dlclose(void *handle);
typedef void (*tg_kernel)(void **, int, int);
typedef int (*tg_pool)(tg_kernel, void **, int, int, int);
"""


def _ffi() -> Any:
    """cffi's FFI for _CDEF in out-of-line ABI mode: parsing C declarations imports pycparser (~0.1 s), so the parsed
    form is written once as a small module under CACHEDIR (private: see codegen/compiler.py) and imported from there
    by later processes. Without a writable cache the declarations are parsed in every process."""
    import cffi  # type: ignore[import-untyped]

    tag = hashlib.sha256(f"{cffi.__version__}{_CDEF}".encode()).hexdigest()[:16]
    path = os.path.join(cache_root(), "ffi", f"_tinygrad_clang_ffi_{tag}.py")
    builder = cffi.FFI()
    if not os.path.exists(path):
        builder.cdef(_CDEF)
        builder.set_source(f"_tinygrad_clang_ffi_{tag}", None)
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        except OSError:  # a read-only cache: the parsed declarations serve this process only
            return builder
        os.close(fd)
        with contextlib.redirect_stdout(io.StringIO()):  # it reports "generating ..."
            builder.emit_python_code(tmp)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(f"_tinygrad_clang_ffi_{tag}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ffi


class _Loader:
    """One cffi FFI for the process: loads shared objects from bytes and finds their `void f(void**, int, int)`."""

    def __init__(self) -> None:
        self.ffi = _ffi()
        self.libc = self.ffi.dlopen(None)
        _remove_stale_temp_dirs()
        self.dir = tempfile.mkdtemp(prefix=_TEMP_PREFIX.format(pid=os.getpid()))
        atexit.register(shutil.rmtree, self.dir, True)
        self.count = 0
        self.lock = threading.Lock()

    def load(self, binary: bytes, symbol: str, ctype: str) -> tuple[Any, Any]:
        """(the function `symbol` as `ctype`, the library's handle for dlclose)."""
        with self.lock:
            self.count += 1
            path = os.path.join(self.dir, f"{self.count}.so")
        with open(path, "wb") as f:
            f.write(binary)
        handle = self.libc.dlopen(path.encode(), 2)  # RTLD_NOW
        os.unlink(path)  # the loaded image stays mapped
        if handle == self.ffi.NULL:
            error = self.libc.dlerror()
            reason = self.ffi.string(error).decode() if error != self.ffi.NULL else "dlopen failed"
            raise DeviceError(f"loading {symbol} failed: {reason}")
        address = self.libc.dlsym(handle, symbol.encode())
        if address == self.ffi.NULL:
            self.libc.dlclose(handle)
            raise DeviceError(f"{symbol} is missing from its compiled kernel")
        return self.ffi.cast(ctype, address), handle


_TEMP_PREFIX = "tinygrad_clang_{pid}_"  # our temporary directories name the process that made them


def _remove_stale_temp_dirs() -> None:
    """Temporary directories of ours whose process is gone (killed mid-compile: kill -9 runs no cleanup)."""
    root = tempfile.gettempdir()
    with contextlib.suppress(OSError):
        for name in os.listdir(root):
            match = re.fullmatch(r"tinygrad_clang_(\d+)_\w+", name)
            if match is None or int(match.group(1)) == os.getpid() or _alive(int(match.group(1))):
                continue
            path = os.path.join(root, name)
            if os.stat(path).st_uid == os.getuid():
                shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


@functools.cache
def _loader() -> _Loader:
    return _Loader()


class ClangProgram(Program):
    def __init__(self, name: str, binary: bytes, device: ClangDevice):
        super().__init__(name, binary)
        self.device = device
        self.fn, handle = _loader().load(binary, name, "tg_kernel")
        # unloaded with the last reference to this program (the device's LRU dropped it and no launch holds it)
        weakref.finalize(self, _loader().libc.dlclose, handle)

    def __call__(self, handles: list[Any], global_size: int, work: int = 0) -> None:
        self.bind(handles, global_size, work)()

    def bind(self, handles: list[Any], global_size: int, work: int = 0) -> Callable[[], None]:
        args = _loader().ffi.new("void*[]", [h.ptr for h in handles])
        threads = min(self.device.threads, global_size)
        # small kernels stay on this thread: waking the pool costs microseconds
        if threads > 1 and work >= 1 << 15:
            launch = functools.partial(self.device.run_pooled, self.fn, args, global_size, threads)
        else:
            launch = functools.partial(self.fn, args, 0, global_size)
        launch.program = self  # type: ignore[attr-defined]  # a bound launch keeps its library loaded
        return launch


class ClangBuffer:
    """Host memory for one buffer, 64-byte aligned, with its C pointer made once."""

    def __init__(self, nbytes: int):
        raw = np.empty(nbytes + 64, np.uint8)
        offset = -raw.ctypes.data % 64
        self.array = raw[offset : offset + nbytes]
        self.ptr = _loader().ffi.cast("void*", self.array.ctypes.data)


class ClangAllocator(runtime.CachingAllocator):
    def _alloc(self, nbytes: int) -> ClangBuffer:
        return ClangBuffer(nbytes)

    def copyin(self, handle: ClangBuffer, src: memoryview) -> None:
        handle.array[:] = np.frombuffer(src, np.uint8)

    def copyout(self, dest: memoryview, handle: ClangBuffer) -> None:
        np.frombuffer(dest, np.uint8)[:] = handle.array

    def host_view(self, handle: ClangBuffer, nbytes: int) -> memoryview:
        return handle.array.data


class ClangDevice(CompiledDevice):
    missing_dtype_reason = "C has no portable bfloat16 type"

    def __init__(self, name: str):
        super().__init__(name)
        self.renderer = ClangRenderer()
        self.compiler = ClangCompiler()
        self.cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        self.vector_bytes = 64 if "avx512f" in _cpu_flags() else 32 if "avx" in _cpu_flags() else 16
        pool_src = resources.files("tinygrad_clang").joinpath("pool.c").read_text()
        self.pool, _ = _loader().load(self.compiler.compile_cached(pool_src), "tg_pool_run", "tg_pool")
        self.pool_lock = threading.Lock()
        self.dtypes = frozenset(ALL_DTYPES) - {dtypes.bfloat16}
        if not self._has_float16():
            self.dtypes -= {dtypes.float16}
            self.missing_dtype_reason = f"{os.path.basename(self.compiler.cc)} has no _Float16 (bfloat16: none in C)"

    def _has_float16(self) -> bool:
        try:
            self.compiler.compile_cached("_Float16 tg_probe(_Float16 a, _Float16 b) { return a * b; }\n")
            return True
        except CompileError:
            return False

    def run_pooled(self, fn: Any, args: Any, global_size: int, threads: int) -> None:
        with self.pool_lock:
            self.pool(fn, args, global_size, threads, threads)

    @property
    def threads(self) -> int:
        return flags.THREADS.value or self.cores

    @property
    def capabilities(self) -> runtime.Capabilities:
        return runtime.Capabilities(vector_bytes=self.vector_bytes, threads=self.threads)

    def make_allocator(self) -> runtime.Allocator:
        return ClangAllocator()

    def make_program(self, name: str, binary: bytes) -> Program:
        return ClangProgram(name, binary, self)

    @staticmethod
    def describe() -> str:
        return f"{os.path.basename(find_compiler() or 'no compiler')}, {os.cpu_count()} cores"
