"""A stand-in for pyobjc's `Metal` module, so runtime.py's code paths run on Linux.

It has just the classes, functions and constants runtime.py uses, with pyobjc's calling conventions (selectors as
method names, `(result, error)` for NSError out-arguments). Libraries are built by the MSL emulator and dispatches
run through it, so a kernel launched through MetalDevice with this fake really computes. Every call is recorded in
`FakeMetal.calls` for tests that check argument binding and launch sizes; `fail_next` injects errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tinygrad_metal_testing import lint
from tinygrad_metal_testing.emulator import EmulatedProgram, EmulationError, EmulatorCompiler, translate

STATUS_COMPLETED, STATUS_ERROR = 4, 5


@dataclass
class NSError:
    description: str
    code_value: int = 1

    def localizedDescription(self) -> str:
        return self.description

    def code(self) -> int:
        return self.code_value


@dataclass(frozen=True)
class MTLSize:
    width: int
    height: int
    depth: int


class _Options:
    def __init__(self, math_mode: bool):
        self.fast_math: bool = True  # Metal's default
        self.math_mode: int | None = None
        if math_mode:
            self.setMathMode_ = self._set_math_mode

    def setFastMathEnabled_(self, value: bool) -> None:
        self.fast_math = value

    def _set_math_mode(self, value: int) -> None:
        self.math_mode = value


class _Contents:
    def __init__(self, data: bytearray):
        self.data = data

    def as_buffer(self, nbytes: int) -> memoryview:
        return memoryview(self.data)[:nbytes]


class FakeBuffer:
    def __init__(self, nbytes: int, options: int):
        self.data, self.options = bytearray(nbytes), options

    def contents(self) -> _Contents:
        return _Contents(self.data)

    def length(self) -> int:
        return len(self.data)


class FakeLibrary:
    def __init__(self, metal: FakeMetal, src: str):
        self.metal, self.translation = metal, translate(src)
        self.binary = EmulatorCompiler().compile_cached(src)

    def newFunctionWithName_(self, name: str) -> Any:
        return self if name == self.translation.name else None


class FakePipeline:
    def __init__(self, library: FakeLibrary, max_threads: int, width: int):
        t = library.translation
        self.program = EmulatedProgram(t.name, library.binary, t.uses_barrier)
        self.max_threads, self.width = max_threads, width

    def maxTotalThreadsPerThreadgroup(self) -> int:
        return self.max_threads

    def threadExecutionWidth(self) -> int:
        return self.width


class FakeEncoder:
    def __init__(self, command_buffer: FakeCommandBuffer):
        self.command_buffer = command_buffer
        self.pipeline: FakePipeline | None = None
        self.buffers: dict[int, FakeBuffer] = {}
        self.ended = False

    def setComputePipelineState_(self, pipeline: FakePipeline) -> None:
        self.pipeline = pipeline

    def setBuffer_offset_atIndex_(self, buf: FakeBuffer, offset: int, index: int) -> None:
        assert offset == 0
        self.buffers[index] = buf

    def dispatchThreads_threadsPerThreadgroup_(self, threads: MTLSize, group: MTLSize) -> None:
        self.command_buffer.dispatches.append((self.pipeline, dict(self.buffers), threads, group))

    def endEncoding(self) -> None:
        self.ended = True


class FakeCommandBuffer:
    def __init__(self, metal: FakeMetal):
        self.metal = metal
        self.dispatches: list[tuple[Any, dict[int, FakeBuffer], MTLSize, MTLSize]] = []
        self.encoders: list[FakeEncoder] = []
        self.state, self.name = 0, ""
        self.failure: NSError | None = None
        self.waited = False

    def computeCommandEncoder(self) -> FakeEncoder:
        self.encoders.append(FakeEncoder(self))
        return self.encoders[-1]

    def setLabel_(self, name: str) -> None:
        self.name = name

    def label(self) -> str:
        return self.name

    def commit(self) -> None:
        assert all(e.ended for e in self.encoders), "commit before endEncoding"
        self.metal.calls.append(("commit", self.name))
        self.state = STATUS_COMPLETED
        for pipeline, buffers, threads, group in self.dispatches:
            if self.metal.fail_next == "gpu":
                self.metal.fail_next = None
                self.state, self.failure = (
                    STATUS_ERROR,
                    NSError("Execution of the command buffer was aborted (page fault)", 3),
                )
                return
            bufs = [(buffers[i].data, len(buffers[i].data)) for i in range(len(buffers))]
            size = (threads.width, threads.height, threads.depth), (group.width, group.height, group.depth)
            try:
                pipeline.program.dispatch(bufs, *size)
            except EmulationError as e:
                self.state, self.failure = STATUS_ERROR, NSError(str(e))
                return

    def waitUntilCompleted(self) -> None:
        self.waited = True

    def status(self) -> int:
        return self.state

    def error(self) -> NSError | None:
        return self.failure

    def GPUStartTime(self) -> float:
        return 10.0

    def GPUEndTime(self) -> float:
        return 10.25


class FakeQueue:
    def __init__(self, metal: FakeMetal):
        self.metal = metal

    def commandBuffer(self) -> FakeCommandBuffer:
        self.metal.command_buffers.append(FakeCommandBuffer(self.metal))
        return self.metal.command_buffers[-1]


class FakeDevice:
    def __init__(self, metal: FakeMetal):
        self.metal = metal

    def name(self) -> str:
        return "Fake Apple GPU (emulated on the CPU)"

    def maxBufferLength(self) -> int:
        return self.metal.max_buffer

    def newCommandQueue(self) -> FakeQueue:
        return FakeQueue(self.metal)

    def newBufferWithLength_options_(self, nbytes: int, options: int) -> FakeBuffer | None:
        if self.metal.fail_next == "alloc":
            self.metal.fail_next = None
            return None
        self.metal.calls.append(("buffer", nbytes, options))
        return FakeBuffer(nbytes, options)

    def newLibraryWithSource_options_error_(self, src: str, options: _Options, error: None) -> tuple[Any, Any]:
        self.metal.calls.append(("library", options.fast_math, options.math_mode))
        found = lint.problems(src)
        if self.metal.fail_next == "compile" or found:
            self.metal.fail_next = None
            message = "; ".join(found) or "program_source:3:7: error: use of undeclared identifier 'x'"
            return None, NSError(f"Compilation failed: \n\n{message}")
        return FakeLibrary(self.metal, src), None

    def newComputePipelineStateWithFunction_error_(self, function: FakeLibrary, error: None) -> tuple[Any, Any]:
        if self.metal.fail_next == "pipeline" or self.metal.fail_always == "pipeline":
            self.metal.fail_next = None
            return None, NSError("Compiler encountered an internal error")
        return FakePipeline(function, self.metal.max_threads, self.metal.width), None


class _CompileOptions:
    def __init__(self, metal: FakeMetal):
        self.metal = metal

    def new(self) -> _Options:
        return _Options(self.metal.math_mode)


class FakeMetal:
    """What `import Metal` gives runtime.py. `gpu=False` makes MTLCreateSystemDefaultDevice return nil."""

    MTLResourceStorageModeShared = 0
    MTLMathModeSafe = 0

    def __init__(self, gpu: bool = True, math_mode: bool = False, max_threads: int = 1024, width: int = 32):
        self.gpu, self.math_mode, self.max_threads, self.width = gpu, math_mode, max_threads, width
        self.max_buffer = 1 << 30
        self.fail_next: str | None = None  # "compile", "pipeline", "alloc" or "gpu": fail that step once
        self.fail_always: str | None = None  # "pipeline": fail it every time
        self.calls: list[tuple[Any, ...]] = []
        self.command_buffers: list[FakeCommandBuffer] = []
        self.device = FakeDevice(self)
        self.MTLCompileOptions = _CompileOptions(self)

    def MTLCreateSystemDefaultDevice(self) -> FakeDevice | None:
        return self.device if self.gpu else None

    @staticmethod
    def MTLSizeMake(width: int, height: int, depth: int) -> MTLSize:
        return MTLSize(width, height, depth)
