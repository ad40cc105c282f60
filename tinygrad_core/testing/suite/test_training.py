"""Level 'training': small models trained end to end on the device must reach a loss threshold.

Everything a real training step does runs here: forward, backward, the optimizer's in-place updates (ASSIGN kernels
that read and write the same buffer), step after step on the same buffers. Seeds are fixed: no flakiness.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_core.nn import optim
from tinygrad_core.tensor import Tensor

pytestmark = pytest.mark.kit("training")


def _param(rng: np.random.Generator, device: str, *shape: int) -> Tensor:
    bound = 1 / np.sqrt(shape[0])
    return Tensor(rng.uniform(-bound, bound, shape).astype(np.float32), device=device, requires_grad=True)


def test_linear_regression(device: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64, 4)).astype(np.float32)
    y = x @ np.array([[1.5], [-2.0], [0.5], [3.0]], np.float32) + 0.25
    w, b = _param(rng, device, 4, 1), Tensor(np.zeros((1,), np.float32), device=device, requires_grad=True)
    opt = optim.SGD([w, b], lr=0.5)
    inputs, targets = Tensor(x, device=device), Tensor(y, device=device)
    with Tensor.train():
        for _ in range(30):
            opt.zero_grad()
            loss = ((inputs @ w + b - targets) ** 2).mean()
            loss.backward()
            opt.step()
    assert loss.item() < 1e-4, f"mean squared error {loss.item()} after 30 steps"


def test_mlp_classifier(device: str) -> None:
    """Two interleaved classes (the signs of x0 * x1): a linear model can't, a two-layer ReLU network must."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (128, 2)).astype(np.float32)
    labels = (x[:, 0] * x[:, 1] > 0).astype(np.int32)
    w1, b1 = _param(rng, device, 2, 16), Tensor(np.zeros(16, np.float32), device=device, requires_grad=True)
    w2, b2 = _param(rng, device, 16, 2), Tensor(np.zeros(2, np.float32), device=device, requires_grad=True)
    opt = optim.Adam([w1, b1, w2, b2], lr=0.1)
    inputs = Tensor(x, device=device)
    one_hot = Tensor(np.eye(2, dtype=np.float32)[labels], device=device)
    with Tensor.train():
        for _ in range(40):
            opt.zero_grad()
            logits = (inputs @ w1 + b1).relu() @ w2 + b2
            loss = -(logits.log_softmax() * one_hot).sum(axis=1).mean()
            loss.backward()
            opt.step()
    accuracy = float((logits.numpy().argmax(axis=1) == labels).mean())
    assert loss.item() < 0.1, f"cross-entropy {loss.item()} after 40 steps (accuracy {accuracy:.2f})"
    assert accuracy > 0.95
