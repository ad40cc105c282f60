"""Train a small residual network on Fashion-MNIST with random-crop/flip augmentation written in Tensor ops.

Shows what a modern image classifier needs from the library: BatchNorm, skip connections (identity, or a strided
1x1 convolution where the shape changes), strided 3x3 convolutions instead of pooling, global average pooling, SGD
with Nesterov momentum and a one-cycle learning rate, a TinyJit training step, and checkpoints written with
safe_save after every epoch that --resume continues from (weights, momentum buffers and the schedule's position).

Expect about 92.7% test accuracy on Fashion-MNIST after the default 6 epochs, in about 13 minutes on 2 CPU cores
(see examples/README.md); `--limit 512 --epochs 1` is a smoke run of under a minute, mostly compiling kernels. Data
as in mnist.py (--data, --digits, Fashion-MNIST from Debian's dataset-fashion-mnist, else scikit-learn's digits).

    python examples/resnet.py [--epochs 6] [--width 12] [--stages 3] [--batch-size 128] [--lr 0.1] [--device CLANG]
                              [--limit N] [--out runs/] [--resume runs/resnet.safetensors] [--plot runs/resnet.png]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from mnist import (
    add_common_arguments,
    apply_common_arguments,
    choose_data,
    device_line,
    evaluate,
    normalise,
    plot_curves,
)
from tqdm import tqdm

from tinygrad_core import Device, Tensor
from tinygrad_core.jit import TinyJit
from tinygrad_core.nn import BatchNorm, Conv2d, Linear, optim
from tinygrad_core.nn.state import get_state_dict, load_state_dict, safe_load, safe_metadata, safe_save


# --- model ---
class Block:
    """Two 3x3 conv-BN layers plus the input: the identity, or a strided 1x1 conv-BN where the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int):
        self.conv1 = Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = BatchNorm(cout)
        self.conv2 = Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = BatchNorm(cout)
        self.shortcut = [Conv2d(cin, cout, 1, stride=stride, bias=False), BatchNorm(cout)] if stride > 1 else []

    def __call__(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(self.bn1(self.conv1(x)).relu()))
        return (out + x.sequential(self.shortcut)).relu()


class ResNet:
    """A 3x3 conv stem, then stages of residual blocks that halve the size and double the width, then global average
    pooling and a linear classifier: 28x28 -> 14x14 -> 7x7 -> 4x4 with width w -> 2w -> 4w -> 8w for 3 stages."""

    def __init__(self, width: int = 12, classes: int = 10, stages: int = 3):
        self.stem = [Conv2d(1, width, 3, padding=1, bias=False), BatchNorm(width), Tensor.relu]
        self.blocks = [Block(width * 2**i, width * 2 ** (i + 1), stride=2) for i in range(stages)]
        self.head = Linear(width * 2**stages, classes)

    def __call__(self, x: Tensor) -> Tensor:
        features = x.sequential(self.stem).sequential(self.blocks)
        return self.head(features.mean(axis=(2, 3)))


# --- augmentation ---
def augment(images: Tensor, shifts: Tensor, flips: Tensor, pad: int, fill: float) -> Tensor:
    """Random crops of the padded images, mirrored where flips is 1, as two batched one-hot matmuls.

    images (N, 1, H, W); shifts (N, 2) int32 in [0, 2 * pad], the crop's top-left corner in the padded image;
    flips (N,) int32 0 or 1. Output row i, column j reads padded row i + dy and column dx + (W - 1 - j if flipped
    else j), so crop and flip are one selection matrix per axis, computed on the device with the rest of the step.
    The border is `fill`: the normalised value of a black pixel, the images' own background (zeros would be grey).
    """
    n, _, height, width = images.shape
    padded = images.reshape(n, height, width).pad(((0, 0), (pad, pad), (pad, pad)), value=fill)
    out_rows, out_cols = Tensor.arange(height), Tensor.arange(width)
    src_rows = out_rows.reshape(1, height, 1) + shifts[:, 0].reshape(n, 1, 1)  # (N, H, 1)
    mirrored = out_cols + flips.reshape(n, 1) * (width - 1 - 2 * out_cols)  # (N, W)
    src_cols = mirrored.reshape(n, 1, width) + shifts[:, 1].reshape(n, 1, 1)  # (N, 1, W)
    select_rows = (src_rows == Tensor.arange(height + 2 * pad).reshape(1, 1, -1)).float()  # (N, H, H + 2 pad)
    select_cols = (src_cols == Tensor.arange(width + 2 * pad).reshape(1, -1, 1)).float()  # (N, W + 2 pad, W)
    return (select_rows @ padded @ select_cols).reshape(n, 1, height, width)


# --- training ---
def one_cycle(total: int, warmup: float = 0.15) -> Callable[[int], float]:
    """Learning-rate factor per step: linear warm-up from 0.1 to 1 over the first `warmup` of training, then a
    cosine to 0, which lets a few epochs reach what a long constant-rate run would."""

    def factor(step: int) -> float:
        rise = max(int(total * warmup), 1)
        if step < rise:
            return 0.1 + 0.9 * step / rise
        return 0.5 * (1 + math.cos(math.pi * min(step - rise, total - rise) / max(total - rise, 1)))

    return factor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--epochs", type=int, default=6, help="passes over the training set (default 6)")
    parser.add_argument("--batch-size", type=int, default=128, help="samples per step (default 128)")
    parser.add_argument("--lr", type=float, default=0.1, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--weight-decay", type=float, default=5e-5, help="SGD's L2 weight decay (default 5e-5)")
    parser.add_argument("--width", type=int, default=12, help="channels of the stem; each stage doubles them")
    parser.add_argument("--stages", type=int, default=3, help="residual blocks, each halving the size (default 3)")
    parser.add_argument("--limit", type=int, help="train on the first N samples (and test on N) only: quick runs")
    parser.add_argument("--out", default="runs", help="folder for the checkpoint (default runs/)")
    parser.add_argument("--resume", help="checkpoint to continue from: weights, optimizer state and epochs done")
    parser.add_argument("--plot", help="also write the loss and the test accuracy after each epoch to this PNG")
    args = parser.parse_args()
    apply_common_arguments(args)

    source, (x_train, y_train, x_test, y_test) = choose_data(args)
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
        x_test, y_test = x_test[: args.limit], y_test[: args.limit]
    batch_size = min(args.batch_size, len(y_train))
    mean, std = float(x_train.mean()), float(x_train.std())
    pad = 1  # crops move the image by up to one pixel: this small network underfits, more would only slow it down
    print(f"data: {source}; {len(y_train)} training and {len(y_test)} test images of {x_train.shape[1:]}")

    model = ResNet(args.width, stages=args.stages)
    opt = optim.SGD([model], lr=args.lr, momentum=0.9, nesterov=True, weight_decay=args.weight_decay)
    steps_per_epoch = len(y_train) // batch_size
    schedule = optim.LambdaLR(opt, one_cycle(args.epochs * steps_per_epoch))
    checkpoint = {"model": model, "momentum": opt.b}
    done = 0
    if args.resume:
        load_state_dict(checkpoint, safe_load(args.resume))
        done = int(safe_metadata(args.resume)["epochs"])
        schedule.last_epoch = done * steps_per_epoch - 1
        schedule.step()
        print(f"resumed from {args.resume} after {done} epoch(s)")
    params = sum(p.numel() for p in opt.params)
    print(
        f"{device_line()}; ResNet width {args.width}, {args.stages} stages ({params} parameters), "
        f"{args.epochs} epoch(s), batch size {batch_size}, SGD one-cycle lr {args.lr}"
    )

    @TinyJit
    def train_step(images: Tensor, labels: Tensor, shifts: Tensor, flips: Tensor) -> Tensor:
        opt.zero_grad()
        loss = model(augment(images, shifts, flips, pad, -mean / std)).sparse_categorical_crossentropy(labels)
        loss.backward()
        return loss.realize(*opt.schedule_step())

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "resnet.safetensors"
    rng = np.random.default_rng(args.seed + done)
    started = time.perf_counter()
    losses: list[float] = []
    accuracies: list[float] = []
    with Tensor.train():
        for epoch in range(done, args.epochs):
            order = rng.permutation(len(y_train))
            bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{args.epochs}")
            for step in bar:
                batch = order[step * batch_size : (step + 1) * batch_size]
                shifts = Tensor(rng.integers(0, 2 * pad + 1, (len(batch), 2), dtype=np.int32))
                flips = Tensor(rng.integers(0, 2, len(batch), dtype=np.int32))
                labels = Tensor(y_train[batch].astype(np.int32))
                loss = train_step(normalise(x_train[batch], mean, std), labels, shifts, flips).item()
                schedule.step()
                losses.append(loss)
                if step % 10 == 0 or step == steps_per_epoch - 1:
                    bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}", lr=f"{schedule.get_last_lr()[0]:.4f}")
            safe_save(get_state_dict(checkpoint), path, metadata={"epochs": str(epoch + 1), "source": source})
            if args.plot:
                with Tensor.train(False):  # BatchNorm's running statistics, not this batch's
                    accuracies.append(evaluate(model, x_test, y_test, mean, std))
                tqdm.write(f"epoch {epoch + 1}: test accuracy {accuracies[-1] * 100:.2f}%")
    train_time = time.perf_counter() - started
    accuracy = accuracies[-1] if accuracies else evaluate(model, x_test, y_test, mean, std)
    files = f"weights and optimizer state in {path}"
    if args.plot:
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        plot_curves(Path(args.plot), losses, accuracies, done)
        files += f", plot in {args.plot}"
    print(
        f"resnet: test accuracy {accuracy * 100:.2f}% after {args.epochs} epoch(s); trained {train_time:.1f} s on "
        f"{Device.DEFAULT}; {files}"
    )


if __name__ == "__main__":
    main()
