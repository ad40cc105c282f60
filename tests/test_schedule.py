"""Fusion decisions: how many kernels canonical graphs become (the scheduler is device-independent)."""

import numpy as np
import pytest

from tinygrad_core import Device, Tensor, schedule
from tinygrad_core.devices import BackendSpec
from tinygrad_core.ops import Ops
from tinygrad_core.schedule import create_schedule


def kernels(*tensors: Tensor) -> int:
    return len(create_schedule([t.lazydata for t in tensors]))


@pytest.fixture
def abc(device):
    rng = np.random.default_rng(0)
    return [Tensor(rng.standard_normal((16, 8)).astype(np.float32), device=device) for _ in range(3)]


def test_elementwise_into_reduce_is_one_kernel(abc):
    a, b, c = abc
    out = ((a * b) + c).relu().sum()
    assert kernels(out) == 1
    np.testing.assert_allclose(out.numpy(), np.maximum(a.numpy() * b.numpy() + c.numpy(), 0).sum(), rtol=1e-5)


def test_elementwise_chain_is_one_kernel(abc):
    a, b, c = abc
    assert kernels((a * 2 + b).exp() * c - a) == 1


def test_elementwise_after_reduce_fuses(abc):
    a, _, _ = abc
    assert kernels(a.sum(1) * 2 + 1) == 1


def test_reduce_read_through_expand_joins_its_reader_as_a_row_kernel(abc):
    a, _, _ = abc
    # x - max(x) needs the max of every row before any element: one row kernel, two passes over each row (rule 7)
    assert kernels(a - a.max(1, keepdim=True)) == 1


def test_softmax_log_softmax_and_layernorm_are_one_kernel_each(abc):
    a, _, _ = abc
    e = (a - a.max(1, keepdim=True)).exp()
    assert kernels(e / e.sum(1, keepdim=True)) == 1
    assert kernels(a.log_softmax(1)) == 1
    assert kernels(a.layernorm(1)) == 1


def test_rows_too_long_for_a_cache_stay_separate_kernels():
    x = Tensor.ones(2, schedule.ROW_LIMIT * 2).contiguous().realize()
    assert kernels(x - x.max(1, keepdim=True)) == 2


def test_row_kernels_only_reach_backends_that_declare_them():
    with Device.registered(BackendSpec(name="OLDAPI", device="tinygrad_cpu.runtime:CPUDevice", api_version=(2, 0))):
        x = Tensor([[1.0, 2.0], [3.0, 5.0]], device="OLDAPI")
        assert kernels(x - x.max(1, keepdim=True)) == 2
        assert (x - x.max(1, keepdim=True)).tolist() == [[-1.0, 0.0], [-2.0, 0.0]]


def test_matmul_is_one_kernel(abc):
    a, b, _ = abc
    assert kernels(a @ b.T) == 1
    assert kernels((a @ b.T).relu() + 1) == 1


def test_movement_ops_are_views(abc):
    a, _, _ = abc
    a.realize()
    moved = a.T.reshape(4, 32).flip(0).pad(((1, 1), (0, 0)))[1:3]
    assert moved.lazydata.base is a.lazydata.base  # no copy was made
    assert kernels(moved) == 0  # a view of realized memory needs no kernel
    assert kernels(moved.contiguous()) == 1  # copying it out is one


def test_realized_inputs_are_loaded(abc):
    a, b, _ = abc
    (item,) = create_schedule([(a + b).lazydata])
    loads = [n for n in item.kernel.ast.toposort() if n.op is Ops.LOAD]
    assert len(loads) == 2
    assert item.kernel.name == "E_16_8"


def test_shared_reduce_is_computed_once(abc):
    a, _, _ = abc
    s = a.sum(1)
    assert kernels(s * 2, s + 1) == 3  # one reduce, two elementwise readers


# --- ASSIGN graphs: every read sees the values its graph node names, whatever the kernel order (rules 3, 4, 6) ---
def _sgd_reference(steps: int, weight_decay: float, dtype: str):
    import torch

    rng = np.random.default_rng(0)
    x0, w0, m0 = (rng.standard_normal(shape).astype(np.float32) for shape in [(1, 4), (4, 4), (1, 4)])
    tx = torch.tensor(x0, requires_grad=True, dtype=getattr(torch, dtype))
    tw = torch.tensor(w0, requires_grad=True, dtype=getattr(torch, dtype))
    tm = torch.tensor(m0, dtype=getattr(torch, dtype))
    opt = torch.optim.SGD([tx, tw], lr=0.001, weight_decay=weight_decay)
    for _ in range(steps):
        out = tx.matmul(tw).relu().log_softmax(1).mul(tm).add(tm).sum()
        opt.zero_grad()
        out.backward()
        opt.step()
    return (x0, w0, m0), (tx.detach().float().numpy(), tw.detach().float().numpy())


@pytest.mark.parametrize(("steps", "weight_decay"), [(1, 0.0), (1, 0.1), (3, 0.0), (3, 0.01)])
def test_plain_sgd_where_updates_read_each_other(device, steps, weight_decay):
    """Each parameter's update reads the other's old value: the two ASSIGNs can't both go first (rule 6)."""
    from tinygrad_core.nn.optim import SGD

    (x0, w0, m0), expected = _sgd_reference(steps, weight_decay, "float32")
    x, w = Tensor(x0, device=device, requires_grad=True), Tensor(w0, device=device, requires_grad=True)
    m = Tensor(m0, device=device)
    opt = SGD([x, w], lr=0.001, weight_decay=weight_decay)
    for _ in range(steps):
        out = x.matmul(w).relu().log_softmax(1).mul(m).add(m).sum()
        opt.zero_grad()
        out.backward()
        opt.step()
    np.testing.assert_allclose(x.numpy(), expected[0], atol=1e-6, rtol=1e-5)
    np.testing.assert_allclose(w.numpy(), expected[1], atol=1e-6, rtol=1e-5)


def test_mixed_precision_sgd_step(device):
    """float16 parameters updated from float32 math: the cast ASSIGNs read each other too."""
    from tinygrad_core import dtypes
    from tinygrad_core.nn.optim import SGD
    from tinygrad_core.testing import require

    require(device, "float16")
    (x0, w0, m0), expected = _sgd_reference(1, 0.0, "float32")
    x = Tensor(x0, device=device, dtype=dtypes.float16, requires_grad=True)
    w = Tensor(w0, device=device, dtype=dtypes.float16, requires_grad=True)
    m = Tensor(m0, device=device)
    opt = SGD([x, w], lr=0.001)
    out = x.float().matmul(w.float()).relu().log_softmax(1).mul(m).add(m).sum()
    out.backward()
    opt.step()
    np.testing.assert_allclose(x.numpy(), expected[0], atol=2e-3, rtol=2e-3)
    np.testing.assert_allclose(w.numpy(), expected[1], atol=2e-3, rtol=2e-3)


def test_double_diamond_assign(device):
    """Two buffers, each assigned a value of both old ones, read again by a third kernel: all see old values."""
    a = Tensor([1.0, 2.0, 3.0], device=device).contiguous().realize()
    b = Tensor([10.0, 20.0, 30.0], device=device).contiguous().realize()
    old_a, old_b = Tensor(a.lazydata, device=device), Tensor(b.lazydata, device=device)
    both = old_a + old_b
    a.assign(both * old_b.sum())
    b.assign(both * old_a.sum())
    total = (old_a * old_b).sum()
    Tensor.realize(a, b, total)
    np.testing.assert_allclose(a.numpy(), np.array([11.0, 22.0, 33.0]) * 60)
    np.testing.assert_allclose(b.numpy(), np.array([11.0, 22.0, 33.0]) * 6)
    assert total.item() == 140.0


def _assign_graphs():
    """A few buffers; each round assigns some of them a random expression of old values, new values (the Tensor
    after an earlier assign) or both, through elementwise ops, reductions and views."""
    from hypothesis import strategies as st

    expression = st.tuples(
        st.sampled_from(["add", "mul", "sub_sum", "flip_add", "max_sum"]),
        st.integers(0, 2),
        st.integers(0, 2),
        st.booleans(),  # read the first operand's value from before this round's assigns
        st.booleans(),
    )
    rounds = st.lists(
        st.lists(st.tuples(st.integers(0, 2), expression), min_size=1, max_size=3), min_size=1, max_size=2
    )
    return rounds


def _apply(kind, a, b):
    if kind == "add":
        return a + b
    if kind == "mul":
        return a * b * 0.5
    if kind == "sub_sum":
        return a - b.sum() * 0.1
    if kind == "flip_add":
        return a[::-1] + b
    return a + b.max()


def test_random_assign_graphs_match_numpy():
    """Hypothesis: any pattern of ASSIGNs realized together gives what evaluating them in program order gives. The
    scheduler is device-independent; the CPU backend runs each new graph without compiling anything."""
    from hypothesis import example, given, settings

    device = "CPU"

    @settings(max_examples=150, deadline=None)
    @given(_assign_graphs())
    @example([[(0, ("add", 0, 0, False, False)), (0, ("add", 0, 0, False, True))]])  # reads old and new at once
    @example([[(0, ("mul", 1, 0, True, True)), (1, ("sub_sum", 0, 1, True, True))]])  # updates read each other
    def check(rounds):
        start = [np.arange(4, dtype=np.float32) + 10 * i for i in range(3)]
        tensors = [Tensor(v, device=device).contiguous().realize() for v in start]
        reference = [v.copy() for v in start]
        for assigns in rounds:
            old = [Tensor(t.lazydata, device=device) for t in tensors]
            old_values = [v.copy() for v in reference]
            for target, (kind, i, j, old_i, old_j) in assigns:
                a = old[i] if old_i else tensors[i]
                b = old[j] if old_j else tensors[j]
                av = old_values[i] if old_i else reference[i]
                bv = old_values[j] if old_j else reference[j]
                tensors[target].assign(_apply(kind, a, b))
                reference[target] = _apply(kind, av, bv).astype(np.float32)
            Tensor.realize(*tensors)
        for t, v in zip(tensors, reference):
            np.testing.assert_allclose(t.numpy(), v, rtol=1e-5)

    check()


def test_reductions_over_empty_axes_read_no_buffer(device):
    """What the Metal emulator's bounds checks once caught: a reduction over an empty axis is its identity constant,
    with no kernel reading the empty input (so no backend can read element 0 of an empty buffer)."""
    x = Tensor.zeros(3, 0, 2, device=device).contiguous()
    for out in (x.sum(1), x.max(1), x.mean(1) * 2):
        for item in create_schedule([out.lazydata]):
            if item.kernel is not None:
                loads = [n for n in item.kernel.ast.toposort() if n.op is Ops.LOAD]
                assert all(item.kernel.bufs[n.arg[0]].size > 0 for n in loads), item.kernel
    assert x.sum(1).tolist() == [[0.0, 0.0]] * 3
