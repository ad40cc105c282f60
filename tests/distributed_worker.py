"""What tests/test_distributed.py runs under mpirun (and once without, as the single-process reference).

Trains a small MLP for --steps steps on a fixed data set, once per device and optimizer (SGD with momentum through
step(), Adam through schedule_step(), both under a StepLR scheduler), and writes the final parameters to OUT (.npz,
keys "DEVICE/OPTIMIZER/NAME"). With mpirun each of the N ranks takes its 1/N of every global batch of --batch
samples; --plain trains the whole batch in one process without tinygrad_core.distributed. --fail makes rank 1
misbehave at step 3 (raise, kill, hang) or build another model. --batchnorm writes every rank's BatchNorm running
statistics instead (synced at each step, per rank, then synced once).

    python tests/distributed_worker.py OUT.npz --plain
    mpirun -n 2 python tests/distributed_worker.py OUT.npz [--fail raise|kill|hang|mismatch] [--timeout 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import time

import numpy as np

from tinygrad_core import Device, Tensor
from tinygrad_core.nn import BatchNorm, Linear, optim
from tinygrad_core.nn.state import get_state_dict

FEATURES, HIDDEN, CLASSES = 6, 16, 3


class MLP:
    def __init__(self, classes: int = CLASSES):
        self.layers = [Linear(FEATURES, HIDDEN), Tensor.relu, Linear(HIDDEN, classes)]

    def __call__(self, x: Tensor) -> Tensor:
        return x.sequential(self.layers)


def make_optimizer(name: str, model: MLP) -> optim.Optimizer:
    if name == "sgd":
        return optim.SGD([model], lr=0.1, momentum=0.9)
    return optim.Adam([model], lr=0.01)


def batchnorm_statistics(x: np.ndarray, device: str) -> dict[str, np.ndarray]:
    """Three steps on each rank's own samples with DistributedOptimizer(sync_buffers=True), and with the default
    (per-rank statistics), then sync_buffers(model): every rank's running statistics, keyed "CASE/RANK"."""
    from tinygrad_core import distributed
    from tinygrad_core.distributed.comm import world

    Device.DEFAULT = device
    part = len(x) // distributed.world_size()
    local = Tensor(x[distributed.rank() * part : (distributed.rank() + 1) * part])
    out: dict[str, np.ndarray] = {}

    def record(case: str, norm: BatchNorm) -> None:
        stats = np.concatenate([norm.running_mean.numpy(), norm.running_var.numpy()])
        for rank, value in enumerate(world().comm.allgather(stats)):
            out[f"{case}/{rank}"] = value

    for synced in (True, False):
        Tensor.manual_seed(0)
        model = [Linear(FEATURES, FEATURES), BatchNorm(FEATURES)]
        opt = distributed.DistributedOptimizer(optim.SGD([model], lr=0.1), sync_buffers=synced)
        for _ in range(3):
            opt.zero_grad()
            local.sequential(model).square().mean().backward()
            opt.step()
        record("synced each step" if synced else "per rank", model[1])
    distributed.sync_buffers(model)
    record("synced once", model[1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--plain", action="store_true", help="one process, no tinygrad_core.distributed")
    parser.add_argument("--devices", default="CLANG,CPU")
    parser.add_argument("--batch", type=int, default=16, help="global batch size")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--fail", choices=["raise", "kill", "hang", "mismatch"])
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--batchnorm", action="store_true", help="write every rank's BatchNorm running statistics")
    args = parser.parse_args()

    rank, ranks = 0, 1
    if not args.plain:
        from tinygrad_core import distributed

        distributed.init(timeout=args.timeout)
        rank, ranks = distributed.rank(), distributed.world_size()
    local = args.batch // ranks
    data = np.random.default_rng(1)
    x = data.standard_normal((args.steps * args.batch, FEATURES)).astype(np.float32)
    y = data.integers(0, CLASSES, args.steps * args.batch).astype(np.int32)

    results: dict[str, np.ndarray] = {}
    Tensor.training = True
    if args.batchnorm:
        results = batchnorm_statistics(x[: args.batch], args.devices.split(",")[-1])
    for device in [] if args.batchnorm else args.devices.split(","):
        Device.DEFAULT = device
        for name in ("sgd", "adam"):
            # the other ranks start from other weights: broadcast_parameters must replace them with rank 0's
            Tensor.manual_seed(0 if rank == 0 else 100 + rank)
            model = MLP(CLASSES + 1 if args.fail == "mismatch" and rank == 1 else CLASSES)
            opt = make_optimizer(name, model)
            if not args.plain:
                distributed.broadcast_parameters(model)
                opt = distributed.DistributedOptimizer(opt)
            # a scheduler on the wrapper must drive the wrapped optimizer's lr
            schedule = optim.StepLR(opt, step_size=10, gamma=0.5)
            for step in range(args.steps):
                if step == 3 and rank == 1:
                    if args.fail == "raise":
                        raise RuntimeError("distributed_worker: rank 1 fails on purpose at step 3")
                    if args.fail == "kill":
                        os.kill(os.getpid(), signal.SIGKILL)
                    if args.fail == "hang":
                        time.sleep(600)
                start = step * args.batch + rank * local
                opt.zero_grad()
                loss = model(Tensor(x[start : start + local])).sparse_categorical_crossentropy(
                    Tensor(y[start : start + local])
                )
                loss.backward()
                if name == "sgd":
                    opt.step()
                else:  # the loss computed in the same pass as the update, as examples/mnist.py does it
                    Tensor.realize(loss, *opt.schedule_step())
                schedule.step()
            for key, tensor in get_state_dict(model).items():
                results[f"{device}/{name}/{key}"] = tensor.numpy()
    if rank == 0:
        np.savez(args.out, **results)


if __name__ == "__main__":
    main()
