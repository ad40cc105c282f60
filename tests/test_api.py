"""tinygrad's public API beyond the ops: item assignment, in-place operators, assign through views, the layers,
optimizers and Tensor methods tinygrad users import, randomness, creation and state dicts; against PyTorch where
it has the same thing, on every available device."""

import ctypes

import numpy as np
import pytest
import torch
from scipy import stats

from tinygrad_core import Device, Tensor, TinyJit, dtypes, nn
from tinygrad_core.nn import optim
from tinygrad_core.nn.state import get_state_dict, load_state_dict

# --- item assignment ---
SETITEM = [
    (1, 7.0),
    (-1, 7.0),
    ((1, 2), 7.0),
    (slice(1, 3), 7.0),
    (slice(None, None, 2), 7.0),
    ((slice(None), slice(4, 0, -2)), 7.0),
    ((None, 1), 7.0),
    ((..., 0), np.arange(4, dtype=np.float32)),
    ((slice(1, 3), slice(None)), np.arange(5, dtype=np.float32)),  # a row broadcast over rows
    ([0, 2], 7.0),
    (([0, 3], [4, 1]), np.array([8.0, 9.0], np.float32)),
    ((slice(None), [1, 1]), np.array([5.0, 6.0], np.float32)),  # a duplicate index: the last write wins
    ("mask", 0.0),
]


@pytest.mark.parametrize(("index", "value"), SETITEM, ids=[repr(i) for i, _ in SETITEM])
def test_setitem(device, index, value):
    """Against numpy, whose item assignment PyTorch follows (and which has negative steps, unlike PyTorch)."""
    values = np.arange(20, dtype=np.float32).reshape(4, 5)
    ours, theirs = Tensor(values, device=device), values.copy()
    if isinstance(index, str):
        ours[ours > 7] = value
        theirs[theirs > 7] = value
    else:
        ours[index] = Tensor(value, device=device) if isinstance(value, np.ndarray) else value
        theirs[index] = value
    np.testing.assert_array_equal(ours.numpy(), theirs)


def test_setitem_writes_into_the_tensor_viewed(device):
    base = Tensor.arange(12, device=device).reshape(3, 4)
    row = base[1]
    row[::2] = -1
    assert row.tolist() == [-1, 5, -1, 7]
    assert base.tolist() == [[0, 1, 2, 3], [-1, 5, -1, 7], [8, 9, 10, 11]]
    zeros = Tensor.zeros(2, 2, device=device)  # a constant: it gets memory of its own first
    zeros[0, 1] = 3
    assert zeros.tolist() == [[0.0, 3.0], [0.0, 0.0]]
    with pytest.raises(ValueError, match="setitem"):
        base[0] = Tensor([1, 2, 3], device=device)


def test_setitem_under_tinyjit(device):
    @TinyJit
    def write(target, value):
        target[1:3] = value

    for step in range(4):
        target = Tensor.zeros(4, device=device).contiguous().realize()
        write(target, Tensor([step, step + 1.0], device=device))
        assert target.tolist() == [0.0, step, step + 1.0, 0.0]


def test_in_place_operators_write_into_the_tensor(device):
    x = Tensor([1.0, 2.0, 4.0], device=device).contiguous().realize()
    alias = x
    x += 1
    x *= 2
    x -= Tensor([1.0, 1.0, 1.0], device=device)
    x /= 2
    assert alias is x
    assert x.tolist() == [1.5, 2.5, 4.5]
    i = Tensor([5, 6], device=device)
    i //= 2
    i %= 2
    i <<= 2
    i |= 1
    assert i.tolist() == [1, 5]


def test_assign_to_a_slice_writes_through(device):
    a = Tensor.arange(8, device=device).float().contiguous().realize()
    a[:4].assign(Tensor.ones(4, device=device))
    a.flip(0)[:2].assign(Tensor([-1.0, -2.0], device=device))
    assert a.tolist() == [1.0, 1.0, 1.0, 1.0, 4.0, 5.0, -2.0, -1.0]
    with pytest.raises(RuntimeError, match="several times"):
        a[:1].expand(3).assign(Tensor.ones(3, device=device))


def test_assign_to_a_bitcast_writes_the_bits_through(device):
    """A bitcast of memory is a view of its bits (tinygrad): assigning to it changes the tensor it was made from, at
    once, through bitcasts of bitcasts and of slices too."""
    bits = np.array([4.0, 3.0, 2.0, 1.0], np.float32).view(np.uint32)
    a = Tensor([1.0, 2.0, 3.0, 4.0], device=device).realize()
    a.bitcast(dtypes.uint32).assign(Tensor(bits, device=device))
    assert a.tolist() == [4.0, 3.0, 2.0, 1.0]
    b = Tensor([1.0, 2.0, 3.0, 4.0], device=device).realize()
    view = b.bitcast(dtypes.uint32).bitcast(dtypes.int32).assign(Tensor(bits.view(np.int32), device=device))
    assert b.tolist() == [4.0, 3.0, 2.0, 1.0]
    assert view.numpy().tolist() == bits.view(np.int32).tolist()
    c = Tensor([1.0, 2.0, 3.0, 4.0], device=device).realize()
    c[0:2].bitcast(dtypes.uint32).assign(Tensor(bits[:2], device=device))
    assert c.tolist() == [4.0, 3.0, 3.0, 4.0]


# --- layers, optimizers and methods tinygrad users import ---
def test_instance_norm_and_layer_norm_2d(default_device):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    got = nn.InstanceNorm(3)(Tensor(x)).numpy()
    expected = torch.nn.InstanceNorm2d(3, affine=True)(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
    got = nn.LayerNorm2d(3)(Tensor(x)).numpy()
    expected = torch.nn.functional.layer_norm(torch.tensor(x).permute(0, 2, 3, 1), (3,)).permute(0, 3, 1, 2).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_conv_transpose_1d(default_device):
    layer = nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1, output_padding=1)
    reference = torch.nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1, output_padding=1)
    with torch.no_grad():
        reference.weight.copy_(torch.tensor(layer.weight.numpy()))
        reference.bias.copy_(torch.tensor(layer.bias.numpy()))
    x = np.random.default_rng(1).standard_normal((2, 2, 6)).astype(np.float32)
    np.testing.assert_allclose(layer(Tensor(x)).numpy(), reference(torch.tensor(x)).detach().numpy(), atol=1e-5)


def test_conv_padding_arguments(default_device):
    with pytest.raises(ValueError, match="stride 1"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding"):
        nn.Conv2d(1, 1, 3, padding="typo")


def _muon_reference(w, grads, lr, momentum, weight_decay, steps, coefficients):
    """Muon in numpy: momentum (Nesterov), Newton-Schulz on the update, then decoupled weight decay."""
    buf = np.zeros_like(w, dtype=np.float64)
    w = w.astype(np.float64)
    for g in grads:
        buf = momentum * buf + g
        update = g + momentum * buf
        x = update / (np.sqrt((update**2).sum()) + 1e-7)
        flip = x.shape[0] > x.shape[1]
        x = x.T if flip else x
        for _ in range(steps):
            gram = x @ x.T
            term, total = x, coefficients[0] * x
            for c in coefficients[1:]:
                term = gram @ term
                total = total + c * term
            x = total
        x = x.T if flip else x
        w = w - (lr * x + weight_decay * lr * w)
    return w


def test_muon(device):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((4, 3)).astype(np.float32)
    grads = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(3)]
    w = Tensor(w0, device=device, requires_grad=True)
    opt = optim.Muon([w], lr=0.02)
    for g in grads:
        (w * Tensor(g, device=device)).sum().backward()
        opt.step()
        opt.zero_grad()
    expected = _muon_reference(w0, grads, 0.02, 0.95, 0.1, 5, (3.4445, -4.775, 2.0315))
    np.testing.assert_allclose(w.numpy(), expected, atol=1e-4)


def test_multinomial(device):
    Tensor.manual_seed(3)
    weights = Tensor([1.0, 2.0, 3.0, 4.0], device=device)
    draws = weights.multinomial(4000, replacement=True).numpy()
    assert draws.dtype == np.int32
    assert draws.shape == (4000,)
    counts = np.bincount(draws, minlength=4)
    assert stats.chisquare(counts, 4000 * np.array([0.1, 0.2, 0.3, 0.4])).pvalue > 1e-4
    rows = Tensor([[0.0, 1.0, 1.0], [5.0, 0.0, 1.0]], device=device).multinomial(2)
    for row, picked in zip([[1, 2], [0, 2]], rows.tolist()):
        assert sorted(picked) == row  # without replacement, and never a zero weight
    with pytest.raises(RuntimeError, match="without replacement"):
        weights.multinomial(5)


def test_clone_from_blob_shrink_to_pad_to(device):
    x = Tensor([1.0, 2.0, 3.0], device=device).contiguous().realize()
    copy = x.clone().realize()  # lazy like tinygrad's: realized, it is memory of its own
    x.assign(Tensor([9.0, 9.0, 9.0], device=device)).realize()
    assert copy.tolist() == [1.0, 2.0, 3.0]
    memory = np.arange(6, dtype=np.int16)
    blob = Tensor.from_blob(memory.ctypes.data_as(ctypes.c_void_p).value, (2, 3), dtype=dtypes.int16, device=device)
    assert (blob.dtype, blob.tolist()) == (dtypes.int16, [[0, 1, 2], [3, 4, 5]])
    assert Tensor.ones(3, 4, device=device).shrink_to(2, None).shape == (2, 4)
    assert Tensor([[1, 2]], device=device).pad_to(2, 3).tolist() == [[1, 2, 0], [0, 0, 0]]


def test_tinyjit_as_a_method_decorator(device):
    class Model:
        def __init__(self, scale):
            self.scale = scale

        @TinyJit
        def forward(self, x):
            return (x * self.scale).realize()

    model = Model(Tensor([2.0], device=device))
    for step in range(4):
        assert model.forward(Tensor([float(step)], device=device)).tolist() == [2.0 * step]


# --- randomness and creation ---
def test_rand_of_low_precision_floats_stays_below_one(device):
    from tinygrad_core.testing import require

    for dtype in (dtypes.float16, dtypes.bfloat16):
        require(device, dtype)
        Tensor.manual_seed(0)
        values = Tensor.rand(20000, dtype=dtype, device=device).numpy().astype(np.float32)
        assert 0.0 <= values.min()
        assert values.max() < 1.0
        assert abs(values.mean() - 0.5) < 0.02


def test_bfloat16_random_on_cpu():
    x = Tensor.rand(64, dtype=dtypes.bfloat16, device="CPU")
    y = Tensor.randn(64, dtype=dtypes.bfloat16, device="CPU")
    assert x.dtype == y.dtype == dtypes.bfloat16
    assert ((x * 2 + y).numpy() != 0).any()
    np.testing.assert_allclose(y.numpy(), y.cast(dtypes.float32).numpy())


def test_kaiming_normal_follows_pytorch(device):
    Tensor.manual_seed(0)
    torch.manual_seed(0)
    for shape in [(64, 32), (32, 8, 3, 3)]:
        ours = Tensor.kaiming_normal(*shape, a=0.0, device=device).numpy().ravel()
        theirs = torch.nn.init.kaiming_normal_(torch.empty(*shape), a=0.0).numpy().ravel()
        assert stats.ks_2samp(ours, theirs).pvalue > 1e-3


def test_creation_like_tinygrad(device):
    assert Tensor(None, device=device).shape == (0,)
    raw = Tensor(b"\x01\xff", device=device)
    assert (raw.dtype, raw.tolist()) == (dtypes.uint8, [1, 255])
    assert Tensor([300, -1], dtype=dtypes.uint8, device=device).tolist() == [44, 255]  # wraps like numpy's astype
    with pytest.raises(TypeError, match="ambiguous"):
        bool(Tensor([1, 2], device=device))
    assert bool(Tensor([0.5], device=device))
    with pytest.raises(TypeError):
        Tensor([1.0, None], device=device)
    with pytest.raises(TypeError):
        Tensor.randint(3, low=0.5, high=4, device=device)
    with pytest.raises(TypeError):
        Tensor.randint(3, high=4, dtype=dtypes.float32, device=device)


# --- gradients ---
def test_second_order_gradients(device):
    values = [0.5, -1.0, 2.0]
    x = Tensor(values, device=device, requires_grad=True)
    (g,) = (x.sin() * x.exp() + x**3 / x.sigmoid()).sum().gradient(x)
    (gg,) = (g * g).sum().gradient(x)
    t = torch.tensor(values, requires_grad=True)
    (tg,) = torch.autograd.grad((t.sin() * t.exp() + t**3 / t.sigmoid()).sum(), t, create_graph=True)
    (tgg,) = torch.autograd.grad((tg * tg).sum(), t)
    np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=1e-4)
    np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-4)
    y = Tensor([3.0], device=device, requires_grad=True)
    (y**3).sum().backward(create_graph=True)
    (y.grad.sum()).backward()  # d/dy (3y^2 + 6y), accumulated: 27 + 18
    assert y.grad.tolist() == pytest.approx([27.0 + 18.0])


# --- state dicts and optimizer devices ---
def test_load_state_dict_with_pytorch_batchnorm_keys(default_device):
    model = nn.BatchNorm2d(3, track_running_stats=False)
    state = {
        "weight": Tensor.ones(3) * 2,
        "bias": Tensor.zeros(3),
        "num_batches_tracked": Tensor(
            7, dtype=dtypes.int64 if dtypes.int64 in Device[Device.DEFAULT].dtypes else dtypes.int32
        ),
    }
    load_state_dict(model, state)
    assert model.weight.tolist() == [2.0, 2.0, 2.0]
    tracked = nn.BatchNorm2d(3)
    load_state_dict(tracked, {**get_state_dict(tracked), "num_batches_tracked": Tensor(5, dtype=dtypes.int32)})
    assert tracked.num_batches_tracked.item() == 5
    with pytest.raises(ValueError, match=r"Shape mismatch in layer `weight`: Expected shape \(3,\), but found \(4,\)"):
        load_state_dict(model, {**state, "weight": Tensor.ones(4)})


def test_optimizer_state_on_another_device(device):
    """tinygrad's offload pattern: parameters on one device, the optimizer's state and arithmetic on another."""
    other = "CPU" if device != "CPU" else "CPU:1"
    results = []
    for state_device in (None, other):
        w = Tensor([[1.0, -2.0], [0.5, 3.0]], device=device, requires_grad=True)
        opt = optim.LAMB([w], lr=0.1, weight_decay=0.01, device=state_device)
        for _ in range(3):
            (w * w * Tensor([[1.0, 2.0], [3.0, 4.0]], device=device)).sum().backward()
            opt.step()
            opt.zero_grad()
        assert w.device == device
        assert opt.m[0].device == (state_device or device)
        results.append(w.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5)


def test_a_realized_constant_is_a_buffer_of_its_own(device):
    """tinygrad's behaviour: Tensor.zeros(3).realize() holds three elements, so it can be assigned to and indexed
    into, and other constants equal to it keep their values."""
    a, b = Tensor.zeros(3, device=device), Tensor.zeros(3, device=device)
    a.realize()
    a.assign(Tensor.ones(3, device=device)).realize()
    full = Tensor.full((2, 2), 3.0, device=device).realize()
    full[0, 0] = 5
    assert (a.tolist(), b.tolist()) == ([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    assert full.tolist() == [[5.0, 3.0], [3.0, 3.0]]


def test_scalar_operands_share_one_constant_node(device):
    """`x * 2` and `y * 2` read the same constant node (the scheduler sees it once); realizing one result leaves
    the other, and new products, intact."""
    x, y = Tensor([1.0, 2.0], device=device), Tensor([3.0, 4.0], device=device)
    first, second = x * 2, y * 2
    assert first.lazydata.srcs[1] is second.lazydata.srcs[1]
    first.realize()
    assert (first.tolist(), second.tolist(), (x * 2 + y * 2).tolist()) == ([2.0, 4.0], [6.0, 8.0], [8.0, 12.0])
