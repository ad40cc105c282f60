"""The OpenCL runtime on pyopencl: OpenCLCompiler, OpenCLProgram, OpenCLAllocator, OpenCLDevice, why_unavailable().

Devices are numbered across every platform: the platforms in the order the ICD loader lists them
(clGetPlatformIDs), and within each platform its devices of every type in the order it lists them
(clGetDeviceIDs with CL_DEVICE_TYPE_ALL). OPENCL (= OPENCL:0) is the first of that list, OPENCL:1 the second.
pyopencl is imported inside functions only, so a machine without it can still list this backend and say why.
"""

from __future__ import annotations

import functools
import re
import threading
import warnings
from typing import TYPE_CHECKING, Any, cast

from tinygrad_core.codegen import CompiledDevice, Compiler, Program
from tinygrad_core.dtype import ALL_DTYPES, dtypes
from tinygrad_core.errors import CompileError
from tinygrad_core.runtime import Allocator, Capabilities
from tinygrad_opencl.renderer import OpenCLRenderer

if TYPE_CHECKING:
    import pyopencl as cl

NO_PLATFORM = "no OpenCL platform found (install an ICD such as PoCL)"
# a work group's private arrays together stay well under the 8 MiB stack of a PoCL worker thread
PRIVATE_BUDGET = 2 << 20
_PRIVATE_ARRAY = re.compile(r"^\s+(\w+) \w+\[(\d+)\];$", re.MULTILINE)  # `  float local2[4096];` (staging)
_ITEMSIZE = {name: dtype.itemsize for dtype, name in OpenCLRenderer.type_names.items()}
# -w: warnings about generated code (a NaN test `x != x` on an int vector) are noise; PoCL prints them to stderr
BUILD_OPTIONS = "-w"


# --- devices and availability ---
@functools.cache
def _devices() -> tuple[cl.Device, ...]:
    """Every OpenCL device, in the documented order; () when there is no platform."""
    import pyopencl as cl

    try:
        platforms = cl.get_platforms()
    except cl.Error:  # the ICD loader reports CL_PLATFORM_NOT_FOUND_KHR when no ICD is installed
        return ()
    found: list[cl.Device] = []
    for platform in platforms:
        try:
            found += platform.get_devices()
        except cl.Error:  # a platform with no devices answers CL_DEVICE_NOT_FOUND
            continue
    return tuple(found)


def why_unavailable() -> str | None:
    try:
        import pyopencl  # noqa: F401
    except ImportError as e:
        return f"pyopencl can't be imported ({e}); pip install pyopencl"
    return None if _devices() else NO_PLATFORM


def device_count() -> int:
    return len(_devices())


# --- compiler: OpenCL C -> the platform's program binary ---
def _build(context: cl.Context, device: cl.Device, source: str | None, binary: bytes | None) -> cl._Program:
    import pyopencl as cl

    program = cl._Program(context, [device], [binary]) if binary is not None else cl._Program(context, source or "")
    with warnings.catch_warnings():  # a warning-only build log is not worth a Python warning per kernel
        warnings.simplefilter("ignore", cl.CompilerWarning)
        try:
            program.build(BUILD_OPTIONS.encode(), [device])
        except cl.Error:
            log = str(program.get_build_info(device, cl.program_build_info.LOG)).strip()
            listing = "\n".join(f"{i + 1:4} {line}" for i, line in enumerate((source or "").splitlines()))
            what = "building this kernel" if source is not None else "loading a cached kernel binary"
            raise CompileError(f"OpenCL {what} failed on {device.name.strip()}:\n{log}\n{listing}".rstrip()) from None
    return program


class OpenCLCompiler(Compiler):
    """Builds OpenCL C for one device; the cache keeps the device's program binary, keyed by the driver too."""

    def __init__(self, context: cl.Context, device: cl.Device):
        self.context, self.device = context, device
        platform = device.platform
        driver = f"{platform.name} {platform.version} {device.name} {device.driver_version}"
        self.identity = f"{driver} {BUILD_OPTIONS} private-size header"  # the last words name compile()'s format

    def compile(self, src: str) -> bytes:
        """The program binary, after 8 bytes giving the private arrays' size per work item (OpenCLProgram's launch)."""
        import pyopencl as cl

        program = _build(self.context, self.device, src, None)
        private = sum(_ITEMSIZE[ctype] * int(n) for ctype, n in _PRIVATE_ARRAY.findall(src))
        binaries = cast("list[bytes]", program.get_info(cl.program_info.BINARIES))
        return private.to_bytes(8, "little") + bytes(binaries[0])


# --- program: one kernel, launched over global_size work items ---
class OpenCLProgram(Program):
    def __init__(self, device: OpenCLDevice, name: str, binary: bytes):
        import pyopencl as cl

        super().__init__(name, binary)
        self.queue = device.queue
        self.private = int.from_bytes(binary[:8], "little")
        self.max_local = device.cl_device.max_work_group_size
        self.cpu_cores = device.cl_device.max_compute_units if device.is_cpu else 0
        self.program = _build(device.context, device.cl_device, None, binary[8:])
        self.kernel = cl.Kernel(self.program, name)
        self._enqueue = cl.enqueue_nd_range_kernel
        self._launches: dict[int, tuple[tuple[int], tuple[int] | None]] = {}
        # a cl.Kernel's arguments are state shared by every launch: OpenCL's one call that is not thread-safe, so
        # setting them and enqueueing is one step for any thread (the in-order queue then runs launches in turn)
        self._lock = threading.Lock()

    def launch_dims(self, global_size: int) -> tuple[tuple[int], tuple[int] | None]:
        """Global and local work sizes. A group reduction runs one work group of local_size items per global
        iteration. On a GPU the driver picks the work group otherwise. On a CPU (PoCL: one work group at a time per
        core) we pick it: at least two groups per core, and a group's private arrays (staged tiles) within
        PRIVATE_BUDGET, since PoCL keeps them for every item of a group on one thread's stack and an overflow crashes.
        """
        if self.local_size > 1:
            return (global_size * self.local_size,), (self.local_size,)
        if not self.cpu_cores and not self.private:
            return (global_size,), None
        most = min(self.max_local, global_size // max(1, 2 * self.cpu_cores), PRIVATE_BUDGET // max(1, self.private))
        return (global_size,), (max(n for n in range(1, max(1, most) + 1) if global_size % n == 0),)

    def __call__(self, handles: list[Any], global_size: int, work: int = 0) -> None:
        launch = self._launches.get(global_size)
        if launch is None:
            launch = self._launches[global_size] = self.launch_dims(global_size)
        with self._lock:
            self.kernel.set_args(*handles)
            self._enqueue(self.queue, self.kernel, *launch)


# --- allocator: device memory as cl.Buffer ---
class OpenCLAllocator(Allocator):
    def __init__(self, device: OpenCLDevice):
        import pyopencl as cl

        self.context, self.queue, self._cl = device.context, device.queue, cl
        self.live_bytes = 0  # allocated and not yet freed: the tests check that nothing leaks

    def alloc(self, nbytes: int) -> cl.Buffer:
        # NOTE: OpenCL has no empty buffers; a 0-byte tensor still gets a 1-byte handle.
        buf = self._cl.Buffer(self.context, self._cl.mem_flags.READ_WRITE, max(nbytes, 1))
        self.live_bytes += nbytes
        return buf

    def free(self, handle: cl.Buffer, nbytes: int) -> None:
        # OpenCL keeps the memory until queued kernels that use it have finished, so this never waits
        handle.release()
        self.live_bytes -= nbytes

    def copyin(self, handle: cl.Buffer, src: memoryview) -> None:
        if src.nbytes:  # blocking: the caller's host memory may be gone as soon as we return
            self._cl.enqueue_copy(self.queue, handle, src, is_blocking=True)

    def copyout(self, dest: memoryview, handle: cl.Buffer) -> None:
        if dest.nbytes:
            self._cl.enqueue_copy(self.queue, dest, handle, is_blocking=True)


# --- the device ---
class OpenCLDevice(CompiledDevice):
    """OPENCL:i, the i-th device of _devices(); one context and one in-order queue each."""

    def __init__(self, name: str):
        import pyopencl as cl

        index = int(name.partition(":")[2] or 0)
        self.cl_device = _devices()[index]
        self.context = cl.Context([self.cl_device])
        self.queue = cl.CommandQueue(self.context, self.cl_device)
        # declared from the extensions, never assumed: kernels of a missing dtype fail before they run
        extensions = set(self.cl_device.extensions.split())
        missing = {dtypes.bfloat16: "bfloat16 has no OpenCL C type"}
        if "cl_khr_fp64" not in extensions:
            missing[dtypes.float64] = "no cl_khr_fp64 for float64"
        if "cl_khr_fp16" not in extensions:
            missing[dtypes.float16] = "no cl_khr_fp16 for float16"
        self.dtypes = frozenset(ALL_DTYPES) - set(missing)
        self.missing_dtype_reason = f"{self.cl_device.name.strip()}: {'; '.join(reversed(missing.values()))}"
        self.is_cpu = is_cpu = bool(self.cl_device.type & cl.device_type.CPU)
        # what the kernel planner (codegen/opt.py) reads: vector width (32 bytes on PoCL with AVX2, 4 on GPUs), how
        # many work items keep the device busy, and whether work groups share __local partials: that speeds
        # reductions up on GPUs, while on PoCL one work item per output is 5-15x faster (measured on a 4096x4096 row
        # sum) and few-output reductions are split into two kernels instead
        self._capabilities = Capabilities(
            vector_bytes=4 * max(1, self.cl_device.preferred_vector_width_float),
            threads=self.cl_device.max_compute_units * (1 if is_cpu else 64),
            group_reductions=not is_cpu,
        )
        self.renderer = OpenCLRenderer()
        self.compiler = OpenCLCompiler(self.context, self.cl_device)
        super().__init__(name)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def make_allocator(self) -> OpenCLAllocator:
        return OpenCLAllocator(self)

    def make_program(self, name: str, binary: bytes) -> OpenCLProgram:
        return OpenCLProgram(self, name, binary)

    def synchronize(self) -> None:
        self.queue.finish()

    @staticmethod
    def describe() -> str:
        """Every device and its index, for `python -m tinygrad_core.devices`."""
        names = [f"{device.name.strip()} ({device.platform.name.strip()})" for device in _devices()]
        return "; ".join(f"OPENCL:{i} {name}" for i, name in enumerate(names))
