"""BEAM search over kernel plans: time variations of the heuristic plan on the device, keep the fastest.

With BEAM=n, a kernel the process has not seen is compiled and timed under each single change of the n best plans
so far (vector width, register tile, reduce unroll, staging, the thread-split loop), round after round while that
helps. The winner is cached on disk under CACHEDIR, keyed by the kernel, the device and its compiler, so a search
is paid once per machine. Every candidate's output is checked against the heuristic plan's before it may win.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_core import flags
from tinygrad_core.cache import cached_blob
from tinygrad_core.codegen.build import build_step
from tinygrad_core.codegen.lower import Plan
from tinygrad_core.errors import CompileError
from tinygrad_core.kernel import Kernel

if TYPE_CHECKING:
    from tinygrad_core.codegen.device import CompiledDevice

MAX_ROUNDS = 4


def neighbours(kernel: Kernel, plan: Plan) -> list[Plan]:
    """Plans one change away from `plan` that the lowering accepts (sizes divide, vector lanes fill whole groups)."""
    shape = kernel.full_shape
    rdims = set(kernel.reduce_axes)
    upcast = list(plan.upcast) or [1] * len(shape)
    out: list[Plan] = []

    def add(**changes: Any) -> None:
        new = dataclasses.replace(plan, **changes)
        ups = list(new.upcast) or [1] * len(shape)
        if any(n % u for n, u in zip(shape, ups)):
            return
        if new.vector is not None and ups[new.vector] % new.width:
            return
        if new.parallel is not None and new.parallel in rdims:
            return
        if new != plan and new not in out:
            out.append(new)

    for d, n in enumerate(shape):
        for amount in (1, 2, 3, 4, 6, 8, 16, 32):
            if d == plan.vector:
                amount *= plan.width
            if amount != upcast[d] and amount <= n and math.prod(upcast) // upcast[d] * amount <= 256:
                add(upcast=tuple(amount if i == d else u for i, u in enumerate(upcast)))
    if plan.stage:
        add(stage=(), order=())
    odims = [d for d in range(len(shape)) if d not in rdims]
    for d in odims:
        if d != plan.parallel and shape[d] // upcast[d] > 1 and (not plan.stage or d != (plan.order or odims)[-1]):
            add(parallel=d)
    if plan.vector is not None:
        add(vector=None, width=1)
    return out


def _time(device: CompiledDevice, step: Any, bufs: list[Any], repeats: int = 3) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        step.program(bufs, step.global_size, step.work)
        device.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def best_plan(kernel: Kernel, device: CompiledDevice, start: Plan, key: str) -> Plan:
    """The fastest plan found by a beam search from `start` (the heuristic plan); cached on disk under `key`."""

    def search() -> bytes:
        return json.dumps(dataclasses.asdict(_search(kernel, device, start))).encode()

    name = f"beam {flags.BEAM.value} {type(device).__name__} {device.compiler.identity} {key}"
    fields: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(cached_blob(name, search)).items()
    }
    return Plan(**fields)


def _search(kernel: Kernel, device: CompiledDevice, start: Plan) -> Plan:
    rng = np.random.default_rng(0)
    bufs = []
    for spec in kernel.bufs:
        handle = device.allocator.alloc(spec.size * spec.dtype.itemsize)
        data = (
            rng.uniform(-1, 1, spec.size).astype(spec.dtype.np)
            if spec.dtype.np.kind == "f"
            else np.ones(spec.size, spec.dtype.np)
        )
        device.allocator.copyin(handle, np.ascontiguousarray(data).data.cast("B"))
        bufs.append(handle)
    out_dtype = kernel.bufs[0].dtype.np

    def result() -> np.ndarray:
        host = np.empty(kernel.bufs[0].size, out_dtype)
        device.allocator.copyout(host.data.cast("B"), bufs[0])
        return host

    reference_step = build_step(device, kernel, start, ())
    timings = {start: _time(device, reference_step, bufs)}
    reference = result()
    beam = [start]
    for _ in range(MAX_ROUNDS):
        improved = False
        for plan in [n for b in beam for n in neighbours(kernel, b) if n not in timings]:
            try:
                step = build_step(device, kernel, plan, ())
            except (CompileError, ValueError, AssertionError):
                timings[plan] = math.inf
                continue
            elapsed = _time(device, step, bufs)
            if not np.allclose(result(), reference, rtol=1e-3, atol=1e-3, equal_nan=True):
                elapsed = math.inf  # a plan that changes the answer never wins
            timings[plan] = elapsed
            improved |= elapsed < min(timings[b] for b in beam)
        beam = sorted(timings, key=timings.__getitem__)[: max(1, flags.BEAM.value)]
        if not improved:
            break
    if flags.DEBUG.value >= 2:
        before, after = timings[start] * 1e6, timings[beam[0]] * 1e6
        print(f"  BEAM {kernel.name}: {before:.1f} us -> {after:.1f} us, {len(timings)} plans")
    return beam[0]
