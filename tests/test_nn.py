"""nn layers against PyTorch's (same weights: outputs and gradients), their initialisation, the README snippets and
the examples."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tinygrad_core import Tensor, dtypes
from tinygrad_core.nn import (
    BatchNorm,
    BatchNorm1d,
    BatchNorm2d,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    Dropout,
    Embedding,
    GroupNorm,
    LayerNorm,
    Linear,
    LSTMCell,
    RMSNorm,
    Sequential,
    optim,
)
from tinygrad_core.nn.state import get_state_dict

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _copy_into_torch(ours, theirs):
    """Give the torch module our layer's values; every key must exist on both sides with the same shape."""
    state = get_state_dict(ours)
    reference = theirs.state_dict()
    assert set(state) == set(reference)
    with torch.no_grad():
        for key, tensor in state.items():
            assert tensor.shape == tuple(reference[key].shape), key
            reference[key].copy_(torch.from_numpy(tensor.numpy()))


def _compare(ours, theirs, *shapes, device, rtol=1e-4, atol=1e-5, train=True):
    """Forward random inputs through both, backprop the same random cotangent, compare outputs and all gradients."""
    _copy_into_torch(ours, theirs)
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    xs = [Tensor(x, device=device, requires_grad=True) for x in inputs]
    txs = [torch.tensor(x, requires_grad=True) for x in inputs]
    theirs.train(train)
    with Tensor.train(train):
        out = ours(*xs)
        expected = theirs(*txs)
        cotangent = rng.standard_normal(expected.shape).astype(np.float32)
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=rtol, atol=atol)
        (out * Tensor(cotangent, device=device)).sum().backward()
    (expected * torch.tensor(cotangent)).sum().backward()
    for x, tx in zip(xs, txs):
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=atol)
    params = dict(theirs.named_parameters())
    for key, tensor in get_state_dict(ours).items():
        if key in params:
            np.testing.assert_allclose(tensor.grad.numpy(), params[key].grad.numpy(), rtol=rtol, atol=atol, err_msg=key)


# --- each layer against PyTorch ---
@pytest.mark.parametrize("bias", [True, False])
def test_linear(default_device, bias):
    _compare(Linear(5, 3, bias=bias), torch.nn.Linear(5, 3, bias=bias), (4, 5), device=default_device)
    _compare(Linear(5, 3), torch.nn.Linear(5, 3), (2, 4, 5), device=default_device)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"stride": 2, "padding": 1},
        {"padding": "same", "dilation": 2, "bias": False},
        {"groups": 2, "stride": (2, 1), "padding": (1, 0)},
    ],
)
def test_conv2d(default_device, kwargs):
    _compare(Conv2d(4, 6, 3, **kwargs), torch.nn.Conv2d(4, 6, 3, **kwargs), (2, 4, 7, 6), device=default_device)


def test_conv2d_rectangular_kernel(default_device):
    _compare(Conv2d(2, 3, (3, 2)), torch.nn.Conv2d(2, 3, (3, 2)), (1, 2, 5, 5), device=default_device)


@pytest.mark.parametrize("kwargs", [{}, {"stride": 2, "padding": 2, "dilation": 2}, {"groups": 3, "bias": False}])
def test_conv1d(default_device, kwargs):
    _compare(Conv1d(3, 6, 3, **kwargs), torch.nn.Conv1d(3, 6, 3, **kwargs), (2, 3, 11), device=default_device)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"stride": 2, "padding": 1, "output_padding": 1}, {"groups": 2, "dilation": 2, "bias": False}],
)
def test_conv_transpose2d(default_device, kwargs):
    ours, theirs = ConvTranspose2d(4, 6, 3, **kwargs), torch.nn.ConvTranspose2d(4, 6, 3, **kwargs)
    _compare(ours, theirs, (2, 4, 5, 4), device=default_device)


@pytest.mark.parametrize(
    ("layer", "shape"), [(BatchNorm1d, (8, 3)), (BatchNorm1d, (4, 3, 5)), (BatchNorm2d, (4, 3, 5, 2))]
)
def test_batchnorm_training_and_running_stats(default_device, layer, shape):
    torch_layer = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d}[len(shape)](
        3, momentum=0.2
    )
    ours = layer(3, momentum=0.2)
    _compare(ours, torch_layer, shape, device=default_device)
    for key, value in torch_layer.state_dict().items():
        np.testing.assert_allclose(get_state_dict(ours)[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6, err_msg=key)
    assert ours.num_batches_tracked.item() == 1
    # eval: normalises with the running statistics and leaves them alone
    _compare(ours, torch_layer, shape, device=default_device, train=False)
    assert ours.num_batches_tracked.item() == 1
    np.testing.assert_allclose(ours.running_mean.numpy(), torch_layer.running_mean.numpy(), rtol=1e-5, atol=1e-6)


def test_batchnorm_options(default_device):
    _compare(BatchNorm(3, affine=False), torch.nn.BatchNorm2d(3, affine=False), (2, 3, 4, 4), device=default_device)
    untracked = BatchNorm(3, track_running_stats=False)
    assert set(get_state_dict(untracked)) == {"weight", "bias"}
    _compare(
        untracked, torch.nn.BatchNorm2d(3, track_running_stats=False), (2, 3, 4, 4), device=default_device, train=False
    )


def test_batchnorm_stats_realize_with_the_optimizer(default_device):
    bn = BatchNorm(2)
    opt = optim.SGD([bn], lr=0.1)
    assert set(map(id, opt.buffers)) == {id(bn.running_mean), id(bn.running_var), id(bn.num_batches_tracked)}
    x = Tensor([[1.0, 2.0], [3.0, 6.0]])
    with Tensor.train():
        for _ in range(3):
            opt.zero_grad()
            bn(x).sum().backward()
            opt.step()
            assert bn.running_mean.lazydata.realized
    np.testing.assert_allclose(bn.running_mean.numpy(), np.array([2.0, 4.0]) * (1 - 0.9**3), rtol=1e-5)
    assert bn.num_batches_tracked.item() == 3


@pytest.mark.parametrize(("shape", "normalized"), [((4, 6), 6), ((2, 3, 4, 5), (4, 5))])
@pytest.mark.parametrize("affine", [True, False])
def test_layernorm(default_device, shape, normalized, affine):
    ours = LayerNorm(normalized, eps=1e-3, elementwise_affine=affine)
    theirs = torch.nn.LayerNorm(normalized, eps=1e-3, elementwise_affine=affine)
    _compare(ours, theirs, shape, device=default_device)


@pytest.mark.parametrize(("groups", "shape"), [(2, (3, 4, 5, 5)), (4, (2, 4, 7)), (1, (2, 4, 3, 3))])
def test_groupnorm(default_device, groups, shape):
    _compare(GroupNorm(groups, 4), torch.nn.GroupNorm(groups, 4), shape, device=default_device)
    _compare(
        GroupNorm(groups, 4, affine=False), torch.nn.GroupNorm(groups, 4, affine=False), shape, device=default_device
    )


def test_rmsnorm(default_device):
    _compare(RMSNorm(6), torch.nn.RMSNorm(6, eps=1e-6), (3, 2, 6), device=default_device)
    _compare(
        RMSNorm(6, elementwise_affine=False),
        torch.nn.RMSNorm(6, eps=1e-6, elementwise_affine=False),
        (3, 6),
        device=default_device,
    )


def test_embedding(default_device):
    ours, theirs = Embedding(10, 4), torch.nn.Embedding(10, 4)
    _copy_into_torch(ours, theirs)
    idx = np.array([[1, 2, 2], [9, 0, 1]], np.int32)
    out = ours(Tensor(idx, device=default_device))
    expected = theirs(torch.tensor(idx, dtype=torch.long))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy())
    cotangent = np.random.default_rng(1).standard_normal(expected.shape).astype(np.float32)
    (out * Tensor(cotangent, device=default_device)).sum().backward()
    (expected * torch.tensor(cotangent)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="integer indices"):
        ours(Tensor([1.0], device=default_device))


def test_lstm_cell(default_device):
    ours, theirs = LSTMCell(3, 5), torch.nn.LSTMCell(3, 5)
    _copy_into_torch(ours, theirs)
    rng = np.random.default_rng(0)
    x, h, c = (rng.standard_normal(shape).astype(np.float32) for shape in ((2, 3), (2, 5), (2, 5)))
    tx, th, tc = (torch.tensor(v, requires_grad=True) for v in (x, h, c))
    ox, oh, oc = (Tensor(v, device=default_device, requires_grad=True) for v in (x, h, c))
    new_h, new_c = ours(ox, (oh, oc))
    want_h, want_c = theirs(tx, (th, tc))
    np.testing.assert_allclose(new_h.numpy(), want_h.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_c.numpy(), want_c.detach().numpy(), rtol=1e-5, atol=1e-6)
    (new_h.sum() + (new_c * 2).sum()).backward()
    (want_h.sum() + (want_c * 2).sum()).backward()
    for ours_t, torch_t in [
        (ox, tx),
        (oh, th),
        (oc, tc),
        (ours.weight_ih, theirs.weight_ih),
        (ours.bias_hh, theirs.bias_hh),
    ]:
        np.testing.assert_allclose(ours_t.grad.numpy(), torch_t.grad.numpy(), rtol=1e-4, atol=1e-5)
    # no state given: zeros, like PyTorch
    h0, c0 = ours(Tensor(x, device=default_device))
    th0, tc0 = theirs(torch.tensor(x))
    np.testing.assert_allclose(h0.numpy(), th0.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c0.numpy(), tc0.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_dropout(default_device):
    x = Tensor.ones(2000, device=default_device, requires_grad=True)
    assert Dropout(0.25)(x) is x  # not training: identity
    Tensor.manual_seed(0)
    with Tensor.train():
        out = Dropout(0.25)(x)
        values = out.numpy()
        out.sum().backward()
    np.testing.assert_allclose(np.unique(values), [0.0, 1 / 0.75], rtol=1e-6)
    assert 0.2 < (values == 0).mean() < 0.3
    np.testing.assert_allclose(x.grad.numpy(), values)  # the gradient passes exactly where the value did
    with pytest.raises(ValueError, match="p must be in"):
        Dropout(1.5)


def test_sequential(default_device):
    model = Sequential(Linear(2, 4), Tensor.relu, Linear(4, 1))
    assert len(model) == 3
    assert model[1] is Tensor.relu
    assert isinstance(model[0], Linear)
    assert list(get_state_dict(model)) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    x = Tensor([[1.0, -2.0]], device=default_device)
    expected = x.sequential([model[0], Tensor.relu, model[2]])
    np.testing.assert_allclose(model(x).numpy(), expected.numpy())
    assert len(model[:2]) == 2
    assert len(Sequential([Tensor.relu]).append(Tensor.exp)) == 2
    with pytest.raises(TypeError, match="not callable"):
        Sequential(Linear(2, 2), 3)


# --- initialisation: PyTorch's defaults ---
def _bounded_uniform(tensor, bound):
    values = tensor.numpy()
    assert np.abs(values).max() <= bound * (1 + 1e-6)
    assert np.abs(values).max() > 0.9 * bound  # spread over the range, not squeezed near 0
    assert abs(values.std() - bound / math.sqrt(3)) < 0.1 * bound


@pytest.mark.parametrize(
    ("ours", "theirs", "bound_w", "bound_b"),
    [
        (lambda: Linear(300, 200), lambda: torch.nn.Linear(300, 200), 1 / math.sqrt(300), 1 / math.sqrt(300)),
        (lambda: Conv2d(8, 300, 3), lambda: torch.nn.Conv2d(8, 300, 3), 1 / math.sqrt(72), 1 / math.sqrt(72)),
        (
            lambda: Conv2d(8, 300, 3, groups=4),
            lambda: torch.nn.Conv2d(8, 300, 3, groups=4),
            1 / math.sqrt(18),
            1 / math.sqrt(18),
        ),
        (
            lambda: ConvTranspose2d(300, 8, 3),
            lambda: torch.nn.ConvTranspose2d(300, 8, 3),
            1 / math.sqrt(72),
            1 / math.sqrt(72),
        ),
        (lambda: Conv1d(8, 300, 5), lambda: torch.nn.Conv1d(8, 300, 5), 1 / math.sqrt(40), 1 / math.sqrt(40)),
    ],
)
def test_weight_init_like_pytorch(default_device, ours, theirs, bound_w, bound_b):
    layer, reference = ours(), theirs()
    _bounded_uniform(layer.weight, bound_w)
    assert layer.weight.shape == tuple(reference.weight.shape)
    assert layer.bias.shape == tuple(reference.bias.shape)
    assert layer.weight.requires_grad is True
    assert layer.weight._ctx is None
    assert reference.weight.abs().max().item() <= bound_w * (1 + 1e-6)  # the bound is PyTorch's too
    assert reference.bias.abs().max().item() <= bound_b * (1 + 1e-6)
    assert np.abs(layer.bias.numpy()).max() <= bound_b * (1 + 1e-6)


def test_other_inits(default_device):
    lstm = LSTMCell(10, 400)
    for tensor in (lstm.weight_ih, lstm.weight_hh, lstm.bias_ih, lstm.bias_hh):
        _bounded_uniform(tensor, 1 / math.sqrt(400))
    emb = Embedding(300, 100).weight.numpy()
    assert abs(emb.mean()) < 0.02
    assert abs(emb.std() - 1) < 0.02
    bn = BatchNorm(3)
    assert bn.weight.tolist() == [1.0] * 3
    assert bn.bias.tolist() == [0.0] * 3
    assert bn.running_mean.tolist() == [0.0] * 3
    assert bn.running_var.tolist() == [1.0] * 3
    assert bn.running_mean.requires_grad is False
    assert bn.num_batches_tracked.shape == ()
    assert bn.num_batches_tracked.dtype in (dtypes.int64, dtypes.int32)
    assert LayerNorm(4).weight.tolist() == [1.0] * 4
    assert RMSNorm(2).weight.tolist() == [1.0, 1.0]
    assert Linear(2, 2).weight.device == default_device


# --- README snippets (issue 3, item 7) ---
def test_readme_training_snippet(default_device):
    previous = Tensor.training
    try:
        Tensor.training = True
        x, y = Tensor([[1.0, 2.0, 3.0]]), Tensor([[1.0]])
        model = Linear(3, 1)
        before = model.weight.numpy().copy()
        pred = model(x).sigmoid()
        loss = ((pred - y) ** 2).mean()
        loss.backward()
        optim.Adam([model], lr=0.01).step()
        # Adam's first step moves every weight by lr against the gradient's sign
        np.testing.assert_allclose(model.weight.numpy(), before - 0.01 * np.sign(model.weight.grad.numpy()), rtol=1e-4)
    finally:
        Tensor.training = previous
    model = Linear(2, 1)
    assert "Tensor([[" in repr(model(Tensor([[0, 0]])))
    np.testing.assert_allclose(model(Tensor([[0, 0]])).numpy(), model.bias.numpy().reshape(1, 1))


def test_nn_exports_optim():
    from tinygrad_core.nn import Linear as ImportedLinear
    from tinygrad_core.nn import optim as imported_optim

    assert ImportedLinear is Linear
    assert imported_optim.Adam is optim.Adam
    assert BatchNorm1d is BatchNorm2d is BatchNorm


# --- examples ---
def _run_example(*args, timeout=300):
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_xor_example(device):
    out = _run_example(str(EXAMPLES / "xor.py"), "--device", device)
    assert "accuracy 100.0%" in out


def test_mnist_example_runs(device, tmp_path):
    out = _run_example(
        str(EXAMPLES / "mnist.py"),
        "--digits",
        "--limit",
        "512",
        "--epochs",
        "1",
        "--device",
        device,
        "--save",
        str(tmp_path / "w.safetensors"),
    )
    assert "scikit-learn digits" in out
    assert "test accuracy" in out
    assert (tmp_path / "w.safetensors").stat().st_size > 0
