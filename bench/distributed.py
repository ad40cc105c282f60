"""Data-parallel training throughput: samples/s of an MLP and a small CNN on 1 process and on N MPI ranks.

Every rank (and the single process) runs one thread (OMP_NUM_THREADS=1, THREADS=1 for the CLANG backend), trains
--batch samples per step (so N ranks train a global batch of N * --batch) and reports, after --warmup steps that
compile the kernels, the global samples/s (the fastest of --repeat runs) and the share of a step spent in
allreduce_gradients (copying the gradients to the host, the MPI reduction, waiting for the slowest rank, and the
copy back), and the CPU time per step of each rank (less sensitive to other work on the machine than the wall
clock). "plain" is one process that never imports tinygrad_core.distributed: the baseline for the speedup.
See bench/README.md.

    .venv/bin/python bench/distributed.py                       # mlp and cnn; plain, 1 and 2 ranks
    .venv/bin/python bench/distributed.py --ranks 1,2,4 --models mlp --steps 50 --device CPU
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

from tinygrad_core import Device, Tensor
from tinygrad_core.nn import Conv2d, Linear, optim
from tinygrad_core.nn.state import get_parameters


class MLP:
    def __init__(self) -> None:
        self.layers = [Linear(784, 512), Tensor.relu, Linear(512, 512), Tensor.relu, Linear(512, 10)]

    def __call__(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1).sequential(self.layers)


class CNN:
    def __init__(self) -> None:
        self.layers = [
            Conv2d(1, 16, 3, padding=1),
            Tensor.relu,
            Tensor.max_pool2d,
            Conv2d(16, 32, 3, padding=1),
            Tensor.relu,
            Tensor.max_pool2d,
            lambda x: x.flatten(1),
            Linear(32 * 7 * 7, 10),
        ]

    def __call__(self, x: Tensor) -> Tensor:
        return x.sequential(self.layers)


def worker(args: argparse.Namespace) -> None:
    """One rank (or the plain process): time the steps, print one JSON line (rank 0 only)."""
    if args.device:
        Device.DEFAULT = args.device
    rank, ranks = 0, 1
    if not args.plain:
        from tinygrad_core import distributed

        distributed.init()
        rank, ranks = distributed.rank(), distributed.world_size()
    Tensor.manual_seed(0)
    model = MLP() if args.model == "mlp" else CNN()
    params = get_parameters(model)
    opt = optim.Adam(params, lr=1e-3)
    if not args.plain:
        distributed.broadcast_parameters(model)
    data = np.random.default_rng(rank)
    x = data.standard_normal((args.batch, 1, 28, 28)).astype(np.float32)
    y = data.integers(0, 10, args.batch).astype(np.int32)
    comm_time = 0.0
    Tensor.training = True
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            if not args.plain:
                distributed.barrier()
            started, cpu_started, comm_time = time.perf_counter(), time.process_time(), 0.0
        opt.zero_grad()
        loss = model(Tensor(x)).sparse_categorical_crossentropy(Tensor(y))
        loss.backward()
        # the backward pass realized apart, so that the allreduce is timed alone; contiguous, as DistributedOptimizer
        # makes the gradients in the backward pass's schedule (no copy kernel when they are read to the host)
        grads = [param.grad.contiguous() for param in opt.params if param.grad is not None]
        Tensor.realize(loss, *grads)
        for param, grad in zip(opt.params, grads):
            param.grad = grad
        if not args.plain:
            before = time.perf_counter()
            distributed.allreduce_gradients(opt.params)
            comm_time += time.perf_counter() - before
        opt.step()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if not args.plain:
        from tinygrad_core.distributed.comm import world

        elapsed = world().comm.allreduce(elapsed, op=distributed.comm.mpi().MAX)
        comm_time = world().comm.allreduce(comm_time) / ranks
        cpu = world().comm.allreduce(cpu) / ranks
    if rank == 0:
        samples = args.batch * ranks * args.steps
        cpu_per_step = 1e3 * cpu / args.steps
        print(
            json.dumps({"samples_per_s": samples / elapsed, "comm_share": comm_time / elapsed, "cpu_ms": cpu_per_step})
        )


def best(model: str, ranks: int | None, args: argparse.Namespace) -> dict[str, float]:
    """The fastest of --repeat runs: on a shared machine the others mostly measure the neighbours' load."""
    return max((run(model, ranks, args) for _ in range(args.repeat)), key=lambda result: result["samples_per_s"])


def run(model: str, ranks: int | None, args: argparse.Namespace) -> dict[str, float]:
    """One measurement in fresh processes: `ranks` None is the plain process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "THREADS": "1"}
    env |= {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}  # needed only as root
    command = [sys.executable, __file__, "--worker", "--model", model, "--batch", str(args.batch)]
    command += ["--steps", str(args.steps), "--warmup", str(args.warmup)]
    command += ["--device", args.device] if args.device else []
    if ranks is None:
        command.append("--plain")
    else:
        command = ["mpirun", "-n", str(ranks), "--oversubscribe", "--bind-to", "none", *command]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,cnn")
    parser.add_argument("--ranks", default="1,2", help="rank counts to run under mpirun (plain always runs)")
    parser.add_argument("--batch", type=int, default=128, help="samples per rank per step")
    parser.add_argument("--steps", type=int, default=30, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (kernel compilation)")
    parser.add_argument("--device", help="default: Device.DEFAULT")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the fastest is shown (shared machines)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="mlp", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if shutil.which("mpirun") is None:
        raise SystemExit("mpirun not found: apt install openmpi-bin libopenmpi-dev, then pip install mpi4py")
    print(
        f"device {args.device or Device.DEFAULT}, {args.batch} samples per rank per step, one thread per rank, "
        f"{os.cpu_count()} cores"
    )
    print(f"{'model':6} {'ranks':>6} {'samples/s':>10} {'speedup':>8} {'comm share':>11} {'cpu ms/step/rank':>17}")
    for model in args.models.split(","):
        plain = best(model, None, args)
        baseline = plain["samples_per_s"]
        print(f"{model:6} {'plain':>6} {baseline:10.1f} {1.0:7.2f}x {'-':>11} {plain['cpu_ms']:17.1f}")
        for ranks in (int(n) for n in args.ranks.split(",")):
            result = best(model, ranks, args)
            rate, share, cpu = result["samples_per_s"], f"{result['comm_share']:.1%}", result["cpu_ms"]
            print(f"{model:6} {ranks:6d} {rate:10.1f} {rate / baseline:7.2f}x {share:>11} {cpu:17.1f}")


if __name__ == "__main__":
    main()
