"""TinyJit: capture once, replay with new inputs, refuse what it can't replay."""

import numpy as np
import pytest

from tinygrad_core import Tensor
from tinygrad_core.errors import JitError
from tinygrad_core.jit import TinyJit


def test_replays_with_new_inputs(device):
    calls = []

    @TinyJit
    def f(a, b):
        calls.append(1)
        return ((a * b) + 1).sum(1)

    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32)
        out = f(Tensor(a, device=device), Tensor(b, device=device))
        np.testing.assert_allclose(out.numpy(), (a * b + 1).sum(1), rtol=1e-5)
    assert len(calls) == 2  # warm-up and capture; the rest were replays without Python


def test_replays_read_inputs_updated_in_place(device):
    """The same input Tensors every call (their buffers stay bound), with new contents written by assign()."""
    f = TinyJit(lambda x: (x * 2).sum())
    x = Tensor.zeros(8, device=device).contiguous().realize()
    for step in range(5):
        x.assign(Tensor.full((8,), float(step), device=device)).realize()
        assert f(x).item() == 16 * step


def test_training_step_matches_eager(device):
    def make():
        return Tensor(
            np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2), device=device, requires_grad=True
        ).realize()

    def step(w, x, y):
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        w.assign(w - w.grad * 0.1)
        w.grad = None
        return loss.realize(w)  # like an optimizer's step(): everything the function updates is realized inside

    rng = np.random.default_rng(1)
    batches = [
        (rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((5, 2)).astype(np.float32))
        for _ in range(5)
    ]
    eager_w, jit_w = make(), make()
    jitted = TinyJit(lambda x, y: step(jit_w, x, y))
    with Tensor.train():
        for x, y in batches:
            eager_loss = step(eager_w, Tensor(x, device=device), Tensor(y, device=device)).item()
            jit_loss = jitted(Tensor(x, device=device), Tensor(y, device=device)).item()
            assert jit_loss == pytest.approx(eager_loss, rel=1e-5)
    np.testing.assert_allclose(jit_w.numpy(), eager_w.numpy(), rtol=1e-5)


def test_signature_change_is_an_error(device):
    f = TinyJit(lambda x: (x * 2).sum())
    for _ in range(3):
        f(Tensor.ones(4, device=device))
    with pytest.raises(JitError, match=r"captured for .*\(4,\).*got .*\(5,\)"):
        f(Tensor.ones(5, device=device))
    f.reset()
    assert f(Tensor.ones(5, device=device)).item() == 10


def test_random_numbers_inside_capture_are_refused(device):
    f = TinyJit(lambda x: x + Tensor.rand(3, device=device))
    f(Tensor.ones(3, device=device))
    with pytest.raises(JitError, match="random"):
        f(Tensor.ones(3, device=device))
