"""Autodiff semantics: when ops record their gradient (the grad mode), backward() and gradient(), as the tutorial
and tinygrad define them."""

import threading

import numpy as np
import pytest
import torch

from tinygrad_core import Tensor, no_grad


@pytest.fixture(autouse=True)
def training_off():
    """Each test starts with Tensor.training off and leaves it as it found it."""
    previous = Tensor.training
    Tensor.training = False
    yield
    Tensor.training = previous


def test_training_tracks_default_tensors(device):
    Tensor.training = True
    x = Tensor([1.0, 2.0, 3.0], device=device)
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    (x * x).sum().backward()  # gradients accumulate until reset
    assert x.grad.tolist() == [4.0, 6.0, 8.0]


def test_train_block_and_decorator(device):
    x = Tensor([1.0, 2.0], device=device)
    with Tensor.train():
        assert Tensor.training
        y = (x * 3).sum()
    assert not Tensor.training
    y.backward()  # recorded inside the block: backward works after it
    assert x.grad.tolist() == [3.0, 3.0]

    @Tensor.train()
    def loss(t):
        return (t * t).sum()

    z = Tensor([2.0], device=device)
    loss(z).backward()
    assert z.grad.tolist() == [4.0]


def test_requires_grad_true_works_without_training(device):
    x = Tensor([1.0, -2.0], device=device, requires_grad=True)
    (x.relu() * 5).sum().backward()
    assert x.grad.tolist() == [5.0, 0.0]


def test_untracked_graph_lives_until_realized(device):
    """Training off, default tensors: the graph is kept (tinygrad's functional gradient() works) until realize()."""
    x = Tensor([1.0, 2.0], device=device)
    y = (x * x).sum()
    assert y.requires_grad is None
    assert y.gradient(x)[0].tolist() == [2.0, 4.0]
    z = (x * 3).realize()
    assert z._ctx is None
    with pytest.raises(RuntimeError, match="not part of the graph"):
        z.sum().gradient(x)


def test_every_tensor_of_the_graph_gets_its_gradient(device):
    """tinygrad's rule: backward() fills .grad of intermediate results too, not only leaves."""
    x = Tensor([1.0, 2.0], device=device, requires_grad=False)
    w = Tensor([3.0, 4.0], device=device, requires_grad=True)
    hidden = x * w
    (hidden * hidden).sum().backward()
    assert x.grad is None
    assert hidden.grad.tolist() == [6.0, 16.0]
    assert w.grad.tolist() == [6.0, 32.0]


def test_requires_grad_false_and_no_grad_turn_tracking_off(device):
    Tensor.training = True
    frozen = Tensor([1.0, 2.0], device=device, requires_grad=False)
    free = Tensor([3.0, 4.0], device=device)
    (frozen * free).sum().backward()
    assert frozen.grad is None
    assert free.grad.tolist() == [1.0, 2.0]
    with no_grad():
        assert Tensor.no_grad
        y = (free * 2).sum()
    assert y._ctx is None
    assert not Tensor.no_grad
    Tensor.no_grad = True
    try:
        assert (free * 2)._ctx is None
    finally:
        Tensor.no_grad = False


def test_gradient_of_tensors_created_without_requires_grad(device):
    Tensor.training = True
    x, w = Tensor([1.0, 2.0], device=device), Tensor([3.0, 4.0], device=device)
    dx, dw = (x * w).sum().gradient(x, w)
    assert dx.tolist() == [3.0, 4.0]
    assert dw.tolist() == [1.0, 2.0]
    assert x.grad is None
    assert w.grad is None


@pytest.mark.parametrize(
    ("fn", "torch_fn"),
    [
        (lambda x: x.sign(), torch.sign),
        (lambda x: x.floor(), torch.floor),
        (lambda x: x.ceil(), torch.ceil),
        (lambda x: x.round(), torch.round),
        (lambda x: x.trunc(), torch.trunc),
        (lambda x: x**0, lambda t: t**0),
        (lambda x: (x > 0).where(1.0, 2.0), lambda t: torch.where(t > 0, 1.0, 2.0) + t * 0),
    ],
    ids=["sign", "floor", "ceil", "round", "trunc", "pow0", "comparison"],
)
def test_zero_gradient_ops_give_zeros(device, fn, torch_fn):
    """A target reached only through ops whose derivative is zero gets zeros, as in PyTorch."""
    Tensor.training = True
    values = [-1.5, 0.5, 2.0]
    x = Tensor(values, device=device)
    (g,) = fn(x).sum().gradient(x)
    reference = torch.tensor(values, requires_grad=True)
    torch_fn(reference).sum().backward()
    assert g.tolist() == reference.grad.tolist() == [0.0, 0.0, 0.0]
    fn(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_unreachable_target(device):
    Tensor.training = True
    x, other = Tensor([1.0], device=device), Tensor([2.0], device=device)
    with pytest.raises(RuntimeError, match="not part of the graph"):
        (x * 2).sum().gradient(other)
    (g,) = (x * 2).sum().gradient(other, materialize_grads=True)
    assert g.tolist() == [0.0]


def test_retain_grad(device):
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    hidden = (x * 3).retain_grad()
    (hidden * hidden).sum().backward()
    np.testing.assert_allclose(hidden.grad.numpy(), [6.0, 12.0])
    np.testing.assert_allclose(x.grad.numpy(), [18.0, 36.0])


def test_integers_take_no_part(device):
    Tensor.training = True
    i = Tensor([1, 2], device=device)
    x = Tensor([1.5, 2.5], device=device)
    (x * i).sum().backward()
    assert i.grad is None
    assert x.grad.tolist() == [1.0, 2.0]


def test_train_is_per_thread():
    """`with Tensor.train():` switches this thread only; assigning Tensor.training switches every thread."""
    seen = {}
    inside, release = threading.Event(), threading.Event()

    def worker():
        with Tensor.train():
            inside.set()
            release.wait(10)
            seen["worker"] = Tensor.training

    thread = threading.Thread(target=worker)
    thread.start()
    inside.wait(10)
    seen["main while worker trains"] = Tensor.training
    release.set()
    thread.join()
    assert seen == {"worker": True, "main while worker trains": False}
    Tensor.training = True
    seen.clear()
    thread = threading.Thread(target=lambda: seen.setdefault("worker", Tensor.training))
    thread.start()
    thread.join()
    assert seen == {"worker": True}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.skipif(not hasattr(threading, "get_native_id"), reason="needs /proc")
def test_inference_keeps_no_graph(device):
    """With training off, a long loop of realized ops keeps memory flat: no autodiff context holds old tensors."""
    x = Tensor.zeros(256, device=device).contiguous().realize()
    for _ in range(1_000):  # warm up caches and allocators
        x = (x + 1).realize()
    before = _rss_bytes()
    for _ in range(10_000):
        x = (x + 1).realize()
    growth = (_rss_bytes() - before) / before
    assert x._ctx is None
    assert x.numpy()[0] == 11_000
    assert growth < 0.05, f"RSS grew {growth:.1%} over 10,000 steps"
