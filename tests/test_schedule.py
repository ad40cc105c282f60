"""Fusion decisions: how many kernels canonical graphs become (the scheduler is device-independent)."""

import numpy as np
import pytest

from tinygrad_core import Tensor
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


def test_reduce_read_through_expand_is_its_own_kernel(abc):
    a, _, _ = abc
    # x - max(x) needs the max of every row before any element: two kernels
    assert kernels(a - a.max(1, keepdim=True)) == 2


def test_softmax_kernel_count(abc):
    a, _, _ = abc
    e = (a - a.max(1, keepdim=True)).exp()
    assert kernels(e / e.sum(1, keepdim=True)) == 3


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
