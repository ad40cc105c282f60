"""nn.optim: each optimizer's trajectory against torch.optim, the parameter rules and errors, the LR schedulers."""

import numpy as np
import pytest
import torch

from tinygrad_core import Tensor
from tinygrad_core.nn import optim

RNG = np.random.default_rng(0)
W1 = RNG.standard_normal((4, 3)).astype(np.float32)
W2 = RNG.standard_normal((3, 2)).astype(np.float32)
X = RNG.standard_normal((5, 4)).astype(np.float32)


class TwoLayers:
    """Two weights whose gradients depend on each other: a wrong update order would show."""

    def __init__(self, device):
        self.w1 = Tensor(W1.copy(), device=device)
        self.w2 = Tensor(W2.copy(), device=device)


def _loss(x, w1, w2):
    return ((x @ w1).relu() @ w2).square().mean()


def _ours(device, make, steps=4, scheduler=None):
    model = TwoLayers(device)
    opt = make([model])
    sched = scheduler(opt) if scheduler else None
    x = Tensor(X, device=device)
    with Tensor.train():
        for _ in range(steps):
            opt.zero_grad()
            _loss(x, model.w1, model.w2).backward()
            opt.step()
            if sched:
                sched.step()
    return model.w1.numpy(), model.w2.numpy()


def _torch(make, steps=4, scheduler=None):
    w1, w2 = torch.tensor(W1, requires_grad=True), torch.tensor(W2, requires_grad=True)
    opt = make([w1, w2])
    sched = scheduler(opt) if scheduler else None
    for _ in range(steps):
        opt.zero_grad()
        _loss(torch.tensor(X), w1, w2).backward()
        opt.step()
        if sched:
            sched.step()
    return w1.detach().numpy(), w2.detach().numpy()


CASES = {
    "sgd": (lambda p: optim.SGD(p, lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "sgd_momentum_wd": (
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
    ),
    "sgd_nesterov": (
        lambda p: optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
    ),
    "sgd_classic": (
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9, classic=True),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    ),
    "adam": (lambda p: optim.Adam(p, lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    "adam_betas": (
        lambda p: optim.Adam(p, lr=0.05, b1=0.5, b2=0.9, eps=1e-6),
        lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.5, 0.9), eps=1e-6),
    ),
    "adamw": (lambda p: optim.AdamW(p, lr=0.01), lambda p: torch.optim.AdamW(p, lr=0.01)),
    "adamw_wd": (
        lambda p: optim.AdamW(p, lr=0.02, weight_decay=0.3),
        lambda p: torch.optim.AdamW(p, lr=0.02, weight_decay=0.3),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_trajectory_matches_torch(device, name):
    ours, theirs = CASES[name]
    for got, want in zip(_ours(device, ours), _torch(theirs)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _lamb_reference(steps, lr, b1, b2, eps, wd):
    params = [W1.astype(np.float64), W2.astype(np.float64)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t in range(1, steps + 1):
        w1, w2 = (torch.tensor(p, requires_grad=True) for p in params)
        _loss(torch.tensor(X, dtype=torch.float64), w1, w2).backward()
        for i, g in enumerate((w1.grad.numpy(), w2.grad.numpy())):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            update = (m[i] / (1 - b1**t)) / (np.sqrt(v[i] / (1 - b2**t)) + eps) + wd * params[i]
            ratio = np.linalg.norm(params[i]) / np.linalg.norm(update)
            params[i] = params[i] - lr * ratio * update
    return params


def test_lamb_matches_reference(device):
    got = _ours(device, lambda p: optim.LAMB(p, lr=0.01, weight_decay=0.1))
    for g, want in zip(got, _lamb_reference(4, 0.01, 0.9, 0.999, 1e-6, 0.1)):
        np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-5)


def test_defaults_are_tinygrads(device):
    w = Tensor.ones(2, device=device)
    adam, lamb, sgd = optim.Adam([w]), optim.LAMB([w]), optim.SGD([w])
    assert (adam.b1, adam.b2, adam.eps, adam.wd) == (0.9, 0.999, 1e-8, 0.0)
    assert (lamb.eps, lamb.adam) == (1e-6, False)
    assert optim.AdamW([w]).wd == 0.01
    assert adam.lr.item() == pytest.approx(0.001)
    assert sgd.lr.item() == pytest.approx(0.001)


# --- what an optimizer accepts ---
def test_modules_and_objects_are_expanded(device):
    model = TwoLayers(device)
    opt = optim.SGD([model], lr=0.5)
    assert [id(p) for p in opt.params] == [id(model.w1), id(model.w2)]
    assert model.w1.requires_grad is True  # None becomes True, as in tinygrad
    with Tensor.train():
        _loss(Tensor(X, device=device), model.w1, model.w2).backward()
        opt.step()
    assert not np.allclose(model.w1.numpy(), W1)
    assert not np.allclose(model.w2.numpy(), W2)


def test_duplicates_are_dropped(device):
    w = Tensor.ones(2, device=device)
    assert len(optim.Adam([w, w, {"again": w}]).params) == 1


def test_frozen_tensors_inside_a_model_are_left_alone(device):
    model = TwoLayers(device)
    model.w2.requires_grad = False
    opt = optim.SGD([model], lr=0.5)
    assert opt.params == [model.w1]
    assert opt.buffers == [model.w2]
    with Tensor.train():
        _loss(Tensor(X, device=device), model.w1, model.w2).backward()
        opt.step()
    np.testing.assert_array_equal(model.w2.numpy(), W2)


def test_explicit_tensor_without_grad_is_a_buffer(device):
    """tinygrad's rule: a requires_grad=False tensor in the list is never updated, only realized with each step."""
    frozen = Tensor.ones(3, 2, device=device, requires_grad=False)
    trained = Tensor.ones(2, device=device)
    opt = optim.Adam([trained, frozen])
    assert opt.params == [trained]
    assert opt.buffers == [frozen]


def test_nothing_to_train_is_an_error(device):
    class Frozen:
        w = None

        def __init__(self):
            self.w = Tensor.ones(2, device=device, requires_grad=False)

    with pytest.raises(ValueError, match="nothing to train"):
        optim.SGD([Frozen()])
    with pytest.raises(TypeError, match="holds no Tensor"):
        optim.SGD([object()])


def test_step_works_without_training_mode(device):
    """The tutorial steps an optimizer without turning training on (parameters require grad); tinygrad allows it."""
    w = Tensor([1.0, 2.0], device=device, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    with Tensor.train(False):
        opt.step()
    np.testing.assert_allclose(w.numpy(), [0.8, 1.6])


def test_missing_grad_names_the_parameter(device):
    used, unused = Tensor([1.0], device=device), Tensor.ones(4, 5, device=device)
    opt = optim.Adam([used, unused])
    with Tensor.train():
        (used * 3).sum().backward()
        with pytest.raises(RuntimeError, match=r"parameter 1 \(shape \(4, 5\)\) has no .grad"):
            opt.step()


def test_zero_grad(device):
    w = Tensor([1.0, 2.0], device=device, requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    with Tensor.train():
        (w * w).sum().backward()
        (w * w).sum().backward()
        assert w.grad.tolist() == [4.0, 8.0]
        opt.zero_grad()
        assert w.grad is None
        (w * w).sum().backward()
        opt.step()
    assert w.tolist() == [-1.0, -2.0]


def test_optimizer_after_backward(device):
    """The README order: backward first, then build the optimizer and step."""
    w = Tensor([[0.5, -0.5]], device=device, requires_grad=True)
    with Tensor.train():
        ((Tensor([[1.0, 2.0]], device=device) * w).sum() - 1).square().backward()
        optim.SGD([w], lr=0.1).step()
    np.testing.assert_allclose(w.numpy(), [[0.5 + 0.3, -0.5 + 0.6]], rtol=1e-6)  # grad = 2 * (-1.5) * x


def test_optimizer_group(device):
    a, b = Tensor([1.0], device=device), Tensor([1.0], device=device)
    group = optim.OptimizerGroup(optim.SGD([a], lr=0.1), optim.SGD([b], lr=1.0))
    with Tensor.train():
        (a + b).sum().backward()
        group.step()
    assert a.tolist() == pytest.approx([0.9])
    assert b.tolist() == pytest.approx([0.0])


# --- learning-rate schedulers ---
SCHEDULERS = {
    "step": (lambda o: optim.StepLR(o, step_size=3, gamma=0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)),
    "multistep": (
        lambda o: optim.MultiStepLR(o, milestones=[2, 5], gamma=0.1),
        lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [2, 5], 0.1),
    ),
    "exponential": (
        lambda o: optim.ExponentialLR(o, gamma=0.8),
        lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.8),
    ),
    "cosine": (
        lambda o: optim.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
    ),
    "lambda": (
        lambda o: optim.LambdaLR(o, lambda e: 1 / (e + 1)),
        lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1 / (e + 1)),
    ),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_matches_torch(device, name):
    ours_make, torch_make = SCHEDULERS[name]
    ours_opt = optim.SGD([Tensor.ones(1, device=device)], lr=0.1)
    torch_opt = torch.optim.SGD([torch.ones(1, requires_grad=True)], lr=0.1)
    ours, theirs = ours_make(ours_opt), torch_make(torch_opt)
    for epoch in range(12):
        assert ours.last_epoch == theirs.last_epoch == epoch
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-6, abs=1e-9)
        assert ours_opt.lr.item() == pytest.approx(theirs.get_last_lr()[0], rel=1e-6, abs=1e-9)
        torch_opt.step()
        ours.step()
        theirs.step()


def test_scheduled_training_matches_torch(device):
    got = _ours(
        device,
        lambda p: optim.SGD(p, lr=0.2, momentum=0.9, classic=True),
        steps=6,
        scheduler=lambda o: optim.CosineAnnealingLR(o, T_max=4),
    )
    want = _torch(
        lambda p: torch.optim.SGD(p, lr=0.2, momentum=0.9),
        steps=6,
        scheduler=lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4),
    )
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
