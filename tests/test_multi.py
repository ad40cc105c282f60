"""Several devices in one process: Tensor.shard / to(devices), ops on sharded and replicated tensors, gradients and
training sharded over the batch, checked against the same work on one device."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tinygrad_core import Tensor
from tinygrad_core.errors import DeviceError, ShapeError
from tinygrad_core.nn import Linear, optim
from tinygrad_core.nn.state import get_parameters

PAIRS = [("CPU:0", "CPU:1"), ("CLANG", "CLANG:1"), ("CLANG", "OPENCL")]
CPUS = ("CPU:0", "CPU:1")


def _usable(devices: tuple[str, ...]) -> tuple[str, ...]:
    """`devices`, or a skip naming the reason one of them can't run here."""
    for device in devices:
        try:
            Tensor([1.0], device=device).realize()
        except Exception as e:  # a missing backend or device index: the registry's own message says why
            pytest.skip(f"{device} unavailable: {e}")
    return devices


@pytest.fixture(params=PAIRS, ids=["-".join(pair) for pair in PAIRS])
def pair(request: pytest.FixtureRequest) -> tuple[str, ...]:
    return _usable(request.param)


def _data(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# --- layout and round trips ---
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_round_trip(pair, axis):
    values = _data(5, 4)
    t = Tensor(values).shard(pair, axis)
    assert t.device == tuple(Tensor([1], device=d).device for d in pair)
    assert t.shape == (5, 4)
    np.testing.assert_array_equal(t.numpy(), values)
    assert t.tolist() == values.tolist()
    np.testing.assert_array_equal(t.to("CPU").numpy(), values)
    assert t.to("CPU").device == "CPU"
    np.testing.assert_array_equal(t.realize().numpy(), values)


def test_uneven_split_and_bounds():
    t = Tensor(np.arange(5, dtype=np.float32)).shard(CPUS, 0)
    assert [lb.shape for lb in t.lazydata.lbs] == [(3,), (2,)]
    assert t.lazydata.bounds == ((0, 3), (3, 5))
    np.testing.assert_array_equal(t.numpy(), np.arange(5))


def test_to_devices_replicates_and_shard_in_place():
    t = Tensor([1.0, 2.0]).to(CPUS)
    assert t.lazydata.axis is None
    assert t.device == ("CPU", "CPU:1")
    assert t.to(CPUS) is t
    assert [lb.device for lb in t.lazydata.lbs] == ["CPU", "CPU:1"]
    u = Tensor([[1, 2], [3, 4]])
    assert u.shard_(CPUS, axis=1) is u
    assert u.device == ("CPU", "CPU:1")
    assert u.lazydata.axis == 1
    assert u.tolist() == [[1, 2], [3, 4]]


def test_creation_on_several_devices():
    assert Tensor.zeros(2, 3, device=CPUS).tolist() == [[0.0] * 3] * 2
    assert Tensor([1, 2], device=CPUS).device == ("CPU", "CPU:1")
    assert (Tensor.ones(3, device=CPUS) + 1).tolist() == [2.0] * 3


def test_errors():
    with pytest.raises(ShapeError, match="can't be split over 3 devices"):
        Tensor.ones(4).shard(("CPU:0", "CPU:1", "CPU:2"), 0)
    with pytest.raises(DeviceError, match="distinct devices"):
        Tensor.ones(4).shard(("CPU", "CPU:0"))
    a, b = Tensor.ones(4, 4).shard(CPUS, 0), Tensor.ones(4, 4).shard(CPUS, 1)
    with pytest.raises(DeviceError, match=r"sharded along axis 0 .* and axis 1"):
        a + b
    with pytest.raises(DeviceError, match=r"\('CPU', 'CPU:1'\) and CPU"):
        a + Tensor.ones(4, 4, device="CPU")
    with pytest.raises(DeviceError, match="CPU:2"):
        a + Tensor.ones(4, 4).shard(("CPU:0", "CPU:2"), 0)
    with pytest.raises(ShapeError, match="sharded axis 0"):
        a[1:3]
    with pytest.raises(ShapeError, match="sharded axis 0"):
        a.pad(((1, 0), (0, 0)))
    with pytest.raises(ShapeError, match="sharded axis 0"):
        Tensor.ones(5, 2).shard(CPUS, 0).reshape(2, 5)


def test_moves_between_device_sets_and_bool_gather():
    t = Tensor([1.0, 2.0]).to(CPUS)
    moved = t.to(("CPU:2", "CPU:3"))
    assert moved.device == ("CPU:2", "CPU:3")
    assert moved.tolist() == [1.0, 2.0]
    assert Tensor(t, device="CPU").tolist() == [1.0, 2.0]
    mask = Tensor(np.arange(5.0)).shard(CPUS, 0) > 2
    assert mask.to("CPU").tolist() == [False, False, False, True, True]  # shards put together with OR


def test_docs_example_runs():
    """docs/multi.md's example works as written."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "multi.md").read_text()
    exec(re.search(r"```python\n(.*?)```", text, re.DOTALL).group(1), {})


# --- ops ---
def test_elementwise_and_broadcast(pair):
    x, w = _data(5, 3), _data(3, seed=1)
    xs, ws = Tensor(x).shard(pair, 0), Tensor(w).to(pair)
    np.testing.assert_allclose((xs * 2 + 1).numpy(), x * 2 + 1, rtol=1e-6)
    np.testing.assert_allclose((xs * ws).numpy(), x * w, rtol=1e-6)
    np.testing.assert_allclose((ws - xs).exp().numpy(), np.exp(w - x), rtol=1e-5)
    np.testing.assert_allclose((xs + xs.relu()).numpy(), x + np.maximum(x, 0), rtol=1e-6)
    np.testing.assert_array_equal((xs > 0).numpy(), x > 0)


@pytest.mark.parametrize("axis", [0, 1])
def test_reductions(pair, axis):
    x = _data(5, 6)
    xs = Tensor(x).shard(pair, axis)
    for reduce_axis in (0, 1, None):
        np.testing.assert_allclose(xs.sum(reduce_axis).numpy(), x.sum(reduce_axis), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(xs.max(reduce_axis).numpy(), x.max(reduce_axis), rtol=1e-6)
        np.testing.assert_allclose(xs.mean(reduce_axis).numpy(), x.mean(reduce_axis), rtol=1e-5, atol=1e-6)
    total = xs.sum(axis)
    assert total.lazydata.axis is None  # the partial sums were combined and replicated
    assert xs.sum(1 - axis).lazydata.axis == (axis if axis == 0 else 0)
    np.testing.assert_allclose(xs.softmax(-1).numpy(), np.exp(x) / np.exp(x).sum(-1, keepdims=True), rtol=1e-5)


def test_matmul_sharded_batch(pair):
    x, w = _data(5, 4), _data(4, 3, seed=1)
    out = Tensor(x).shard(pair, 0) @ Tensor(w).to(pair)
    assert out.lazydata.axis == 0
    np.testing.assert_allclose(out.numpy(), x @ w, rtol=1e-5, atol=1e-6)


def test_movement():
    x = _data(6, 2, 3)
    xs = Tensor(x).shard(CPUS, 0)
    np.testing.assert_array_equal(xs.reshape(6, 6).numpy(), x.reshape(6, 6))
    np.testing.assert_array_equal(xs.reshape(36).numpy(), x.reshape(36))
    np.testing.assert_array_equal(xs.reshape(2, 3, 6).numpy(), x.reshape(2, 3, 6))  # the shard axis splits evenly
    np.testing.assert_array_equal(xs.permute(2, 0, 1).numpy(), x.transpose(2, 0, 1))
    assert xs.permute(2, 0, 1).lazydata.axis == 1
    np.testing.assert_array_equal(xs.unsqueeze(0).expand(2, 6, 2, 3).numpy(), np.broadcast_to(x, (2, 6, 2, 3)))
    np.testing.assert_array_equal(xs.pad(((0, 0), (1, 1), (0, 0))).numpy(), np.pad(x, ((0, 0), (1, 1), (0, 0))))
    np.testing.assert_array_equal(xs[:, 1:, ::-1].numpy(), x[:, 1:, ::-1])
    np.testing.assert_array_equal(xs.shard(CPUS, 2).numpy(), x)  # a change of layout
    np.testing.assert_array_equal(xs.shard(CPUS).numpy(), x)


def test_nn_ops_on_a_sharded_batch():
    x, labels = _data(5, 4), np.array([0, 1, 2, 3, 1])
    xs, ls = Tensor(x).shard(CPUS, 0), Tensor(labels).shard(CPUS, 0)
    np.testing.assert_allclose(
        xs.sparse_categorical_crossentropy(ls).item(), Tensor(x).sparse_categorical_crossentropy(Tensor(labels)).item()
    )
    np.testing.assert_allclose(xs.layernorm().numpy(), Tensor(x).layernorm().numpy(), atol=1e-6)
    images, weight = _data(4, 2, 5, 5), _data(3, 2, 3, 3, seed=1)
    conv = Tensor(images).shard(CPUS, 0).conv2d(Tensor(weight).to(CPUS), padding=1)
    np.testing.assert_allclose(conv.numpy(), Tensor(images).conv2d(Tensor(weight), padding=1).numpy(), atol=1e-5)
    with pytest.raises(IndexError, match="out of range"):  # the deferred label check reads its flag on one device
        xs.sparse_categorical_crossentropy(Tensor(labels + 2).shard(CPUS, 0)).item()


def test_assign_keeps_each_devices_memory():
    t = Tensor.zeros(5, 2, device=CPUS).contiguous().realize()
    buffers = [lb.base.buffer for lb in t.lazydata.lbs]
    t.assign(Tensor(_data(5, 2)).shard(CPUS, 0)).realize()  # a sharded value into a replicated tensor
    assert [lb.base.buffer for lb in t.lazydata.lbs] == buffers
    assert t.lazydata.axis is None
    np.testing.assert_array_equal(t.numpy(), _data(5, 2))
    t += 1
    np.testing.assert_array_equal(t.realize().numpy(), _data(5, 2) + 1)


# --- autodiff and training ---
def test_gradient_of_a_replicated_weight():
    x = Tensor(np.arange(10, dtype=np.float32).reshape(5, 2)).shard(CPUS, 0)
    w = Tensor([1.0, 2.0]).to(CPUS).requires_grad_()
    (grad,) = (x * w * w).sum().gradient(w)  # 2 w * column sums, the rows summed across devices
    assert grad.tolist() == [40.0, 100.0]


def _mlp(x: Tensor, params: list[Tensor]) -> Tensor:
    w1, b1, w2, b2 = params
    return (x @ w1 + b1).relu() @ w2 + b2


def _mlp_params(devices=None) -> list[Tensor]:
    arrays = [_data(4, 8, seed=1), _data(8, seed=2), _data(8, 3, seed=3), _data(3, seed=4)]
    return [
        Tensor(a, requires_grad=True) if devices is None else Tensor(a).to(devices).requires_grad_() for a in arrays
    ]


@pytest.mark.parametrize("batch", [6, 5])
def test_mlp_gradients_match_one_device(pair, batch):
    x, y = _data(batch, 4, seed=5), _data(batch, 3, seed=6)
    params = _mlp_params()
    loss = ((_mlp(Tensor(x, requires_grad=True), params) - Tensor(y)) ** 2).mean()
    loss.backward()

    sharded = _mlp_params(pair)
    xs = Tensor(x, requires_grad=True).shard(pair, 0)
    loss_sharded = ((_mlp(xs, sharded) - Tensor(y).shard(pair, 0)) ** 2).mean()
    loss_sharded.backward()

    np.testing.assert_allclose(loss_sharded.item(), loss.item(), rtol=1e-5)
    for single, multi in zip(params, sharded):
        assert multi.grad is not None
        assert single.grad is not None
        assert multi.grad.device == multi.device
        assert multi.grad.lazydata.axis is None
        np.testing.assert_allclose(multi.grad.numpy(), single.grad.numpy(), rtol=1e-5, atol=1e-5)
    assert xs.grad is not None
    assert xs.grad.lazydata.axis == 0


def test_replicated_weight_used_elementwise_gets_whole_gradient():
    w = Tensor(_data(5, 2)).to(CPUS).requires_grad_()
    x = Tensor(_data(5, 2, seed=1)).shard(CPUS, 0)
    (w * x).sum().backward()
    assert w.grad is not None
    assert w.grad.lazydata.axis is None
    np.testing.assert_allclose(w.grad.numpy(), _data(5, 2, seed=1), rtol=1e-6)


def test_weight_sharded_over_its_output_features_trains_like_one_device():
    """Tensor parallelism: the weight split along its outputs, the input replicated; Adam's state is sharded alike."""
    x, w, y = _data(4, 3), _data(3, 6, seed=1), _data(4, 6, seed=2)
    results = []
    for devices in (None, CPUS):
        weight = Tensor(w, requires_grad=True) if devices is None else Tensor(w).shard(devices, 1).requires_grad_()
        inputs = Tensor(x) if devices is None else Tensor(x).to(devices)
        targets = Tensor(y) if devices is None else Tensor(y).shard(devices, 1)
        opt = optim.Adam([weight], lr=0.1)
        with Tensor.train():
            for _ in range(3):
                opt.zero_grad()
                ((inputs @ weight - targets) ** 2).mean().backward()
                opt.step()
        if devices is not None:
            assert weight.lazydata.axis == 1
            assert opt.m[0].lazydata.axis == 1
        results.append(weight.numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-5, atol=1e-6)


class _Model:
    def __init__(self):
        Tensor.manual_seed(3)
        self.l1, self.l2 = Linear(4, 8), Linear(8, 3)

    def __call__(self, x: Tensor) -> Tensor:
        return self.l2(self.l1(x).relu())


OPTIMIZERS = {"sgd": lambda p: optim.SGD(p, lr=0.1, momentum=0.9), "adam": lambda p: optim.Adam(p, lr=0.01)}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_training_sharded_matches_one_device(pair, name):
    x, y = _data(5, 4, seed=7), _data(5, 3, seed=8)
    results = []
    for devices in (None, pair):
        model = _Model()
        if devices is not None:
            for param in get_parameters(model):
                param.shard_(devices)
        opt = OPTIMIZERS[name](get_parameters(model))
        inputs = Tensor(x) if devices is None else Tensor(x).shard(devices, 0)
        targets = Tensor(y) if devices is None else Tensor(y).shard(devices, 0)
        with Tensor.train():
            for _ in range(3):
                opt.zero_grad()
                loss = ((model(inputs) - targets) ** 2).mean()
                loss.backward()
                opt.step()
        results.append([p.numpy() for p in get_parameters(model)] + [loss.numpy()])
        if devices is not None:
            assert all(p.device == model.l1.weight.device for p in get_parameters(model))
    for single, multi in zip(*results):
        np.testing.assert_allclose(multi, single, rtol=1e-5, atol=1e-6)


def _sgd_step(model: _Model, opt: optim.SGD):
    def step(x: Tensor, y: Tensor) -> Tensor:
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return Tensor.realize(loss, *opt.schedule_step())

    return step


def test_tinyjit_replays_a_sharded_training_step():
    """TinyJit captures a step on sharded inputs (one input buffer per device) and replays it with new batches."""
    from tinygrad_core import TinyJit

    batches = [(_data(6, 4, seed=i), _data(6, 3, seed=10 + i)) for i in range(5)]
    results = []
    for jit in (False, True):
        model = _Model()
        for param in get_parameters(model):
            param.shard_(CPUS)
        step = _sgd_step(model, optim.SGD(get_parameters(model), lr=0.1))
        run = TinyJit(step) if jit else step
        with Tensor.train():
            losses = [run(Tensor(x).shard(CPUS, 0), Tensor(y).shard(CPUS, 0)).item() for x, y in batches]
        results.append(losses + [p.numpy() for p in get_parameters(model)])
    for plain, replayed in zip(*results):
        np.testing.assert_allclose(replayed, plain, rtol=1e-6, atol=1e-7)
