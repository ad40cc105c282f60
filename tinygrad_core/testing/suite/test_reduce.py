"""Level 'reduce': REDUCE nodes (SUM and MAX over chosen axes) and the elementwise work fused around them.

Nodes under a REDUCE live in the kernel's full shape; the REDUCE and everything above it in the output shape, the
reduced axes kept as 1s (docs/kernel-ir.md). Row kernels (plugin API 2.1) hold several REDUCEs over one row and may
store the whole row after them.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_core import reference
from tinygrad_core.dtype import ALL_DTYPES, FLOATS, INTS, DType, dtypes
from tinygrad_core.ops import Ops
from tinygrad_core.tensor import Tensor
from tinygrad_core.testing import assert_close, dtype_name, require
from tinygrad_core.testing.kernels import alu, const, load, reduce, run, sample, tracker

pytestmark = pytest.mark.kit("reduce")
SHAPE = (3, 4, 5)
AXES = {"inner": (2,), "middle": (1,), "outer_and_inner": (0, 2), "all": (0, 1, 2)}
CASES = [(Ops.SUM, d, a) for d in (*INTS, *FLOATS) for a in AXES] + [(Ops.MAX, d, a) for d in ALL_DTYPES for a in AXES]


def _out_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _reduce(device: str, op: Ops, dtype: DType, host: np.ndarray, axes: tuple[int, ...]) -> None:
    require(device, dtype)
    node = reduce(op, axes, load(1, dtype, tracker(host.shape)))
    got = reference.values(run(device, node, _out_shape(host.shape, axes), [(dtype, host)]), dtype)
    expected = reference.reduce(op, reference.values(host, dtype), axes, dtype)
    assert_close(got, reference.values(reference.bits(expected, dtype), dtype), dtype=dtype, what=f"{op.name} {axes}")


def _ids(case: tuple[Ops, DType, str]) -> str:
    op, dtype, axes = case
    return f"{op.name}-{dtype_name(dtype)}-{axes}"


@pytest.mark.parametrize(("op", "dtype", "axes"), CASES, ids=[_ids(c) for c in CASES])
def test_reduce(device: str, op: Ops, dtype: DType, axes: str) -> None:
    if op is Ops.SUM and dtypes.is_int(dtype):  # sums that fit: overflow is not what this checks
        low = 0 if dtypes.is_unsigned(dtype) else -2
        host = sample(dtype, SHAPE, low, 2, seed=1)
    else:
        host = sample(
            dtype, SHAPE, -10.0 if dtypes.is_float(dtype) else None, 10.0 if dtypes.is_float(dtype) else None, seed=2
        )
    _reduce(device, op, dtype, host, AXES[axes])


@pytest.mark.parametrize("dtype", [dtypes.float32, dtypes.int32, dtypes.float16, dtypes.uint8], ids=dtype_name)
@pytest.mark.parametrize("op", [Ops.SUM, Ops.MAX], ids=lambda op: op.name)
def test_empty(device: str, op: Ops, dtype: DType) -> None:
    """Reducing zero elements gives 0 (SUM) or the dtype's minimum, -inf for floats (MAX)."""
    _reduce(device, op, dtype, np.zeros((3, 0, 2), dtype.np), (1,))


def test_long_sum(device: str) -> None:
    """2**16 float32 values: a plain running sum is off by more than the tolerance; accumulate pairwise or wider."""
    host = sample(dtypes.float32, (1 << 16,), 0.0, 1.0, seed=3)
    _reduce(device, Ops.SUM, dtypes.float32, host, (0,))


def test_half_sum_accumulates_wider(device: str) -> None:
    """4096 float16 ones sum to 4096, though float16 stops counting by ones at 2048."""
    _reduce(device, Ops.SUM, dtypes.float16, np.ones(4096, np.float16), (0,))


def test_broadcast_axis(device: str) -> None:
    """Reducing an expanded (stride 0) axis counts every repetition."""
    host = sample(dtypes.float32, (4, 1), seed=4)
    node = reduce(Ops.SUM, (1,), load(1, dtypes.float32, tracker((4, 1)).expand((4, 6))))
    assert_close(run(device, node, (4, 1), [(dtypes.float32, host)]), host * 6)


def test_through_view(device: str) -> None:
    host = sample(dtypes.float32, (5, 6), seed=5)
    st = tracker((5, 6)).permute((1, 0)).flip((0,)).pad(((0, 0), (1, 2)))
    node = reduce(Ops.MAX, (1,), load(1, dtypes.float32, st))
    expected = np.pad(host.T[::-1], ((0, 0), (1, 2))).max(axis=1, keepdims=True)
    assert_close(run(device, node, (6, 1), [(dtypes.float32, host)]), expected)


@pytest.mark.parametrize("dtype", [dtypes.float32, dtypes.int32, dtypes.float16], ids=dtype_name)
def test_sum_of_products(device: str, dtype: DType) -> None:
    """A matmul as the scheduler sends it: SUM(MUL(a viewed as (n, 1, k), b viewed as (1, m, k)), axis=2)."""
    require(device, dtype)
    n, m, k = 5, 7, 9
    a = sample(dtype, (n, k), -3 if dtypes.is_int(dtype) else -1.0, 3 if dtypes.is_int(dtype) else 1.0, seed=6)
    b = sample(dtype, (m, k), -3 if dtypes.is_int(dtype) else -1.0, 3 if dtypes.is_int(dtype) else 1.0, seed=7)
    a_st = tracker((n, k)).reshape((n, 1, k)).expand((n, m, k))
    b_st = tracker((m, k)).reshape((1, m, k)).expand((n, m, k))
    node = reduce(Ops.SUM, (2,), alu(Ops.MUL, dtype, load(1, dtype, a_st), load(2, dtype, b_st)))
    got = reference.values(run(device, node, (n, m, 1), [(dtype, a), (dtype, b)]), dtype)
    va, vb = reference.values(a, dtype), reference.values(b, dtype)
    expected = (va.astype(np.float64) @ vb.T.astype(np.float64)).reshape(n, m, 1)
    assert_close(got, expected.astype(reference.compute_dtype(dtype)), dtype=dtype)


def test_elementwise_after(device: str) -> None:
    """mean-and-shift in one kernel: SUM(x * x) * (1/k) + bias, the bias read in the output shape."""
    x, bias = sample(dtypes.float32, (6, 8), seed=8), sample(dtypes.float32, (6, 1), seed=9)
    squares = alu(
        Ops.MUL, dtypes.float32, load(1, dtypes.float32, tracker((6, 8))), load(1, dtypes.float32, tracker((6, 8)))
    )
    mean = alu(Ops.MUL, dtypes.float32, reduce(Ops.SUM, (1,), squares), const(1 / 8, dtypes.float32, tracker((6, 1))))
    node = alu(Ops.ADD, dtypes.float32, mean, load(2, dtypes.float32, tracker((6, 1))))
    got = run(device, node, (6, 1), [(dtypes.float32, x), (dtypes.float32, bias)])
    assert_close(got, (x.astype(np.float64) ** 2).mean(axis=1, keepdims=True) + bias)


def test_max_with_infinities(device: str) -> None:
    host = np.array([[-np.inf, -np.inf], [-np.inf, 3.0], [np.inf, 1.0]], np.float32)
    _reduce(device, Ops.MAX, dtypes.float32, host, (1,))


# --- row kernels (plugin API 2.1): several reductions over one row, then a store of the whole row ---
def _require_rows(device: str) -> None:
    from tinygrad_core.devices import Device
    from tinygrad_core.schedule import ROW_KERNELS_API

    declared = Device.api_of(device)
    if declared < ROW_KERNELS_API:
        pytest.skip(f"{device} declares plugin API {declared[0]}.{declared[1]}: row kernels need 2.1")


@pytest.mark.parametrize("dtype", [dtypes.float32, dtypes.float16, dtypes.float64], ids=dtype_name)
@pytest.mark.parametrize("shape", [(5, 7), (3, 64), (1, 1)], ids=lambda s: "x".join(map(str, s)))
def test_row_softmax(device: str, dtype: DType, shape: tuple[int, int]) -> None:
    """MAX, then SUM of exp(x - max) reading it, then every element divided by the sum: three passes over a row."""
    require(device, dtype)
    _require_rows(device)
    x = load(1, dtype, tracker(shape))
    shifted = alu(Ops.ADD, dtype, x, alu(Ops.NEG, dtype, reduce(Ops.MAX, (1,), x)))
    e = alu(Ops.EXP2, dtype, alu(Ops.MUL, dtype, shifted, const(1 / np.log(2), dtype, tracker(shape))))
    node = alu(Ops.MUL, dtype, e, alu(Ops.RECIP, dtype, reduce(Ops.SUM, (1,), e)))
    host = sample(dtype, shape, -4.0, 4.0, seed=10)
    values = reference.values(host, dtype).astype(np.float64)
    exp = np.exp(values - values.max(1, keepdims=True))
    got = reference.values(run(device, node, shape, [(dtype, host)]), dtype)
    assert_close(got, exp / exp.sum(1, keepdims=True), dtype=dtype, what="softmax row kernel")


@pytest.mark.parametrize("axes", [(1,), (0, 2)], ids=str)
def test_row_layernorm(device: str, axes: tuple[int, ...]) -> None:
    """The mean, then the mean square of (x - mean) reading it, then (x - mean) / sqrt(var + eps) stored per element,
    over one axis or two that are not neighbours."""
    _require_rows(device)
    shape, f32 = (4, 6, 5), dtypes.float32
    count = np.prod([shape[a] for a in axes])
    out = tuple(1 if i in axes else n for i, n in enumerate(shape))
    x = load(1, f32, tracker(shape))
    mean = alu(Ops.MUL, f32, reduce(Ops.SUM, axes, x), const(1 / count, f32, tracker(out)))
    centered = alu(Ops.ADD, f32, x, alu(Ops.NEG, f32, mean))
    var = alu(
        Ops.MUL, f32, reduce(Ops.SUM, axes, alu(Ops.MUL, f32, centered, centered)), const(1 / count, f32, tracker(out))
    )
    scale = alu(Ops.RECIP, f32, alu(Ops.SQRT, f32, alu(Ops.ADD, f32, var, const(1e-5, f32, tracker(out)))))
    host = sample(f32, shape, -3.0, 3.0, seed=11)
    values = host.astype(np.float64)
    c = values - values.mean(axes, keepdims=True)
    expected = c / np.sqrt((c * c).mean(axes, keepdims=True) + 1e-5)
    assert_close(run(device, alu(Ops.MUL, f32, centered, scale), shape, [(f32, host)]), expected, what="layernorm")


def test_row_reductions_into_the_reduced_shape(device: str) -> None:
    """Two reductions, the second reading the first, stored in the reduced shape: log(sum(exp(x - max))) + max."""
    _require_rows(device)
    f32, shape = dtypes.float32, (6, 9)
    x = load(1, f32, tracker(shape))
    top = reduce(Ops.MAX, (1,), x)
    e = alu(
        Ops.EXP2,
        f32,
        alu(Ops.MUL, f32, alu(Ops.ADD, f32, x, alu(Ops.NEG, f32, top)), const(1 / np.log(2), f32, tracker(shape))),
    )
    log = alu(Ops.MUL, f32, alu(Ops.LOG2, f32, reduce(Ops.SUM, (1,), e)), const(np.log(2), f32, tracker((6, 1))))
    host = sample(f32, shape, -5.0, 5.0, seed=12)
    expected = np.log(np.exp(host.astype(np.float64)).sum(1, keepdims=True))
    assert_close(run(device, alu(Ops.ADD, f32, log, top), (6, 1), [(f32, host)]), expected, what="logsumexp")


# --- through the Tensor API ---
TENSOR_REDUCTIONS = {
    "sum_keepdim": (lambda x: x.sum(axis=1, keepdim=True), lambda x: x.sum(axis=1, keepdims=True)),
    "mean": (lambda x: x.mean(), lambda x: x.mean()),
    "min_axis0": (lambda x: x.min(axis=0), lambda x: x.min(axis=0)),
    "argmax": (lambda x: x.argmax(axis=1), lambda x: x.argmax(axis=1)),
    "softmax": (
        lambda x: x.softmax(),
        lambda x: np.exp(x - x.max(-1, keepdims=True)) / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True),
    ),
    "matmul": (lambda x: x @ x.T, lambda x: x @ x.T),
    "var": (lambda x: x.var(axis=0), lambda x: x.var(axis=0, ddof=1)),
}


@pytest.mark.parametrize("program", list(TENSOR_REDUCTIONS))
def test_tensor_reduction(device: str, program: str) -> None:
    ours, numpy_version = TENSOR_REDUCTIONS[program]
    x = sample(dtypes.float32, (6, 10), -3, 3, seed=10)
    assert_close(ours(Tensor(x, device=device)).numpy(), numpy_version(x.astype(np.float64)), atol=1e-4, rtol=1e-4)
