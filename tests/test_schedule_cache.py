"""The schedule cache: the same graph over new buffers reuses its schedule; any difference the scheduler sees misses."""

import numpy as np
import pytest

from tinygrad_core import Tensor, dtypes
from tinygrad_core.devices import Device
from tinygrad_core.errors import DeviceError
from tinygrad_core.nn import optim
from tinygrad_core.schedule import capture, schedule_cache


@pytest.fixture(autouse=True)
def empty_cache():
    schedule_cache.clear()


def counted(make):
    """make()'s result as numpy, and the hits and misses its scheduling took."""
    hits, misses = schedule_cache.hits, schedule_cache.misses
    out = make().numpy()
    return out, schedule_cache.hits - hits, schedule_cache.misses - misses


def test_repeated_structure_hits(device):
    rng = np.random.default_rng(0)
    for step in range(4):
        a, b = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32)
        out, hits, misses = counted(lambda a=a, b=b: ((Tensor(a, device=device) * Tensor(b, device=device)) + 1).sum(1))
        np.testing.assert_allclose(out, (a * b + 1).sum(1), rtol=1e-5)
        assert (hits, misses) == ((0, 1) if step == 0 else (1, 0))
    assert len(schedule_cache.templates) == 1


# pairs of graphs that differ in one thing the scheduler reads: (graph of Tensors a, b; the same in numpy)
PAIRS = {
    "const": ((lambda a, b: a + 1, lambda a, b: a + 1), (lambda a, b: a + 2, lambda a, b: a + 2)),
    "negative zero": ((lambda a, b: a * 0.0, lambda a, b: a * 0.0), (lambda a, b: a * -0.0, lambda a, b: a * -0.0)),
    "dtype": (
        (lambda a, b: a.cast(dtypes.int32) * 3, lambda a, b: a.astype(np.int32) * 3),
        (lambda a, b: a.cast(dtypes.int16) * 3, lambda a, b: a.astype(np.int16) * 3),
    ),
    "reduce axis": ((lambda a, b: a.sum(0), lambda a, b: a.sum(0)), (lambda a, b: a.sum(1), lambda a, b: a.sum(1))),
    "view": ((lambda a, b: a + b, lambda a, b: a + b), (lambda a, b: a.T + b, lambda a, b: a.T + b)),
    "mask": (
        (lambda a, b: a.pad(((1, 0), (0, 0)))[:4] + 1, lambda a, b: np.pad(a, ((1, 0), (0, 0)))[:4] + 1),
        (lambda a, b: a.pad(((0, 1), (0, 0)))[1:] + 1, lambda a, b: np.pad(a, ((0, 1), (0, 0)))[1:] + 1),
    ),
    "mask, rule 5": (
        (lambda a, b: a.exp2().flip(0) + 1, lambda a, b: np.exp2(a)[::-1] + 1),
        (
            lambda a, b: a.exp2().pad(((1, 0), (0, 0)))[:4] + 1,
            lambda a, b: np.pad(np.exp2(a), ((1, 0), (0, 0)))[:4] + 1,
        ),
    ),
    "same input twice": ((lambda a, b: a * a, lambda a, b: a * a), (lambda a, b: a * b, lambda a, b: a * b)),
    "assign source": (
        (lambda a, b: a.assign(a + 1), lambda a, b: a + 1),
        (lambda a, b: a.assign(b + 1), lambda a, b: b + 1),
    ),
    "assign through a view, rule 3": (
        (lambda a, b: a.assign(a.flip(0) + 1), lambda a, b: a[::-1] + 1),
        (lambda a, b: a.assign(b.flip(0) + 1), lambda a, b: b[::-1] + 1),
    ),
}


@pytest.mark.parametrize("pair", PAIRS.values(), ids=PAIRS.keys())
def test_a_difference_misses(device, pair):
    rng = np.random.default_rng(1)
    # each graph misses once, then both hit: the key tells them apart and stays stable for each
    for (graph, reference), expected in zip((*pair, *pair), ((0, 1), (0, 1), (1, 0), (1, 0))):
        a, b = rng.standard_normal((4, 4)).astype(np.float32), rng.standard_normal((4, 4)).astype(np.float32)
        out, hits, misses = counted(
            lambda a=a, b=b, graph=graph: graph(Tensor(a, device=device), Tensor(b, device=device))
        )
        want = reference(a, b)
        np.testing.assert_allclose(out, want, rtol=1e-6)
        np.testing.assert_array_equal(np.signbit(out), np.signbit(want))
        assert (hits, misses) == expected


def test_wanted_bases_are_part_of_the_key(device):
    a = Tensor(np.arange(4, dtype=np.float32), device=device)
    x = a * 2
    Tensor.realize(x, x + 1)
    assert x.lazydata.realized
    y = a * 2
    out = y + 1
    out.realize()  # the same graph, but y is not asked for: it is inlined, not computed into a buffer of its own
    assert schedule_cache.hits == 0
    assert not y.lazydata.realized
    np.testing.assert_array_equal(out.numpy(), np.arange(4) * 2 + 1)


def test_assign_chains_over_steps(device):
    rng = np.random.default_rng(2)
    acc, flipped = np.zeros(6, np.float32), np.ones(6, np.float32)
    tacc, tflipped = Tensor(acc.copy(), device=device), Tensor(flipped.copy(), device=device)
    for _ in range(5):
        b = rng.standard_normal(6).astype(np.float32)
        tb = Tensor(b, device=device)
        tacc.assign(tacc + tb)
        tacc.assign(tacc * 2)  # a second ASSIGN to the same buffer, reading the first
        tflipped.assign(tflipped.flip(0) * tb + tacc)  # reads its own target through a view: scratch buffer
        Tensor.realize(tacc, tflipped)
        acc = (acc + b) * 2
        flipped = flipped[::-1] * b + acc
        np.testing.assert_allclose(tacc.numpy(), acc, rtol=1e-5)
        np.testing.assert_allclose(tflipped.numpy(), flipped, rtol=1e-5)
    assert (schedule_cache.hits, schedule_cache.misses) == (4, 1)  # numpy() of a realized tensor schedules nothing


def _train(device, steps):
    rng = np.random.default_rng(3)

    def param(*shape):
        return Tensor(rng.standard_normal(shape).astype(np.float32), device=device, requires_grad=True)

    w1, b1, w2, b2 = param(8, 16), param(16), param(16, 3), param(3)
    opt = optim.Adam([w1, b1, w2, b2], lr=1e-2)
    x = Tensor(rng.standard_normal((10, 8)).astype(np.float32), device=device)
    y = Tensor(rng.integers(0, 3, 10).astype(np.int32), device=device)
    losses = []
    with Tensor.train():
        for _ in range(steps):
            opt.zero_grad()
            loss = ((x @ w1 + b1).relu() @ w2 + b2).sparse_categorical_crossentropy(y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses, [p.numpy() for p in opt.params]


def test_optimizer_loop_matches_a_run_without_the_cache(device, monkeypatch):
    cached_losses, cached_params = _train(device, steps=5)
    assert schedule_cache.hits > 0
    schedule_cache.clear()
    monkeypatch.setattr(schedule_cache, "maxsize", 0)  # keeps nothing: every realize schedules from scratch
    losses, params = _train(device, steps=5)
    assert schedule_cache.hits == 0
    assert cached_losses == losses
    for cached, fresh in zip(cached_params, params):
        np.testing.assert_array_equal(cached, fresh)


def test_least_recently_used_goes_first(device, monkeypatch):
    monkeypatch.setattr(schedule_cache, "maxsize", 2)
    a = np.arange(4, dtype=np.float32)
    for value in (1, 2, 3):
        counted(lambda value=value: Tensor(a, device=device) + value)
    assert len(schedule_cache.templates) == 2
    _, hits, misses = counted(lambda: Tensor(a, device=device) + 3)
    assert (hits, misses) == (1, 0)
    _, hits, misses = counted(lambda: Tensor(a, device=device) + 1)
    assert (hits, misses) == (0, 1)


def test_a_hit_is_captured(device):
    with capture() as items:
        for _ in range(2):
            (Tensor([1.0, 2.0], device=device) + 1).realize()
    assert schedule_cache.hits == 1
    assert len(items) == 2
    assert items[0].kernel is items[1].kernel
    assert items[0].bufs[0] is not items[1].bufs[0]


def test_dtype_support_is_checked_again_on_a_hit(device, monkeypatch):
    (Tensor([1.0, 2.0], device=device) + 1).realize()
    dev = Device[device]
    monkeypatch.setattr(dev, "dtypes", dev.dtypes - {dtypes.float32})
    with pytest.raises(DeviceError, match="float"):
        (Tensor([1.0, 2.0], device=device) + 1).realize()
