"""Train a small MLP on XOR, which no single Linear layer can separate, and print its accuracy and loss.
Expect 100% accuracy in a few seconds.

python examples/xor.py [--steps 100] [--lr 0.05] [--device CPU]
"""

from __future__ import annotations

import argparse
import time

from tqdm import trange

from tinygrad_core import Device, Tensor
from tinygrad_core.nn import Linear, Sequential, optim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="optimizer steps (default 100)")
    parser.add_argument("--lr", type=float, default=0.05, help="Adam's learning rate (default 0.05)")
    parser.add_argument("--hidden", type=int, default=8, help="hidden units (default 8)")
    parser.add_argument("--device", help="device to train on (default: Device.DEFAULT)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.device:
        Device.DEFAULT = args.device
    Tensor.manual_seed(args.seed)

    X = Tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    Y = Tensor([[0.0], [1.0], [1.0], [0.0]])
    model = Sequential(Linear(2, args.hidden), Tensor.tanh, Linear(args.hidden, 1))
    opt = optim.Adam([model], lr=args.lr)

    print(f"device: {Device.DEFAULT} ({Device.describe(Device.DEFAULT)})")
    started = time.perf_counter()
    with Tensor.train():
        bar = trange(args.steps, desc=f"xor on {Device.DEFAULT}")
        for _ in bar:
            opt.zero_grad()
            loss = model(X).binary_crossentropy_logits(Y)
            loss.backward()
            # opt.step(), with the loss computed in the same pass (afterwards it would read the updated weights)
            Tensor.realize(loss, *opt.schedule_step())
            bar.set_postfix(loss=f"{loss.item():.4f}")

    predictions = (model(X) > 0).numpy().reshape(-1)
    accuracy = (predictions == Y.numpy().reshape(-1).astype(bool)).mean()
    print(
        f"xor: accuracy {accuracy * 100:.1f}%, loss {loss.item():.4f}, predictions {predictions.astype(int).tolist()}; "
        f"trained {time.perf_counter() - started:.1f} s on {Device.DEFAULT}; no files written"
    )


if __name__ == "__main__":
    main()
