"""METAL_EMU: a device that renders kernels with MetalRenderer, runs the MSL on the CPU through the emulator, and
checks every launch against the CPU backend.

It is MetalDevice with the GPU swapped out: the same renderer, the same launch sizes (runtime.launch_size), host
memory for buffers. Each kernel's output is compared with what tinygrad_cpu computes from the same inputs, so a wrong
MSL kernel fails at the launch that computed it, with its source, even where a test's own tolerance is loose.
`STATS` counts what was emulated; `Device.register(SPEC)` (or the pytest plugin in pytest_plugin.py) adds the device.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tinygrad_metal.renderer import MetalRenderer
from tinygrad_metal.runtime import METAL_CAPABILITIES, MetalDevice, launch_size

from tinygrad_core.codegen import CompiledDevice, Program
from tinygrad_core.devices import BackendSpec
from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.kernel import Kernel
from tinygrad_core.ops import Ops
from tinygrad_core.runtime import Allocator, Capabilities
from tinygrad_metal_testing import lint
from tinygrad_metal_testing.emulator import EmulatedProgram, EmulatorCompiler, translate

SPEC = BackendSpec(
    name="METAL_EMU",
    api_version=(2, 1),
    priority=-1,  # opt-in: never the default, never in the default device list
    availability="tinygrad_metal_testing.emulator:why_no_emulator",
    device="tinygrad_metal_testing.device:EmulatedMetalDevice",
    pip="pip install tinygrad-metal cffi (and clang-15)",
)
# what a typical Apple GPU pipeline reports; launch_size picks threadgroups from these as on a Mac
MAX_THREADS, SIMD_WIDTH = 1024, 32
TOLERANCE = {dtypes.float16: 2e-2, dtypes.float32: 2e-4}


@dataclass
class Stats:
    launches: int = 0  # kernels run through the emulator
    matched: int = 0  # of those, outputs equal to the CPU backend's
    sources: set[str] = field(default_factory=set)  # distinct MSL kernels emulated (sha256)
    barrier_sources: set[str] = field(default_factory=set)  # of those, with threadgroup memory and barriers
    ops: set[str] = field(default_factory=set)  # every op of the kernels that matched
    dtypes: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        return {
            "launches": self.launches,
            "matched": self.matched,
            "distinct_kernels": len(self.sources),
            "barrier_kernels": len(self.barrier_sources),
            "ops": sorted(self.ops),
            "dtypes": sorted(self.dtypes),
        }


STATS = Stats()


# --- compiler and program ---
class EmulatingCompiler(EmulatorCompiler):
    """Lints the MSL (lint.py), then builds its emulation. The binary carries a JSON header: the kernel's name,
    whether it has barriers, and the MSL itself, for error messages."""

    def compile(self, src: str) -> bytes:
        lint.check(src)
        translation = translate(src)
        header = {"name": translation.name, "uses_barrier": translation.uses_barrier, "source": src}
        return json.dumps(header).encode() + b"\n" + super().compile(src)


class EmulatedMetalProgram(Program):
    def __init__(self, device: EmulatedMetalDevice, name: str, binary: bytes):
        super().__init__(name, binary)
        header, _, library = binary.partition(b"\n")
        info = json.loads(header)
        self.device, self.source = device, info["source"]
        self.emulated = EmulatedProgram(info["name"], library, info["uses_barrier"])
        digest = hashlib.sha256(self.source.encode()).hexdigest()
        STATS.sources.add(digest)
        if info["uses_barrier"]:
            STATS.barrier_sources.add(digest)

    def __call__(self, handles: list[Any], global_size: int, work: int = 0) -> None:
        threads, group = launch_size(global_size, self.local_size, MAX_THREADS, SIMD_WIDTH)
        self.emulated.dispatch([(h, h.nbytes) for h in handles], threads, group)
        self.device.launched.append(self)


class EmulatedAllocator(Allocator):
    """Host memory as numpy byte arrays: the emulated kernel reads and writes them in place."""

    def alloc(self, nbytes: int) -> np.ndarray:
        return np.zeros(max(nbytes, 1), np.uint8)[:nbytes]

    def copyin(self, handle: np.ndarray, src: memoryview) -> None:
        handle[:] = np.frombuffer(src, np.uint8)

    def copyout(self, dest: memoryview, handle: np.ndarray) -> None:
        np.frombuffer(dest, np.uint8)[:] = handle


# --- the device ---
class EmulatedMetalDevice(CompiledDevice):
    dtypes = MetalDevice.dtypes
    missing_dtype_reason = MetalDevice.missing_dtype_reason

    def __init__(self, name: str):
        self.renderer = MetalRenderer()
        self.compiler = EmulatingCompiler()
        self.launched: list[EmulatedMetalProgram] = []
        super().__init__(name)

    @property
    def capabilities(self) -> Capabilities:
        return METAL_CAPABILITIES

    def make_allocator(self) -> EmulatedAllocator:
        return EmulatedAllocator()

    def make_program(self, name: str, binary: bytes) -> EmulatedMetalProgram:
        return EmulatedMetalProgram(self, name, binary)

    def run(self, kernel: Kernel, handles: list[Any]) -> None:
        inputs = [np.array(h) for h in handles]  # before the launch: the output may alias an input
        self.launched = []
        super().run(kernel, handles)
        STATS.launches += len(self.launched)
        expected = _reference(kernel, inputs)
        problem = _compare(np.asarray(handles[0]), expected, kernel.bufs[0].dtype)
        if problem is not None:
            sources = "\n".join(p.source for p in self.launched)
            raise AssertionError(f"emulated MSL of {kernel.name} disagrees with the CPU backend: {problem}\n{sources}")
        STATS.matched += len(self.launched)
        for node in kernel.ast.toposort():
            STATS.ops.add(f"REDUCE_{node.arg[0].name}" if node.op is Ops.REDUCE else node.op.name)
            STATS.dtypes.add(node.dtype.name)


def _reference(kernel: Kernel, inputs: list[np.ndarray]) -> np.ndarray:
    """The kernel's output as tinygrad_cpu computes it from `inputs` (raw bytes of every buffer)."""
    from tinygrad_core.devices import Device

    cpu = Device["CPU"]
    handles = []
    for data in inputs:
        handle = cpu.allocator.alloc(data.nbytes)
        cpu.allocator.copyin(handle, data.data)
        handles.append(handle)
    with np.errstate(all="ignore"):
        cpu.run(kernel, handles)
    out = np.empty(inputs[0].nbytes, np.uint8)
    cpu.allocator.copyout(out.data, handles[0])
    return out


def _compare(actual: np.ndarray, expected: np.ndarray, dtype: DType) -> str | None:
    """None when the raw output bytes agree: exactly for integers and bools, within TOLERANCE for floats."""
    got, want = actual.view(dtype.np), expected.view(dtype.np)
    if not dtypes.is_float(dtype):
        bad = np.flatnonzero(got != want)
    else:
        got64, want64 = got.astype(np.float64), want.astype(np.float64)
        finite = np.isfinite(want64)
        scale = float(np.abs(want64[finite]).max(initial=1.0))
        tol = TOLERANCE[dtype] * scale
        with np.errstate(invalid="ignore"):
            close = np.where(
                finite, np.abs(got64 - want64) <= tol, (got64 == want64) | (np.isnan(got64) & np.isnan(want64))
            )
        bad = np.flatnonzero(~close)
    if bad.size == 0:
        return None
    first = bad[:5].tolist()
    return (
        f"{bad.size} of {got.size} {dtype.name} elements differ; at {first}: got {got[first]}, expected {want[first]}"
    )
