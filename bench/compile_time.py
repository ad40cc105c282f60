"""Compile time per distinct kernel on each compiled backend of ours: cold, cached on disk, and in memory.

For each device, a fresh process with an empty CACHEDIR realizes a set of structurally different kernels one at a
time (cold: render, compile, load, launch); a second new process over the same CACHEDIR does it again (the binary
comes from the disk cache); then that process realizes each one once more (its in-memory program cache: a launch).
Prints the median milliseconds per kernel. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

# small shapes: the time is the compiler's, not the kernel's; each graph's time is divided by its kernels
KERNELS = {
    "elementwise": lambda x, y: x * 2 + y,
    "exp2 chain": lambda x, y: ((x - y).exp2() + 1).log2(),
    "where": lambda x, y: (x > y).where(x, y * 3),
    "row sum": lambda x, y: (x * y).sum(1),
    "column max": lambda x, y: x.max(0),
    "matmul": lambda x, y: x @ y.T,
    "softmax": lambda x, y: x.softmax(-1),
    "cast": lambda x, y: (x * 100).cast("int32") + 7,
}


def worker(device: str) -> dict[str, list[float]]:
    import numpy as np

    from tinygrad_core import Device, Tensor
    from tinygrad_core.schedule import capture

    Device[device]  # the device's own setup (loading a compiler, a context) is not a kernel's compile time
    rng = np.random.default_rng(0)
    x, y = (Tensor(rng.standard_normal((64, 64)).astype(np.float32), device=device).realize() for _ in range(2))
    times: dict[str, list[float]] = {"first": [], "again": []}
    for phase in times:
        for make in KERNELS.values():
            start = time.perf_counter()
            with capture() as items:
                make(x, y).realize()
            Device[device].synchronize()
            kernels = sum(item.kernel is not None for item in items)
            times[phase].append((time.perf_counter() - start) / kernels)
    return times


def run(device: str, cachedir: str) -> dict[str, list[float]]:
    env = {**os.environ, "CACHEDIR": cachedir}
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", device], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compiled_backends() -> list[str]:
    from tinygrad_core import Device
    from tinygrad_core.codegen import CompiledDevice

    names = [spec.name for spec in Device.backends() if Device.why_unavailable(spec.name) is None]
    return [name for name in names if isinstance(Device[name], CompiledDevice)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--devices", default="", help="comma list, e.g. 'CLANG,OPENCL' (default: every compiled one)")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return
    devices = [d for d in args.devices.split(",") if d] or compiled_backends()
    print(f"{'device':10s}{'kernels':>9s}{'cold':>12s}{'disk cache':>12s}{'in memory':>12s}   (median per kernel)")
    for device in devices:
        with tempfile.TemporaryDirectory(prefix="tinygrad_core_compile_") as cachedir:
            cold = run(device, cachedir)["first"]
            cached = run(device, cachedir)
        cells = [statistics.median(t) * 1e3 for t in (cold, cached["first"], cached["again"])]
        print(f"{device:10s}{len(KERNELS):9d}" + "".join(f"{ms:9.1f} ms" for ms in cells))


if __name__ == "__main__":
    main()
