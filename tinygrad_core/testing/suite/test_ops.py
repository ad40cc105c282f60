"""Level 'ops': every ALU op of the op set on every declared dtype, CONST, and LOADs through every kind of view.

Each case is one hand-built kernel run with `Device[name].run` and compared with `tinygrad_core.testing.reference`
(docs/ops.md in numpy). The last tests run small Tensor programs, whose kernels come from the scheduler.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinygrad_core import reference
from tinygrad_core.dtype import ALL_DTYPES, FLOATS, INTS, DType, dtypes
from tinygrad_core.ops import Ops
from tinygrad_core.tensor import Tensor
from tinygrad_core.testing import assert_close, dtype_name, require
from tinygrad_core.testing.kernels import alu, const, load, run, sample, tracker
from tinygrad_core.view import ShapeTracker, View

pytestmark = pytest.mark.kit("ops")
N = 96  # elements per case
NUMERIC = (*INTS, *FLOATS)
SIGNED = tuple(d for d in INTS if not dtypes.is_unsigned(d))
FLOAT_UNARY = {
    Ops.EXP2: (-10.0, 10.0),
    Ops.LOG2: (0.01, 100.0),
    Ops.SIN: (-10.0, 10.0),
    Ops.SQRT: (0.0, 100.0),
    Ops.RECIP: (0.1, 10.0),  # either sign
    Ops.TRUNC: (-100.0, 100.0),
}


def _ids(value: Any) -> str:
    return value.name if isinstance(value, Ops) else dtype_name(value) if isinstance(value, DType) else str(value)


def _check(device: str, op: Ops, dtype: DType, operands: list[tuple[DType, np.ndarray]]) -> None:
    """Run `op` over contiguous loads of `operands` on `device` and compare with the reference."""
    require(device, dtype, *(d for d, _ in operands))
    shape = operands[0][1].shape
    node = alu(op, dtype, *(load(i + 1, d, tracker(host.shape)) for i, (d, host) in enumerate(operands)))
    got = reference.values(run(device, node, shape, operands), dtype)
    expected = reference.alu(op, dtype, *(reference.values(host, d) for d, host in operands))
    expected = reference.values(reference.bits(expected, dtype), dtype)  # rounded to the result dtype
    assert_close(got, expected, dtype=dtype, what=f"{op.name} on {dtype_name(operands[0][0])}")


def _small(dtype: DType) -> int:
    """A magnitude whose products (plus one more) still fit the dtype."""
    return min(1000, math.isqrt(int(dtypes.max(dtype)) // 2))


def _nonzero(host: np.ndarray) -> np.ndarray:
    return np.where(host == 0, host.dtype.type(1), host)


def _flip_signs(host: np.ndarray, dtype: DType, seed: int) -> np.ndarray:
    signs = np.random.default_rng(seed).random(host.shape) < 0.5
    return reference.bits(np.where(signs, -1, 1) * reference.values(host, dtype), dtype)


def _with_ties(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """b with a quarter of its elements equal to a's, so comparisons see ties."""
    ties = np.random.default_rng(7).random(a.shape) < 0.25
    return np.where(ties, a, b)


# --- unary ---
UNARY = [(op, d) for op in FLOAT_UNARY for d in FLOATS] + [(Ops.NEG, d) for d in ALL_DTYPES]


@pytest.mark.parametrize(("op", "dtype"), UNARY, ids=_ids)
def test_unary(device: str, op: Ops, dtype: DType) -> None:
    if op is Ops.NEG:  # -min overflows a signed integer
        low = -_small(dtype) if dtype in SIGNED else None
        x = sample(dtype, (N,), low, None if low is None else -low)
    else:
        x = sample(dtype, (N,), *FLOAT_UNARY[op], seed=op.value)
        x = _flip_signs(x, dtype, op.value) if op is Ops.RECIP else x
    _check(device, op, dtype, [(dtype, x)])


# --- binary ---
BINARY = (
    [(op, d) for op in (Ops.ADD, Ops.MUL, Ops.MAX, Ops.CMPLT, Ops.CMPNE) for d in ALL_DTYPES]
    + [(op, d) for op in (Ops.IDIV, Ops.MOD) for d in INTS]
    + [(Ops.MOD, d) for d in FLOATS]
    + [(op, d) for op in (Ops.AND, Ops.OR, Ops.XOR) for d in (dtypes.bool, *INTS)]
    + [(op, d) for op in (Ops.SHL, Ops.SHR) for d in INTS]
)


def _binary_operands(op: Ops, dtype: DType) -> tuple[np.ndarray, np.ndarray]:
    seed = op.value
    width = dtype.itemsize * 8
    if op in (Ops.ADD, Ops.MUL) and dtypes.is_int(dtype):  # overflow has its own test, test_integer_wrap
        low = 0 if dtypes.is_unsigned(dtype) else -_small(dtype)
        return sample(dtype, (N,), low, _small(dtype), seed), sample(dtype, (N,), low, _small(dtype), seed + 1)
    if op in (Ops.IDIV, Ops.MOD) and dtypes.is_int(dtype):  # min / -1 overflows; division by 0 is tested apart
        above_min = None if dtypes.is_unsigned(dtype) else int(dtypes.min(dtype)) + 1
        dividend, divisor = sample(dtype, (N,), above_min, None, seed), sample(dtype, (N,), above_min, None, seed + 1)
        return dividend, _nonzero(divisor)
    if op is Ops.MOD:
        divisor = _flip_signs(sample(dtype, (N,), 0.5, 5.0, seed + 1), dtype, seed)
        return sample(dtype, (N,), -10.0, 10.0, seed), divisor
    if op is Ops.SHL:  # a signed value shifted into the sign bit is undefined in C: keep 3 bits of headroom
        high = None if dtypes.is_unsigned(dtype) else 7
        return sample(dtype, (N,), 0, high, seed), sample(dtype, (N,), 0, width - (1 if high is None else 4), seed)
    if op is Ops.SHR:
        return sample(dtype, (N,), seed=seed), sample(dtype, (N,), 0, width - 1, seed + 1)
    a = sample(dtype, (N,), -10.0 if dtypes.is_float(dtype) else None, 10.0 if dtypes.is_float(dtype) else None, seed)
    b = sample(
        dtype, (N,), -10.0 if dtypes.is_float(dtype) else None, 10.0 if dtypes.is_float(dtype) else None, seed + 1
    )
    return a, _with_ties(a, b)


@pytest.mark.parametrize(("op", "dtype"), BINARY, ids=_ids)
def test_binary(device: str, op: Ops, dtype: DType) -> None:
    a, b = _binary_operands(op, dtype)
    result = dtypes.bool if op in (Ops.CMPLT, Ops.CMPNE) else dtype
    _check(device, op, result, [(dtype, a), (dtype, b)])


@pytest.mark.parametrize(("op", "dtype"), [(op, d) for op in (Ops.ADD, Ops.MUL, Ops.NEG) for d in INTS], ids=_ids)
def test_integer_wrap(device: str, op: Ops, dtype: DType) -> None:
    """Integers wrap around on overflow, signed ones included (docs/ops.md)."""
    a, b = sample(dtype, (N,), seed=1), sample(dtype, (N,), seed=2)
    edges = np.array([dtypes.min(dtype), dtypes.max(dtype), dtypes.max(dtype), 1], dtype.np)
    a[:4], b[:4] = edges, edges[::-1]
    _check(device, op, dtype, [(dtype, a)] if op is Ops.NEG else [(dtype, a), (dtype, b)])


@pytest.mark.parametrize(("op", "dtype"), [(op, d) for op in (Ops.IDIV, Ops.MOD) for d in INTS], ids=_ids)
def test_divide_by_zero(device: str, op: Ops, dtype: DType) -> None:
    """Integer division and remainder by 0 give 0."""
    a = sample(dtype, (N,), 0, 100, seed=3)
    b = np.where(np.arange(N) % 3 == 0, 0, sample(dtype, (N,), 1, 9, seed=4)).astype(dtype.np)
    _check(device, op, dtype, [(dtype, a), (dtype, b)])


@pytest.mark.parametrize(("op", "dtype"), [(op, d) for op in (Ops.SHL, Ops.SHR) for d in INTS], ids=_ids)
def test_shift_past_width(device: str, op: Ops, dtype: DType) -> None:
    """SHL by the bit width or more gives 0; SHR clamps its count to width - 1."""
    width = dtype.itemsize * 8
    a = sample(dtype, (N,), 0 if op is Ops.SHL else None, None, seed=5)
    b = sample(dtype, (N,), width - 1, width + 3, seed=6)
    _check(device, op, dtype, [(dtype, a), (dtype, b)])


SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, math.inf, -math.inf, math.nan]
IEEE = [(op, d) for op in (*FLOAT_UNARY, Ops.NEG, Ops.ADD, Ops.MUL, Ops.CMPLT, Ops.CMPNE) for d in FLOATS]


@pytest.mark.parametrize(("op", "dtype"), IEEE, ids=_ids)
def test_ieee(device: str, op: Ops, dtype: DType) -> None:
    """Infinities, NaN and signed zeros behave as IEEE 754 says: log2(0) = -inf, sqrt(-1) = NaN, 1/0 = inf, ..."""
    specials = np.array(SPECIALS, np.float32)
    if op in FLOAT_UNARY or op is Ops.NEG:
        _check(device, op, dtype, [(dtype, reference.bits(specials, dtype))])
        return
    a, b = np.repeat(specials, len(SPECIALS)), np.tile(specials, len(SPECIALS))  # every pair
    result = dtypes.bool if op in (Ops.CMPLT, Ops.CMPNE) else dtype
    _check(device, op, result, [(dtype, reference.bits(a, dtype)), (dtype, reference.bits(b, dtype))])


# --- ternary ---
TERNARY = [(Ops.WHERE, d) for d in ALL_DTYPES]


@pytest.mark.parametrize(("op", "dtype"), TERNARY, ids=_ids)
def test_ternary(device: str, op: Ops, dtype: DType) -> None:
    if op is Ops.WHERE:
        cond = sample(dtypes.bool, (N,), seed=8)
        _check(
            device,
            op,
            dtype,
            [(dtypes.bool, cond), (dtype, sample(dtype, (N,), seed=9)), (dtype, sample(dtype, (N,), seed=10))],
        )
        return
    low, high = (
        (-10.0, 10.0)
        if dtypes.is_float(dtype)
        else (0 if dtypes.is_unsigned(dtype) else -_small(dtype) // 2, _small(dtype) // 2)
    )
    _check(device, op, dtype, [(dtype, sample(dtype, (N,), low, high, seed=s)) for s in (11, 12, 13)])


# --- conversions ---
def _cast_source(src: DType, dst: DType) -> np.ndarray:
    """Values of `src` that `dst` can hold (C leaves out-of-range conversions undefined), fractions included."""
    low, high = -100.0, 100.0
    for dtype in (src,) if dst == dtypes.bool else (src, dst):
        low, high = max(low, float(dtypes.min(dtype))), min(high, float(dtypes.max(dtype)))
    host = sample(src, (N,), low, high, seed=src.priority * 16 + dst.priority)
    if src != dtypes.bool:
        host[:2] = reference.bits(np.array([0, high]), src)  # zero, and the largest value both can hold
    return host


@pytest.mark.parametrize(("src", "dst"), [(s, d) for s in ALL_DTYPES for d in ALL_DTYPES if s != d], ids=_ids)
def test_cast(device: str, src: DType, dst: DType) -> None:
    _check(device, Ops.CAST, dst, [(src, _cast_source(src, dst))])


BITCAST_GROUPS = [
    (dtypes.int8, dtypes.uint8),
    (dtypes.int16, dtypes.uint16, dtypes.float16, dtypes.bfloat16),
    (dtypes.int32, dtypes.uint32, dtypes.float32),
    (dtypes.int64, dtypes.uint64, dtypes.float64),
]
BITCASTS = [(s, d) for group in BITCAST_GROUPS for s in group for d in group if s != d]


@pytest.mark.parametrize(("src", "dst"), BITCASTS, ids=_ids)
def test_bitcast(device: str, src: DType, dst: DType) -> None:
    """The same bits, read as another dtype of the same size (NaN patterns avoided: some hardware rewrites them)."""
    require(device, src, dst)
    float_of_size = {2: np.float16, 4: np.float32, 8: np.float64}.get(src.itemsize)
    if float_of_size is None:
        host = sample(src, (N,), seed=14)
    else:
        normal = np.random.default_rng(15).uniform(-1e3, 1e3, N).astype(float_of_size)
        host = normal.view(src.np)
    got = run(device, alu(Ops.BITCAST, dst, load(1, src, tracker((N,)))), (N,), [(src, host)])
    np.testing.assert_array_equal(got.view(f"u{dst.itemsize}"), host.view(f"u{src.itemsize}"))


# --- constants ---
def _const_values(dtype: DType) -> list[Any]:
    if dtype == dtypes.bool:
        return [True]
    if dtypes.is_int(dtype):
        return [dtypes.max(dtype), dtypes.min(dtype), 1]
    largest = {dtypes.float16: 65504.0, dtypes.bfloat16: 3.0e38}.get(dtype, 3.0e38)
    return [-2.5, largest, math.inf, -math.inf, math.nan]


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
def test_const(device: str, dtype: DType) -> None:
    """A CONST is its value inside its tracker's mask and 0 outside: row i holds value i in columns 1 to 4."""
    require(device, dtype)
    values = _const_values(dtype)
    rows = len(values)
    node = None
    for i, value in enumerate(values):  # one kernel adding masked constants: each element sees one of them, or none
        st = tracker(()).reshape((1, 1)).expand((1, 4)).pad(((i, rows - 1 - i), (1, 1)))
        node = const(value, dtype, st) if node is None else alu(Ops.ADD, dtype, node, const(value, dtype, st))
    assert node is not None
    got = reference.values(run(device, node, (rows, 6)), dtype)
    expected = np.pad(np.repeat(np.array(values, dtype=object)[:, None], 4, axis=1), ((0, 0), (1, 1)))
    expected = reference.values(reference.bits(expected.astype(reference.compute_dtype(dtype)), dtype), dtype)
    assert_close(got, expected, dtype=dtype, what=f"CONST {values}")


# --- views ---
Movement = Callable[[ShapeTracker], ShapeTracker]
VIEWS: dict[str, tuple[tuple[int, ...], Movement, Callable[[np.ndarray], np.ndarray]]] = {
    "permute": ((2, 3, 4), lambda st: st.permute((2, 0, 1)), lambda a: a.transpose(2, 0, 1)),
    "expand": ((3, 1), lambda st: st.expand((3, 5)), lambda a: np.broadcast_to(a, (3, 5))),
    "expand_inner": ((1, 4), lambda st: st.expand((6, 4)), lambda a: np.broadcast_to(a, (6, 4))),
    "shrink": ((5, 6), lambda st: st.shrink(((1, 4), (2, 5))), lambda a: a[1:4, 2:5]),
    "flip": ((4, 5), lambda st: st.flip((0, 1)), lambda a: a[::-1, ::-1]),
    "pad": ((3, 4), lambda st: st.pad(((1, 2), (0, 3))), lambda a: np.pad(a, ((1, 2), (0, 3)))),
    "pad_flip_shrink": (
        (4, 4),
        lambda st: st.pad(((2, 1), (0, 2))).flip((1,)).shrink(((1, 6), (1, 5))),
        lambda a: np.pad(a, ((2, 1), (0, 2)))[:, ::-1][1:6, 1:5],
    ),
    "reshape_of_permute": ((4, 6), lambda st: st.permute((1, 0)).reshape((3, 8)), lambda a: a.T.reshape(3, 8)),
    "reshape_of_padded": (
        (3, 4),
        lambda st: st.pad(((1, 1), (1, 1))).permute((1, 0)).reshape((5, 6)),
        lambda a: np.pad(a, 1).T.reshape(5, 6),
    ),
    "sliding_window": (
        (10,),
        lambda st: (
            st.reshape((1, 10)).expand((3, 10)).reshape((30,)).pad(((0, 3),)).reshape((3, 11)).shrink(((0, 3), (0, 8)))
        ),
        lambda a: np.lib.stride_tricks.sliding_window_view(a, 8),
    ),
    # a stack a simplifier could merge: the inner view read as a whole is a strided (not contiguous) array
    "unmerged_stack": (
        (4, 64, 64),
        lambda st: ShapeTracker((View.create((2, 2, 64), (8192, 4096, 64), 63), View.create((2, 128)))),
        lambda a: a[:, :, 63].reshape(2, 128),
    ),
}
VIEW_DTYPES = (dtypes.float32, dtypes.int8, dtypes.float16, dtypes.int64)


@pytest.mark.parametrize("dtype", VIEW_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("view", list(VIEWS))
def test_view(device: str, view: str, dtype: DType) -> None:
    """out = (x through a view) + y: reading through strides, offsets, masks and stacks of views."""
    require(device, dtype)
    shape, move, move_np = VIEWS[view]
    st = move(tracker(shape))
    x, y = sample(dtype, shape, -50, 50, seed=16), sample(dtype, st.shape, -50, 50, seed=17)
    node = alu(Ops.ADD, dtype, load(1, dtype, st), load(2, dtype, tracker(st.shape)))
    got = reference.values(run(device, node, st.shape, [(dtype, x), (dtype, y)]), dtype)
    expected = reference.alu(Ops.ADD, dtype, move_np(reference.values(x, dtype)), reference.values(y, dtype))
    assert_close(got, reference.values(reference.bits(expected, dtype), dtype), dtype=dtype, what=view)


def test_two_inputs_through_different_views(device: str) -> None:
    a, b = sample(dtypes.float32, (4, 3), seed=18), sample(dtypes.float32, (3, 4), seed=19)
    st_a = tracker((4, 3)).permute((1, 0)).flip((0,))
    node = alu(Ops.MUL, dtypes.float32, load(1, dtypes.float32, st_a), load(2, dtypes.float32, tracker((3, 4))))
    got = run(device, node, (3, 4), [(dtypes.float32, a), (dtypes.float32, b)])
    assert_close(got, a.T[::-1] * b)


def test_same_buffer_through_two_views(device: str) -> None:
    x = sample(dtypes.int32, (5, 5), -100, 100, seed=20)
    st = tracker((5, 5))
    node = alu(Ops.ADD, dtypes.int32, load(1, dtypes.int32, st), load(1, dtypes.int32, st.permute((1, 0))))
    assert_close(run(device, node, (5, 5), [(dtypes.int32, x)]), x + x.T)


# --- whole kernels ---
def test_shared_subexpressions(device: str) -> None:
    """A DAG, not a tree: each node feeds several users; 40 levels deep would be 2**40 as a tree."""
    x = sample(dtypes.float32, (N,), -1, 1, seed=21)
    node = load(1, dtypes.float32, tracker((N,)))
    expected = x.astype(np.float64)
    for _ in range(40):
        node = alu(
            Ops.MUL, dtypes.float32, alu(Ops.ADD, dtypes.float32, node, node), const(0.5, dtypes.float32, tracker((N,)))
        )
        expected = (expected + expected) * 0.5
    assert_close(run(device, node, (N,), [(dtypes.float32, x)]), expected)


def test_many_buffers(device: str) -> None:
    inputs = [(dtypes.float32, sample(dtypes.float32, (7, 9), seed=30 + i)) for i in range(9)]
    node = load(1, dtypes.float32, tracker((7, 9)))
    for i in range(1, len(inputs)):
        node = alu(Ops.ADD, dtypes.float32, node, load(i + 1, dtypes.float32, tracker((7, 9))))
    assert_close(run(device, node, (7, 9), inputs), sum(host for _, host in inputs))


def test_scalar_kernel(device: str) -> None:
    node = alu(Ops.ADD, dtypes.int32, const(40, dtypes.int32, tracker(())), const(2, dtypes.int32, tracker(())))
    assert run(device, node, ()).item() == 42


def test_output_aliases_input(device: str) -> None:
    """An ASSIGN writes the buffer it reads (an optimizer step): handles[0] is handles[1]."""
    from tinygrad_core.devices import Device
    from tinygrad_core.runtime import Buffer
    from tinygrad_core.testing.kernels import kernel

    host = np.arange(N, dtype=np.float32)
    buf = Buffer(Device[device], N, dtypes.float32).copyin(host)
    doubled = alu(
        Ops.MUL, dtypes.float32, load(1, dtypes.float32, tracker((N,))), const(2.0, dtypes.float32, tracker((N,)))
    )
    step = alu(Ops.ADD, dtypes.float32, doubled, const(1.0, dtypes.float32, tracker((N,))))
    Device[device].run(kernel(step, (N,), [(dtypes.float32, N)]), [buf.handle, buf.handle])
    assert_close(buf.numpy(), host * 2 + 1)


# --- Tensor programs: kernels as the scheduler cuts them ---
TENSOR_PROGRAMS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "broadcast_chain": (lambda x, y: ((x * y) + x).relu() - 0.5, lambda x, y: np.maximum(x * y + x, 0) - 0.5),
    "transpose_reshape": (lambda x, y: x.T.reshape(2, 30) + 1, lambda x, y: x.T.reshape(2, 30) + 1),
    "slice_step": (lambda x, y: x[1::2, ::-3] * 2, lambda x, y: x[1::2, ::-3] * 2),
    "cat_pad": (
        lambda x, y: x.cat(x * 2, dim=1).pad(((1, 0), (2, 1))),
        lambda x, y: np.pad(np.concatenate([x, x * 2], 1), ((1, 0), (2, 1))),
    ),
    "where_compare": (lambda x, y: (x < y[:, :1]).where(x, -x), lambda x, y: np.where(x < y[:, :1], x, -x)),
    "cast_chain": (lambda x, y: (x * 10).cast(dtypes.int32).cast(dtypes.float32), lambda x, y: np.trunc(x * 10)),
}


@pytest.mark.parametrize("program", list(TENSOR_PROGRAMS))
def test_tensor_program(device: str, program: str) -> None:
    ours, numpy_version = TENSOR_PROGRAMS[program]
    x, y = sample(dtypes.float32, (6, 10), -3, 3, seed=40), sample(dtypes.float32, (6, 10), -3, 3, seed=41)
    got = ours(Tensor(x, device=device), Tensor(y, device=device)).numpy()
    assert_close(got, numpy_version(x, y))
