"""One program of a compiled kernel: kernel + plan -> linear program -> source -> binary -> Program (build_step),
and what a Kernel became (CompiledKernel: its programs and the scratch buffers between them)."""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tinygrad_core import flags
from tinygrad_core.codegen.lower import LinearProgram, Plan, lower
from tinygrad_core.errors import DeviceError
from tinygrad_core.kernel import Kernel
from tinygrad_core.ops import Ops

if TYPE_CHECKING:
    from tinygrad_core.codegen.device import CompiledDevice, Program


def kernel_key(kernel: Kernel) -> tuple[Any, ...]:
    """A hashable key equal for kernels that compute the same thing on buffers of the same dtypes and sizes."""
    numbers: dict[int, int] = {}
    rows = []
    for node in kernel.ast.toposort():
        numbers[id(node)] = len(numbers)
        arg = node.arg
        if node.op is Ops.CONST:
            arg = (repr(arg[0]), arg[1])  # repr: NaN must equal itself
        rows.append((node.op, node.dtype, tuple(numbers[id(s)] for s in node.src), arg))
    return (tuple(rows), kernel.bufs)


@dataclass
class Step:
    program: Program
    global_size: int
    work: int  # iterations of the loop nest, all lanes counted
    bufs: tuple[int, ...]  # indices into the kernel's handles, then its scratch buffers
    source: str
    plan: Plan


class CompiledKernel:
    """What one Kernel became: one or more programs (a split reduction has two) and the scratch buffers between."""

    def __init__(self, name: str, steps: list[Step], scratch: list[int], flops: int, nbytes: int):
        self.name, self.steps, self.scratch_nbytes = name, steps, scratch
        self.flops, self.nbytes = flops, nbytes

    def bind(self, device: CompiledDevice, handles: list[Any]) -> Callable[[], None]:
        """Every step's launch on these handles, arguments packed once. The scratch buffers between steps belong
        to this launch (freed with it), so launches from two threads never share them."""
        scratch = [device.allocator.alloc(n) for n in self.scratch_nbytes]
        bufs = list(handles) + scratch
        launches = [step.program.bind([bufs[i] for i in step.bufs], step.global_size, step.work) for step in self.steps]
        if len(launches) == 1 and not scratch:
            return launches[0]

        def launch_all() -> None:
            for launch in launches:
                launch()

        for handle, nbytes in zip(scratch, self.scratch_nbytes):
            weakref.finalize(launch_all, device.allocator.free, handle, nbytes)
        return launch_all

    def __call__(self, device: CompiledDevice, handles: list[Any]) -> None:
        launch = self.bind(device, handles)
        start = time.perf_counter()
        launch()
        if flags.DEBUG.value >= 2:
            device.synchronize()
            elapsed = time.perf_counter() - start
            print(
                f"    {device.name} {self.name}: {elapsed * 1e6:9.1f} us, {self.flops / elapsed / 1e9:7.2f} GFLOP/s, "
                f"{self.nbytes / elapsed / 1e9:6.2f} GB/s"
            )


def build_step(device: CompiledDevice, kernel: Kernel, plan: Plan, bufs: tuple[int, ...], noalias: bool = True) -> Step:
    prog: LinearProgram = lower(kernel, plan, device.renderer)
    prog.noalias = noalias
    source = device.renderer.render(prog)
    if flags.DEBUG.value >= 4:
        print(source)
    binary = device.compiler.compile_cached(source)
    work = math.prod(kernel.full_shape)
    try:
        program = device.make_program(prog.name, binary)
    except DeviceError:  # a cached binary that doesn't load (garbage behind a valid header): rebuilt once
        program = device.make_program(prog.name, device.compiler.recompile(source))
    program.local_size = prog.local_size
    return Step(program, prog.global_size, work, bufs, source, plan)
