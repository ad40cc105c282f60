"""Train a LeNet-style CNN on MNIST-format data, save it with safe_save, reload it into a fresh model, evaluate.

Data, in order of preference: gzip IDX files in --data DIR (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz: MNIST or Fashion-MNIST); Fashion-MNIST from Debian's
dataset-fashion-mnist package in /usr/share/datasets/fashion-mnist; scikit-learn's bundled 8x8 digits (--digits
forces these).

    python examples/mnist.py [--epochs 2] [--batch-size 128] [--lr 0.002] [--device CLANG] [--limit N]
                             [--save PATH] [--resume PATH] [--plot runs/mnist.png]
    mpirun -n 2 python examples/mnist.py --distributed    # data parallel: each rank takes its share of each batch

--plot writes the training loss and the test accuracy after each epoch as a PNG; --resume continues a run saved
with --save (weights, Adam's state, epochs done) up to --epochs in all. Expect about 90% on Fashion-MNIST.
"""

from __future__ import annotations

import argparse
import gzip
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tinygrad_core import Device, Tensor, distributed, no_grad
from tinygrad_core.nn import BatchNorm, Conv2d, Linear, optim
from tinygrad_core.nn.state import get_state_dict, load_state_dict, safe_load, safe_metadata, safe_save

FASHION = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

Dataset = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # train images, train labels, test images, test labels


# --- data ---
def read_idx(path: Path) -> np.ndarray:
    """One gzip IDX file: a big-endian header (magic with the dtype code and rank, then each dim), then the data."""
    raw = gzip.decompress(path.read_bytes())
    if raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes (magic {raw[:4].hex()})")
    rank = raw[3]
    dims = tuple(int(n) for n in np.frombuffer(raw, ">u4", rank, 4))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * rank)
    if data.size != math.prod(dims):
        raise ValueError(f"{path}: header says {dims} ({math.prod(dims)} bytes) but holds {data.size}")
    return data.reshape(dims)


def load_idx(folder: Path) -> Dataset:
    missing = [name for name in IDX_FILES if not (folder / name).exists()]
    if missing:
        raise SystemExit(f"--data {folder}: missing {', '.join(missing)}")
    x_train, y_train, x_test, y_test = (read_idx(folder / name) for name in IDX_FILES)
    return x_train / np.float32(255), y_train, x_test / np.float32(255), y_test


def load_digits() -> Dataset:
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    images, labels = digits.images[order] / np.float32(16), digits.target[order]
    split = len(labels) * 4 // 5
    return images[:split], labels[:split], images[split:], labels[split:]


def choose_data(args: argparse.Namespace) -> tuple[str, Dataset]:
    if args.digits:
        return "scikit-learn digits (8x8)", load_digits()
    if args.data:
        return f"IDX files from {args.data}", load_idx(Path(args.data))
    if all((FASHION / name).exists() for name in IDX_FILES):
        return f"Fashion-MNIST from {FASHION}", load_idx(FASHION)
    return f"scikit-learn digits (8x8): {FASHION} not found (apt install dataset-fashion-mnist)", load_digits()


# --- model ---
class LeNet:
    """conv-BN-relu-pool twice, then a linear classifier; 3x3 convolutions padded to keep sizes (28 -> 14 -> 7)."""

    def __init__(self, size: int, classes: int = 10, channels: tuple[int, int] = (16, 32)):
        c1, c2 = channels
        self.layers = [
            Conv2d(1, c1, 3, padding=1),
            BatchNorm(c1),
            Tensor.relu,
            Tensor.max_pool2d,
            Conv2d(c1, c2, 3, padding=1),
            BatchNorm(c2),
            Tensor.relu,
            Tensor.max_pool2d,
            lambda x: x.flatten(1),
            Linear(c2 * (size // 4) ** 2, classes),
        ]

    def __call__(self, x: Tensor) -> Tensor:
        return x.sequential(self.layers)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every Fashion-MNIST example takes: where the data is, the device and the seed."""
    parser.add_argument("--data", help="folder with the four gzip IDX files (default: Fashion-MNIST if installed)")
    parser.add_argument("--digits", action="store_true", help="use scikit-learn's 8x8 digits")
    parser.add_argument("--device", help="device to train on (default: Device.DEFAULT)")
    parser.add_argument("--seed", type=int, default=0)


def apply_common_arguments(args: argparse.Namespace) -> None:
    if args.device:
        Device.DEFAULT = args.device
    Tensor.manual_seed(args.seed)


def device_line() -> str:
    """The device a run uses, and what it is here: "device: TORCH (PyTorch 2.13.0+cpu on the CPU: no CUDA device)"."""
    return f"device: {Device.DEFAULT} ({Device.describe(Device.DEFAULT)})"


def normalise(images: np.ndarray, mean: float, std: float) -> Tensor:
    return Tensor(((images - mean) / std).astype(np.float32)[:, None])


def evaluate(model: LeNet, images: np.ndarray, labels: np.ndarray, mean: float, std: float, batch: int = 1000) -> float:
    correct = 0
    with no_grad():
        for start in range(0, len(labels), batch):
            logits = model(normalise(images[start : start + batch], mean, std))
            correct += int((logits.argmax(axis=1).numpy() == labels[start : start + batch]).sum())
    return correct / len(labels)


def split_checkpoint(state: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """A file written by --save: (the model's weights, the optimizer's state, stored under "optimizer.")."""
    optimizer = {key.removeprefix("optimizer."): value for key, value in state.items() if key.startswith("optimizer.")}
    return {key: value for key, value in state.items() if not key.startswith("optimizer.")}, optimizer


def plot_curves(path: Path, losses: list[float], accuracies: list[float], first_epoch: int) -> None:
    """Training loss per step and test accuracy per epoch, side by side, as a PNG."""
    import matplotlib  # only --plot needs it: the `examples` extra

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    steps_per_epoch = len(losses) / max(len(accuracies), 1)
    left.plot(first_epoch + np.arange(1, len(losses) + 1) / steps_per_epoch, losses, lw=0.7)
    left.set(xlabel="epoch", ylabel="training loss", title="loss")
    epochs = np.arange(first_epoch + 1, first_epoch + len(accuracies) + 1)
    right.plot(epochs, np.array(accuracies) * 100, marker="o")
    right.set(xlabel="epoch", ylabel="test accuracy (%)", title="accuracy", xticks=epochs)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--epochs", type=int, default=2, help="passes over the training set (default 2)")
    parser.add_argument("--batch-size", type=int, help="samples per step (default 128; 32 for the small digits set)")
    parser.add_argument("--lr", type=float, default=0.002, help="Adam's initial learning rate, cosine-annealed to 0")
    parser.add_argument("--limit", type=int, help="train on the first N samples only (quick runs)")
    parser.add_argument("--save", help="where to write the weights (default: a temporary file)")
    parser.add_argument("--resume", help="continue from a file written by --save, up to --epochs in all")
    parser.add_argument("--plot", help="write the loss and accuracy curves to this PNG")
    parser.add_argument(
        "--distributed", action="store_true", help="data parallel under mpirun: the batch is split across the ranks"
    )
    args = parser.parse_args()
    rank, ranks = 0, 1
    if args.distributed:
        distributed.init()
        rank, ranks = distributed.rank(), distributed.world_size()
        if rank:
            sys.stdout = open(os.devnull, "w")  # rank 0 reports for every rank
    apply_common_arguments(args)

    source, (x_train, y_train, x_test, y_test) = choose_data(args)
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    batch_size = args.batch_size or (32 if x_train.shape[-1] < 28 else 128)
    mean, std = float(x_train.mean()), float(x_train.std())
    print(f"data: {source}; {len(y_train)} training and {len(y_test)} test images of {x_train.shape[1:]}")
    print(f"{device_line()}; {args.epochs} epoch(s), batch size {batch_size}, Adam lr {args.lr}")

    model = LeNet(x_train.shape[-1])
    opt = adam = optim.Adam([model], lr=args.lr)
    done = 0
    if args.resume:
        weights, adam_state = split_checkpoint(safe_load(args.resume))
        load_state_dict(model, weights)
        load_state_dict(adam, adam_state)
        done = int(safe_metadata(args.resume)["epochs"])
        print(f"resumed from {args.resume} after {done} epoch(s)")
    local_batch = batch_size // ranks
    if args.distributed:
        if batch_size % ranks:
            raise SystemExit(f"--batch-size {batch_size} must be a multiple of the {ranks} ranks")
        print(f"distributed: {ranks} ranks, {local_batch} samples of each batch per rank")
        distributed.broadcast_parameters(model)
        opt = distributed.DistributedOptimizer(opt)
        sampler = distributed.DistributedSampler(len(y_train), seed=args.seed, drop_last=True)
    steps_per_epoch = max(len(y_train) // batch_size, 1)
    schedule = optim.CosineAnnealingLR(opt, T_max=args.epochs * steps_per_epoch)
    if done:  # the learning rate where the saved run stopped
        schedule.last_epoch = done * steps_per_epoch - 1
        schedule.step()
    rng = np.random.default_rng(args.seed)
    losses: list[float] = []
    accuracies: list[float] = []
    started = time.perf_counter()
    with Tensor.train():
        for epoch in range(done, args.epochs):
            order = rng.permutation(len(y_train))
            if args.distributed:  # this rank's shard of the epoch: the same shuffle everywhere, disjoint indices
                sampler.set_epoch(epoch)
                order = sampler.indices()
            bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{args.epochs}", disable=rank != 0)
            for step in bar:
                batch = order[step * local_batch : (step + 1) * local_batch]
                opt.zero_grad()
                loss = model(normalise(x_train[batch], mean, std)).sparse_categorical_crossentropy(
                    Tensor(y_train[batch].astype(np.int32))
                )
                loss.backward()
                # opt.step(), with the loss computed in the same pass (afterwards it would read the updated weights)
                Tensor.realize(loss, *opt.schedule_step())
                schedule.step()
                losses.append(loss.item())
                if step % 10 == 0 or step == steps_per_epoch - 1:
                    bar.set_postfix(loss=f"{losses[-1]:.3f}")
            if args.plot:
                with Tensor.train(False):  # BatchNorm's running statistics, not this batch's
                    accuracies.append(evaluate(model, x_test, y_test, mean, std))
    train_time = time.perf_counter() - started
    if args.distributed:  # BatchNorm's running statistics: each rank kept its own; evaluate with their mean
        distributed.sync_buffers(model)
    accuracy = evaluate(model, x_test, y_test, mean, std)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.save) if args.save and rank == 0 else Path(tmp) / "lenet.safetensors"
        state = {**get_state_dict(model), **get_state_dict(adam, "optimizer.")}  # --resume continues from these
        epochs = str(max(done, args.epochs))
        safe_save(state, path, metadata={"source": source, "accuracy": f"{accuracy:.4f}", "epochs": epochs})
        fresh = LeNet(x_train.shape[-1])
        load_state_dict(fresh, split_checkpoint(safe_load(path))[0])
        reloaded = evaluate(fresh, x_test, y_test, mean, std)
    where = f" to {args.save}" if args.save else ""
    print(f"weights saved with safe_save{where} and reloaded into a fresh model: test accuracy {reloaded * 100:.2f}%")
    if reloaded != accuracy:
        raise SystemExit("the reloaded model disagrees with the trained one")
    if args.plot and rank == 0:
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        plot_curves(Path(args.plot), losses, accuracies, done)
    files = [f"weights in {args.save}" if args.save else "weights not kept (--save)"]
    files += [f"plot in {args.plot}"] if args.plot else []
    summary = f"test accuracy {accuracy * 100:.2f}%; trained {train_time:.1f} s on {Device.DEFAULT}"
    print(f"mnist: {summary}; {', '.join(files)}")


if __name__ == "__main__":
    main()
