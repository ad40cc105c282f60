"""Train a convolutional autoencoder to remove Gaussian noise (sigma 0.3) from Fashion-MNIST, and show the result.

The encoder halves the image with a strided convolution, the decoder doubles it back with a nearest-neighbour
upsampling (a reshape and an expand) and convolutions; one additive skip carries the full-resolution features
across, and the output is the input minus the noise it predicts. Trained with Adam on the mean squared error
against the clean image, it should gain well over 6 dB of PSNR on the test set (10.5 dB noisy -> about 19.5 dB
denoised, a 9 dB gain, after the default epoch). It writes a PNG grid of 8 test images (rows: noisy, denoised,
clean) and the weights (safe_save) to --out. Data as in mnist.py.

    python examples/denoise.py [--epochs 1] [--sigma 0.3] [--batch-size 128] [--lr 0.002] [--device CLANG]
                               [--limit N] [--out runs/]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib
import numpy as np
from mnist import add_common_arguments, apply_common_arguments, choose_data, device_line
from tqdm import tqdm

from tinygrad_core import Device, Tensor, no_grad
from tinygrad_core.jit import TinyJit
from tinygrad_core.nn import Conv2d, optim
from tinygrad_core.nn.state import get_state_dict, safe_save

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt


class Autoencoder:
    """28x28 -> 14x14 (strided conv) -> 28x28 (upsampling). It predicts the noise and subtracts it from its input,
    so it starts close to the identity (no gain) and learns only what to take away."""

    def __init__(self, width: int = 16):
        self.inp = Conv2d(1, width, 3, padding=1)
        self.down = Conv2d(width, width, 3, stride=2, padding=1)
        self.middle = Conv2d(width, width, 3, padding=1)
        self.up = Conv2d(width, width, 3, padding=1)
        self.out = Conv2d(width, 1, 3, padding=1)

    def __call__(self, x: Tensor) -> Tensor:
        skip = self.inp(x).relu()
        code = self.middle(self.down(skip).relu()).relu()
        n, c, h, w = code.shape
        upsampled = code.reshape(n, c, h, 1, w, 1).expand(n, c, h, 2, w, 2).reshape(n, c, 2 * h, 2 * w)
        return x - self.out(self.up(upsampled).relu() + skip)


def psnr(images: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Peak signal-to-noise ratio of each image against its clean version, in dB, for pixels in [0, 1]."""
    mse = ((images - clean) ** 2).reshape(len(clean), -1).mean(axis=1)
    return 10 * np.log10(1 / np.maximum(mse, 1e-10))


def denoise(model: Autoencoder, noisy: np.ndarray, batch: int = 500) -> np.ndarray:
    with no_grad():
        parts = [
            model(Tensor(noisy[start : start + batch, None])).numpy()[:, 0] for start in range(0, len(noisy), batch)
        ]
    return np.concatenate(parts).clip(0, 1)  # clean pixels lie in [0, 1]


def save_grid(path: Path, rows: list[np.ndarray], names: list[str], title: str) -> None:
    """One image: a row per entry of rows (each (8, H, W)), the row's name at its left."""
    grid = np.concatenate([np.concatenate(list(row), axis=1) for row in rows], axis=0)
    height = rows[0].shape[1]
    fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.imshow(np.clip(grid, 0, 1), cmap="gray", vmin=0, vmax=1)
    ax.set_yticks([height * (i + 0.5) for i in range(len(rows))], names)
    ax.set_xticks([])
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--epochs", type=int, default=1, help="passes over the training set (default 1)")
    parser.add_argument("--batch-size", type=int, default=128, help="samples per step (default 128)")
    parser.add_argument("--lr", type=float, default=0.002, help="Adam's initial learning rate, cosine-annealed to 0")
    parser.add_argument("--sigma", type=float, default=0.3, help="standard deviation of the added noise (default 0.3)")
    parser.add_argument("--width", type=int, default=16, help="channels of every hidden layer (default 16)")
    parser.add_argument("--limit", type=int, help="train on the first N samples (and test on N) only: quick runs")
    parser.add_argument("--out", default="runs", help="folder for the PNG and the weights (default runs/)")
    args = parser.parse_args()
    apply_common_arguments(args)

    source, (x_train, _, x_test, _) = choose_data(args)
    if args.limit:
        x_train, x_test = x_train[: args.limit], x_test[: args.limit]
    x_train, x_test = x_train.astype(np.float32), x_test.astype(np.float32)
    rng = np.random.default_rng(args.seed)
    noisy_test = x_test + args.sigma * rng.standard_normal(x_test.shape, dtype=np.float32)
    batch_size = min(args.batch_size, len(x_train))
    steps_per_epoch = len(x_train) // batch_size
    print(f"data: {source}; {len(x_train)} training and {len(x_test)} test images of {x_train.shape[1:]}")
    print(f"{device_line()}; noise sigma {args.sigma}; {args.epochs} epoch(s), batch size {batch_size}")

    model = Autoencoder(args.width)
    opt = optim.Adam([model], lr=args.lr)
    schedule = optim.CosineAnnealingLR(opt, T_max=args.epochs * steps_per_epoch)

    @TinyJit
    def train_step(noisy: Tensor, clean: Tensor) -> Tensor:
        opt.zero_grad()
        loss = model(noisy).mse_loss(clean)
        loss.backward()
        return loss.realize(*opt.schedule_step())

    started = time.perf_counter()
    with Tensor.train():
        for epoch in range(args.epochs):
            order = rng.permutation(len(x_train))
            bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{args.epochs}")
            for step in bar:
                clean = x_train[order[step * batch_size : (step + 1) * batch_size], None]
                noisy = clean + args.sigma * rng.standard_normal(clean.shape, dtype=np.float32)  # fresh noise each time
                loss = train_step(Tensor(noisy), Tensor(clean)).item()
                schedule.step()
                if step % 10 == 0 or step == steps_per_epoch - 1:
                    bar.set_postfix(loss=f"{loss:.4f}", psnr=f"{10 * np.log10(1 / loss):.1f} dB")
    train_time = time.perf_counter() - started

    denoised = denoise(model, noisy_test)
    before, after = psnr(noisy_test, x_test).mean(), psnr(denoised, x_test).mean()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    grid_path, weights_path = out / "denoise.png", out / "denoise.safetensors"
    title = f"sigma {args.sigma}: noisy {before:.1f} dB, denoised {after:.1f} dB (test set mean PSNR)"
    save_grid(grid_path, [noisy_test[:8], denoised[:8], x_test[:8]], ["noisy", "denoised", "clean"], title)
    safe_save(get_state_dict(model), weights_path, metadata={"sigma": str(args.sigma), "psnr": f"{after:.2f}"})
    print(
        f"denoise: test PSNR {before:.2f} dB noisy -> {after:.2f} dB denoised, gain {after - before:.2f} dB; trained "
        f"{train_time:.1f} s on {Device.DEFAULT}; grid in {grid_path}, weights in {weights_path}"
    )


if __name__ == "__main__":
    main()
