"""The shared compiled-backend machinery without a device: index algebra, canonical loop spaces, lowering, the
C-family renderer's override points and the compile cache."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from tinygrad_core import Tensor, flags
from tinygrad_core.codegen import Compiler, opt
from tinygrad_core.codegen.build import kernel_key
from tinygrad_core.codegen.cstyle import CStyleRenderer
from tinygrad_core.codegen.lower import Plan, U, canonicalize, lower
from tinygrad_core.codegen.symbolic import NEVER, Div, Lin, in_range
from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.ops import Ops
from tinygrad_core.schedule import create_schedule


def kernel_of(out: Tensor):
    return [item.kernel for item in create_schedule([out.lazydata]) if item.kernel is not None][-1]


def cpu(*shape: int) -> Tensor:
    return Tensor(np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape), device="CPU")


# --- index algebra ---
def test_division_by_the_stride_of_an_inner_index_vanishes():
    i, j = Lin.var("i", 10), Lin.var("j", 8)
    assert (i * 8 + j) // 8 == i
    assert (i * 8 + j) % 8 == j
    assert dict(((i * 8 + j) // 4).terms)[i.terms[0][0]] == 2  # 2*i + j//4


def test_division_keeps_what_it_cannot_prove():
    i = Lin.var("i", 100)
    q = (i + 3) // 7
    assert any(isinstance(atom, Div) for atom, _ in q.terms)
    assert q.bounds == (0, 14)


def test_nested_divisions_merge():
    i = Lin.var("i", 1000)
    assert (i // 4) // 5 == i // 20


def test_conditions_that_always_or_never_hold():
    i = Lin.var("i", 10)
    assert in_range(i, 0, 10) == ()
    assert in_range(i + 20, 0, 10) is NEVER
    assert len(in_range(i, 2, 10)) == 1  # type: ignore[arg-type]


# --- canonical loop space and lowering ---
def test_contiguous_dims_merge_and_reduce_dims_go_last():
    kernel = canonicalize(kernel_of(cpu(4, 6, 8).sum(1)))
    assert kernel.full_shape == (4, 8, 6)  # the reduced dim moves last; (4, 8) are not neighbours in memory
    assert kernel.reduce_axes == (2,)
    kernel = canonicalize(kernel_of(cpu(4, 6, 8).sum(0)))
    assert kernel.full_shape == (48, 4)  # (6, 8) walk memory as one output dim
    assert kernel.reduce_axes == (1,)


def test_structurally_equal_kernels_share_a_key():
    assert kernel_key(kernel_of(cpu(4, 4) + 1)) == kernel_key(kernel_of(cpu(4, 4) + 1))
    assert kernel_key(kernel_of(cpu(4, 4) + 1)) != kernel_key(kernel_of(cpu(4, 4) + 2))


def test_plain_plan_is_one_loop_per_dim():
    prog = lower(canonicalize(kernel_of(cpu(4, 6).sum(1))), Plan(), CStyleRenderer())
    loops = [ins.arg for ins in prog.instrs if ins.op is U.LOOP]
    assert [(kind, size) for _, size, kind in loops] == [("loop", 4), ("reduce", 6)]


def test_plan_must_fit_the_loop_space():
    kernel = canonicalize(kernel_of(cpu(10) * 2))
    with pytest.raises(ValueError, match="does not fit"):
        lower(kernel, Plan(upcast=(4,)), CStyleRenderer())


def test_vector_lanes_load_contiguous_memory_as_one_vector():
    kernel = canonicalize(kernel_of(cpu(64) * 2))
    prog = lower(kernel, Plan(upcast=(8,), vector=0, width=8, parallel=0), OpenCLLike())
    loads = [ins for ins in prog.instrs if ins.op is U.LOAD]
    assert [ins.width for ins in loads] == [8]
    assert prog.global_size == 8


def test_strided_lanes_become_scalar_loads():
    kernel = canonicalize(kernel_of(cpu(16, 8).permute(1, 0) + 1))
    prog = lower(kernel, Plan(upcast=(1, 8), vector=1, width=8), CStyleRenderer())
    assert sum(ins.op is U.LOAD for ins in prog.instrs) == 8


# --- the renderer's override points ---
class OpenCLLike(CStyleRenderer):
    """What an OpenCL renderer sets: what its dialect has (qualifiers, built-in vectors) and its own spellings."""

    kernel_qualifier, buffer_qualifier, local_qualifier, restrict = "__kernel", "__global", "__local", "restrict"
    global_index = "get_global_id({dim})"
    type_names: ClassVar[dict[DType, str]] = {**CStyleRenderer.type_names, dtypes.bool: "bool", dtypes.uint32: "uint"}
    vector_dtypes = frozenset({dtypes.float32})
    vector_literal = "({type})({elements})"
    vector_load, vector_store = "vload{width}(0, {ptr})", "vstore{width}({value}, 0, {ptr});"
    gep = "{vec}.s{lane:x}"
    vector_convert, vector_bitcast = "convert_{type}({x})", "as_{type}({x})"
    vector_functions: ClassVar[dict[Ops, str | None]] = {Ops.EXP2: "exp2"}
    math_suffix: ClassVar[dict[DType, str]] = {}
    prelude = ()


def test_dialect_attributes_change_the_spelling():
    kernel = canonicalize(kernel_of(cpu(64).exp2()))
    plan = Plan(upcast=(8,), vector=0, width=8, parallel=0)
    src = OpenCLLike().render(lower(kernel, plan, OpenCLLike()))
    assert "__kernel void E_64(__global float* restrict data0, __global const float* restrict data1)" in src
    assert "int gidx0 = get_global_id(0);" in src
    assert "vload8(0, data1+(gidx0*8))" in src
    assert " = exp2(alu" in src  # the builtin, on the vector
    assert "typedef" not in src


# --- the compile cache ---
class EchoCompiler(Compiler):
    identity = "echo 1"

    def __init__(self) -> None:
        self.calls = 0

    def compile(self, src: str) -> bytes:
        self.calls += 1
        return src.encode()[::-1]


def test_cache_entries_are_checked_and_rebuilt(tmp_path):
    compiler = EchoCompiler()
    with flags.Context(CACHEDIR=str(tmp_path)):
        assert compiler.compile_cached("abc") == b"cba"
        assert compiler.compile_cached("abc") == b"cba"
        assert compiler.calls == 1
        path = compiler.cache_path("abc")
        path.write_bytes(path.read_bytes()[:-1])  # truncated
        assert compiler.compile_cached("abc") == b"cba"
        assert compiler.calls == 2


# --- kernels that become several programs ---
def test_an_operand_broadcast_along_an_output_dim_is_computed_once():
    a, b = cpu(32, 24), cpu(24, 20)
    kernel = canonicalize(kernel_of(((a - 100) * 2).relu() @ b))  # relu(...) of A is the same for all 20 columns
    parts, scratch = opt.precompute_operands(kernel) or ([], [])
    assert len(parts) == 2
    (first, first_bufs), (main, main_bufs) = parts
    assert first.reduce is None
    assert first.bufs[0].size == 32 * 24
    assert scratch == [32 * 24 * 4]
    assert first_bufs == (len(kernel.bufs), *range(1, len(kernel.bufs)))  # writes the scratch buffer
    reads = {n.arg[0] for n in main.ast.toposort() if n.op is Ops.LOAD}
    assert len(kernel.bufs) in reads
    assert main_bufs == tuple(range(len(main.bufs)))


def test_cheap_or_self_reading_operands_stay_inline():
    a, b = cpu(32, 24), cpu(24, 20)
    assert opt.precompute_operands(canonicalize(kernel_of(a.relu() @ b))) is None  # one op: cheaper than a pass
    assert opt.precompute_operands(canonicalize(kernel_of(a @ b))) is None


def test_precomputed_operands_give_the_same_numbers(device):
    rng = np.random.default_rng(0)
    a, c = rng.standard_normal((64, 48)).astype(np.float32), rng.standard_normal((64, 40)).astype(np.float32)
    mask = (Tensor(c, device=device) > 0).where(Tensor(c, device=device), 0)
    got = (mask.T @ (Tensor(a, device=device) * 3 + 1).relu()).numpy()  # both operands precomputed
    np.testing.assert_allclose(got, np.where(c > 0, c, 0).T @ np.maximum(a * 3 + 1, 0), rtol=1e-4, atol=1e-4)


def _conv_kernel(width: int):
    x, w = cpu(2, 8, width + 2, width + 2), cpu(32, 8, 3, 3)
    return canonicalize(kernel_of(x.conv2d(w)))


def test_a_convolution_with_odd_rows_vectorizes_over_channels_with_staged_weights():
    """28 output columns take only 4-wide float32 vectors on a 16-wide machine: the plan runs vectors over 16 output
    channels, stages the weights once per channel block and tiles the columns (weights stationary)."""
    kernel = _conv_kernel(28)
    loads, _ = opt.accesses(kernel)
    plan = opt.channel_vector_plan(kernel.full_shape, list(kernel.reduce_axes), [0, 1, 2, 3], loads, 16, 4, 2)
    assert plan is not None
    assert (plan.vector, plan.width, plan.upcast[1], plan.upcast[3]) == (1, 16, 16, 14)
    assert (plan.order[0], plan.order[-1], plan.stage) == (1, 3, (2,))
    program = lower(kernel, plan, CStyleRenderer())
    first_loop = next(i for i, ins in enumerate(program.instrs) if ins.op is U.LOOP)
    staging = next(i for i, ins in enumerate(program.instrs) if ins.op is U.LOCAL)
    loops_before = [ins.arg[0] for ins in program.instrs[first_loop:staging] if ins.op is U.LOOP]
    assert loops_before == ["gidx1"]  # staged under the channel loop, above the batch and pixel loops


def test_rows_that_take_half_width_vectors_keep_the_row_plan():
    kernel = _conv_kernel(8)
    loads, _ = opt.accesses(kernel)
    assert opt.channel_vector_plan(kernel.full_shape, list(kernel.reduce_axes), [0, 1, 2, 3], loads, 16, 4, 2) is None


def test_convolutions_give_the_same_numbers_under_every_plan(device):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 8, 30, 30)).astype(np.float32), rng.standard_normal((32, 8, 3, 3)).astype(np.float32)
    got = Tensor(x, device=device).conv2d(Tensor(w, device=device)).numpy()
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(2, 3))  # (2, 8, 28, 28, 3, 3)
    np.testing.assert_allclose(got, np.einsum("bchwij,ocij->bohw", windows, w), rtol=1e-4, atol=1e-4)
