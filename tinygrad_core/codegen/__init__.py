"""Code generation for compiled backends: Kernel -> canonical loop space -> plan (opt.py) -> linear program
(lower.py) -> source (cstyle.py) -> binary (the backend's Compiler) -> Program. `compile_kernel` runs the chain."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tinygrad_core import flags
from tinygrad_core.codegen.lower import LinearProgram, Plan, canonicalize, lower
from tinygrad_core.kernel import Kernel
from tinygrad_core.ops import Ops
from tinygrad_core.runtime import CompilerCrash

if TYPE_CHECKING:
    from tinygrad_core.runtime import CompiledDevice, Program


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
        self._scratch: list[Any] | None = None

    def bind(self, device: CompiledDevice, handles: list[Any]) -> Callable[[], None]:
        """Every step's launch on these handles, arguments packed once."""
        if self._scratch is None:
            self._scratch = [device.allocator.alloc(n) for n in self.scratch_nbytes]
        bufs = list(handles) + self._scratch
        launches = [step.program.bind([bufs[i] for i in step.bufs], step.global_size, step.work) for step in self.steps]
        if len(launches) == 1:
            return launches[0]

        def launch_all() -> None:
            for launch in launches:
                launch()

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


def _nbytes(kernel: Kernel) -> int:
    """Bytes a kernel must move at least: its output plus every buffer it reads."""
    read = {n.arg[0] for n in kernel.ast.toposort() if n.op is Ops.LOAD}
    return sum(b.size * b.dtype.itemsize for i, b in enumerate(kernel.bufs) if i == 0 or i in read)


def compile_kernel(device: CompiledDevice, kernel: Kernel, noalias: bool = True) -> CompiledKernel:
    from tinygrad_core.codegen import opt

    start = time.perf_counter()
    noopt = flags.NOOPT.value >= 1
    canonical = canonicalize(kernel)
    whole: list[int] = []
    parts, scratch = ([(canonical, tuple(range(len(kernel.bufs))))], whole) if noopt else opt.split(canonical, device)
    steps = []
    for part, bufs in parts:
        part = canonicalize(part) if len(parts) > 1 else part
        plan = Plan() if noopt else opt.choose_plan(part, device)
        if flags.BEAM.value >= 1 and not noopt:
            from tinygrad_core.codegen import search

            plan = search.best_plan(part, device, plan, repr(kernel_key(part)))
        try:
            steps.append(build_step(device, part, plan, bufs, noalias))
        except CompilerCrash as e:
            # a compiler that crashes on the tuned plan (clang 15 does on some wide-vector code) gets plain loops
            plain = dataclasses.replace(plan, upcast=(), vector=None, width=1, stage=(), split_acc=False)
            if plain == plan:
                raise
            if flags.DEBUG.value >= 1:
                print(f"  {device.name} {kernel.name}: {str(e).splitlines()[0]}; compiling it without vectors")
            steps.append(build_step(device, part, plain, bufs, noalias))
    if flags.DEBUG.value >= 2:
        plans = "; ".join(f"{s.program.name} {s.plan}" for s in steps) if flags.DEBUG.value >= 3 else ""
        print(f"  {device.name} built {kernel.name} in {(time.perf_counter() - start) * 1e3:.1f} ms {plans}")
    return CompiledKernel(kernel.name, steps, scratch, kernel.flops, _nbytes(kernel))


def build_step(device: CompiledDevice, kernel: Kernel, plan: Plan, bufs: tuple[int, ...], noalias: bool = True) -> Step:
    prog: LinearProgram = lower(kernel, plan, device.renderer)
    prog.noalias = noalias
    source = device.renderer.render(prog)
    if flags.DEBUG.value >= 4:
        print(source)
    binary = device.compiler.compile_cached(source)
    work = math.prod(kernel.full_shape)
    program = device.make_program(prog.name, binary)
    program.local_size = prog.local_size
    return Step(program, prog.global_size, work, bufs, source, plan)
