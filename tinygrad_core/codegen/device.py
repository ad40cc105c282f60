"""The compiled-backend machinery: a CompiledDevice renders each kernel to source, compiles it (cached on disk and
in memory) and launches its Programs. A backend supplies a renderer, a Compiler and make_program()."""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tinygrad_core import flags
from tinygrad_core.codegen.build import CompiledKernel, build_step, kernel_key
from tinygrad_core.codegen.compiler import Compiler
from tinygrad_core.codegen.lower import Plan, canonicalize
from tinygrad_core.codegen.opt import choose_plan, split
from tinygrad_core.codegen.search import best_plan
from tinygrad_core.errors import CompilerCrash
from tinygrad_core.kernel import Kernel
from tinygrad_core.ops import Ops
from tinygrad_core.runtime import Device

if TYPE_CHECKING:
    from tinygrad_core.codegen.cstyle import CStyleRenderer


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
        # structural kernel key -> CompiledKernel, the least recently used dropped past PROGRAM_CACHE entries (its
        # programs are unloaded once nothing, such as a TinyJit recording, still holds them)
        self._programs: OrderedDict[Any, CompiledKernel] = OrderedDict()
        # the same Kernel object again (the schedule cache reuses them): its key, not recomputed (the LRU above is
        # the only owner of programs)
        self._recent: weakref.WeakKeyDictionary[Kernel, tuple[Any, tuple[bool, bool]]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()  # threads share the program caches; a kernel is compiled once

    def make_program(self, name: str, binary: bytes) -> Program:
        raise NotImplementedError

    def run(self, kernel: Kernel, handles: list[Any]) -> None:
        self.prepare(kernel, aliased=_aliased(handles))(self, handles)

    def bind(self, kernel: Kernel, handles: list[Any]) -> Callable[[], None]:
        return self.prepare(kernel, aliased=_aliased(handles)).bind(self, handles)

    def prepare(self, kernel: Kernel, aliased: bool = False) -> CompiledKernel:
        """The compiled form of `kernel`, built on first use: `compiled(device, handles)` runs it and
        `compiled.bind(device, handles)` prepares a launch. `aliased`: one buffer is passed twice."""
        variant = (aliased, flags.NOOPT.value >= 1)  # a plain-loops build (NOOPT) is a program of its own
        with self._lock:
            recent = self._recent.get(kernel)
            key = recent if recent is not None and recent[1] == variant else (kernel_key(kernel), variant)
            compiled = self._programs.get(key)
            if compiled is None:
                compiled = self._programs[key] = compile_kernel(self, kernel, noalias=not aliased)
                while len(self._programs) > flags.PROGRAM_CACHE.value:
                    self._programs.popitem(last=False)
            else:
                self._programs.move_to_end(key)
            self._recent[kernel] = key
            return compiled


def _aliased(handles: list[Any]) -> bool:
    return len({id(h) for h in handles}) < len(handles)


def _nbytes(kernel: Kernel) -> int:
    """Bytes a kernel must move at least: its output plus every buffer it reads."""
    read = {n.arg[0] for n in kernel.ast.toposort() if n.op is Ops.LOAD}
    return sum(b.size * b.dtype.itemsize for i, b in enumerate(kernel.bufs) if i == 0 or i in read)


def compile_kernel(device: CompiledDevice, kernel: Kernel, noalias: bool = True) -> CompiledKernel:
    start = time.perf_counter()
    noopt = flags.NOOPT.value >= 1
    canonical = canonicalize(kernel)
    whole: list[int] = []
    parts, scratch = ([(canonical, tuple(range(len(kernel.bufs))))], whole) if noopt else split(canonical)
    steps = []
    for part, bufs in parts:
        part = canonicalize(part) if len(parts) > 1 else part
        plan = Plan() if noopt else choose_plan(part, device.renderer, device.capabilities)
        if flags.BEAM.value >= 1 and not noopt:
            plan = best_plan(part, device, plan, repr(kernel_key(part)))
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
