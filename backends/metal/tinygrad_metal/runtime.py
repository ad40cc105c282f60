"""MetalCompiler, MetalProgram, MetalAllocator, MetalDevice and why_unavailable(): MSL kernels on an Apple GPU.

Written against Apple's documented Metal API through pyobjc (`import Metal`), which is imported only inside
`_metal()`: this module imports anywhere, and on Linux the backend is listed as unavailable with NO_MACOS.
Everything that doesn't need a GPU (launch sizes, argument binding, error messages) is plain Python, tested with a
fake Metal module in tests/test_metal_runtime.py.
"""

from __future__ import annotations

import sys
from typing import Any

from tinygrad_core.codegen import CompiledDevice, Compiler, Program
from tinygrad_core.dtype import ALL_DTYPES, dtypes
from tinygrad_core.errors import CompileError, DeviceError
from tinygrad_core.runtime import Allocator, Capabilities
from tinygrad_metal.plugin import NO_MACOS
from tinygrad_metal.renderer import MetalRenderer

# Apple GPUs: float4 vectors, threadgroup memory for reductions; each global iteration is one GPU thread
METAL_CAPABILITIES = Capabilities(vector_bytes=16, threads=1, group_reductions=True)
NO_FLOAT64 = "Metal has no float64; bfloat16 is not supported by this backend (MSL's bfloat needs Metal 3.1)"
_STATUS_ERROR = 5  # MTLCommandBufferStatusError


def _metal() -> Any:
    """pyobjc's Metal module (tests replace this function with one returning a fake)."""
    import Metal  # type: ignore[import-not-found]

    return Metal


def why_unavailable() -> str | None:
    if sys.platform != "darwin":
        return NO_MACOS
    try:
        metal = _metal()
    except ImportError as e:
        return f"pyobjc's Metal bindings can't be imported ({e}); pip install pyobjc-framework-Metal"
    if metal.MTLCreateSystemDefaultDevice() is None:
        return "this Mac has no Metal GPU (MTLCreateSystemDefaultDevice returned nil)"
    return None


# --- errors and launch sizes: no GPU needed ---
def describe_error(error: Any) -> str:
    """An NSError as one readable string: its description, and its code when the description doesn't say."""
    if error is None:
        return "unknown error (no NSError)"
    text = str(error.localizedDescription()).strip()
    return text if text else f"error code {error.code()}"


def launch_size(
    global_size: int, local_size: int, max_threads: int, width: int
) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(threads in the grid, threads per threadgroup) for dispatchThreads. A group reduction (local_size > 1) gets
    exactly local_size threads per group, one group per global iteration. Otherwise one thread per global iteration,
    in groups as large as the pipeline allows, rounded down to a multiple of its SIMD width (threadExecutionWidth)."""
    if local_size > 1:
        if local_size > max_threads:
            raise DeviceError(
                f"a kernel written for {local_size} threads per threadgroup; this pipeline allows {max_threads}"
            )
        return (global_size * local_size, 1, 1), (local_size, 1, 1)
    group = max(1, min(global_size, max_threads))
    if group > width:
        group -= group % width
    return (max(global_size, 1), 1, 1), (group, 1, 1)


# --- compiler: MSL -> library, the source itself is what the disk cache keeps ---
class MetalCompiler(Compiler):
    """Compiles MSL with the device's own compiler (newLibraryWithSource), so errors surface at compile time with
    Metal's log. Metal has no portable binary for a library built from source: the cache entry is the checked
    source, and macOS keeps its own cache of the compiled shaders."""

    def __init__(self, device: Any):
        self.device = device
        self.identity = f"{device.name()} fastmath=off"
        self.libraries: dict[str, Any] = {}  # source -> MTLLibrary, so a program doesn't compile it twice

    def options(self) -> Any:
        options = _metal().MTLCompileOptions.new()
        # IEEE comparisons: MAX tests x != x for NaN, which fast math may fold away
        metal = _metal()
        if hasattr(options, "setMathMode_") and hasattr(metal, "MTLMathModeSafe"):  # macOS 15 and newer
            options.setMathMode_(metal.MTLMathModeSafe)
        else:
            options.setFastMathEnabled_(False)
        return options

    def library(self, src: str) -> Any:
        if src not in self.libraries:
            library, error = self.device.newLibraryWithSource_options_error_(src, self.options(), None)
            if library is None:
                listing = "\n".join(f"{i + 1:4} {line}" for i, line in enumerate(src.splitlines()))
                raise CompileError(f"Metal could not compile this kernel: {describe_error(error)}\n{listing}")
            self.libraries[src] = library
        return self.libraries[src]

    def compile(self, src: str) -> bytes:
        self.library(src)
        return src.encode()


# --- program: one kernel, one compute pipeline ---
class MetalProgram(Program):
    def __init__(self, device: MetalDevice, name: str, binary: bytes):
        super().__init__(name, binary)
        self.device = device
        function = device.compiler.library(binary.decode()).newFunctionWithName_(name)
        if function is None:
            raise CompileError(f"the compiled Metal library has no kernel named {name}")
        pipeline, error = device.mtl.newComputePipelineStateWithFunction_error_(function, None)
        if pipeline is None:
            raise CompileError(f"Metal could not build a compute pipeline for {name}: {describe_error(error)}")
        self.pipeline = pipeline
        self.max_threads = int(pipeline.maxTotalThreadsPerThreadgroup())
        self.width = int(pipeline.threadExecutionWidth())

    def __call__(self, handles: list[Any], global_size: int, work: int = 0) -> None:
        self.dispatch(handles, global_size)

    def timed(self, handles: list[Any], global_size: int) -> float:
        """Dispatch, wait, and return the GPU's own time for this kernel in seconds (GPUEndTime - GPUStartTime)."""
        command_buffer = self.dispatch(handles, global_size)
        self.device.synchronize()
        return float(command_buffer.GPUEndTime() - command_buffer.GPUStartTime())

    def dispatch(self, handles: list[Any], global_size: int) -> Any:
        """Encode one dispatch into its own command buffer and commit it; the device waits for it later."""
        metal = _metal()
        threads, group = launch_size(global_size, self.local_size, self.max_threads, self.width)
        command_buffer = self.device.queue.commandBuffer()
        encoder = command_buffer.computeCommandEncoder()
        encoder.setComputePipelineState_(self.pipeline)
        for index, buf in enumerate(handles):
            encoder.setBuffer_offset_atIndex_(buf, 0, index)
        encoder.dispatchThreads_threadsPerThreadgroup_(metal.MTLSizeMake(*threads), metal.MTLSizeMake(*group))
        encoder.endEncoding()
        command_buffer.setLabel_(self.name)
        command_buffer.commit()
        self.device.in_flight.append(command_buffer)
        return command_buffer


# --- allocator: MTLBuffers in shared storage, which the CPU reads and writes directly ---
class MetalAllocator(Allocator):
    def __init__(self, device: MetalDevice):
        self.device = device

    def alloc(self, nbytes: int) -> Any:
        limit = int(self.device.mtl.maxBufferLength())
        if nbytes > limit:
            raise DeviceError(f"{self.device.name} can't allocate {nbytes} bytes in one buffer (its limit: {limit})")
        # NOTE: Metal has no empty buffers; a 0-byte tensor still gets a 1-byte handle.
        buf = self.device.mtl.newBufferWithLength_options_(max(nbytes, 1), _metal().MTLResourceStorageModeShared)
        if buf is None:
            raise DeviceError(f"{self.device.name} is out of memory: allocating {nbytes} bytes failed")
        return buf

    def _view(self, buf: Any, nbytes: int) -> memoryview:
        return memoryview(buf.contents().as_buffer(buf.length())).cast("B")[:nbytes]

    def copyin(self, handle: Any, src: memoryview) -> None:
        self.device.synchronize()  # shared memory: a kernel still running may be reading this buffer
        self._view(handle, src.nbytes)[:] = src.cast("B")

    def copyout(self, dest: memoryview, handle: Any) -> None:
        self.device.synchronize()
        dest.cast("B")[:] = self._view(handle, dest.nbytes)


# --- the device ---
class MetalDevice(CompiledDevice):
    """METAL: the system default GPU (MTLCreateSystemDefaultDevice), one in-order command queue."""

    dtypes = frozenset(ALL_DTYPES) - {dtypes.float64, dtypes.bfloat16}
    missing_dtype_reason = NO_FLOAT64
    compiler: MetalCompiler

    def __init__(self, name: str):
        metal = _metal()
        self.mtl = metal.MTLCreateSystemDefaultDevice()
        if self.mtl is None:
            raise DeviceError("no Metal GPU: MTLCreateSystemDefaultDevice returned nil")
        self.queue = self.mtl.newCommandQueue()
        self.in_flight: list[Any] = []  # committed command buffers not yet waited for
        self.renderer = MetalRenderer()
        self.compiler = MetalCompiler(self.mtl)
        super().__init__(name)

    @property
    def capabilities(self) -> Capabilities:
        return METAL_CAPABILITIES

    def make_allocator(self) -> MetalAllocator:
        return MetalAllocator(self)

    def make_program(self, name: str, binary: bytes) -> MetalProgram:
        return MetalProgram(self, name, binary)

    def synchronize(self) -> None:
        pending, self.in_flight = self.in_flight, []
        for command_buffer in pending:
            command_buffer.waitUntilCompleted()
            if command_buffer.status() == _STATUS_ERROR:
                name = command_buffer.label() or "a kernel"
                raise DeviceError(f"{self.name}: {name} failed on the GPU: {describe_error(command_buffer.error())}")

    @staticmethod
    def describe() -> str:
        return str(_metal().MTLCreateSystemDefaultDevice().name())
