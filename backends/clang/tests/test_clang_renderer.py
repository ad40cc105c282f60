"""C source rendered for small kernels: no compiler needed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tinygrad_clang.renderer import ClangRenderer

from tinygrad_core import Tensor, dtypes
from tinygrad_core.codegen import opt
from tinygrad_core.codegen.lower import Plan, canonicalize, lower
from tinygrad_core.ops import Ops
from tinygrad_core.runtime import Capabilities
from tinygrad_core.schedule import create_schedule


class FakeDevice:
    """What the planner reads from a device: its renderer and its capabilities (AVX2 width, two threads)."""

    renderer = ClangRenderer()
    capabilities = Capabilities(vector_bytes=32, threads=2)


def kernels_of(out: Tensor):
    return [item.kernel for item in create_schedule([out.lazydata]) if item.kernel is not None]


def render(out: Tensor, plan: Plan | None = None, index: int = -1) -> str:
    kernel = canonicalize(kernels_of(out)[index])
    plan = opt.choose_plan(kernel, FakeDevice.renderer, FakeDevice.capabilities) if plan is None else plan
    return FakeDevice.renderer.render(lower(kernel, plan, FakeDevice.renderer))


def cpu(*shape: int, dtype=np.float32) -> Tensor:
    return Tensor(np.arange(math.prod(shape), dtype=dtype).reshape(shape), device="CPU")


def test_elementwise_plain_loop():
    src = render(cpu(16) + 1, Plan())
    assert "float* restrict data0" in src
    assert "const float* restrict data1" in src
    assert "for (int gidx0 = 0; gidx0 < 16; gidx0++)" in src
    assert "data0[gidx0] = " in src
    # the uniform entry point the runtime calls, with the range of the split loop
    assert "void E_16(void **bufs, int start, int end)" in src


def test_elementwise_vectorised_and_split_across_threads():
    src = render(cpu(1024) * 2)
    assert "typedef float float8 __attribute__((vector_size(32)));" in src
    assert "for (int gidx0 = start; gidx0 < end; gidx0++)" in src
    assert "*(const float8_u*)(data1+" in src
    assert "*(float8_u*)(data0+" in src


def test_exp2_uses_the_vector_polynomial():
    src = render(cpu(64).exp2())
    assert "static inline float8 tg_exp2_float8(float8 x)" in src
    assert "exp2f(" not in src


def test_scalar_math_calls_libm():
    src = render(cpu(7).sin(), Plan())
    assert "sinf(" in src


def test_row_sum_reduces_along_vector_lanes():
    src = render(cpu(8, 256).sum(1))
    assert "for (int ridx1 = 0;" in src
    assert "float8 acc" in src  # vector accumulators, summed across lanes after the loop
    assert "[7]" in src


def test_matmul_is_register_tiled_and_staged():
    a, b = cpu(64, 64), cpu(64, 64)
    kernel = canonicalize(kernels_of(a @ b)[-1])
    plan = opt.choose_plan(kernel, FakeDevice.renderer, FakeDevice.capabilities)
    assert plan.vector is not None
    assert plan.upcast[plan.vector] >= 8
    assert math.prod(plan.upcast) >= 32  # several outputs per loaded value
    src = FakeDevice.renderer.render(lower(kernel, plan, FakeDevice.renderer))
    assert src.count("float8 acc") >= 4
    assert "float local" in src  # B copied to a contiguous local tile once per column of tiles


def test_masked_load_is_guarded():
    src = render(cpu(4).pad(((2, 2),)) + 1, Plan())
    assert "?" in src  # reads outside the mask never touch memory


def test_int_division_guards_zero_and_minus_one():
    ren = ClangRenderer()
    text = ren.alu(Ops.IDIV, dtypes.int32, dtypes.int32, ["a", "b"])
    assert "b==0" in text
    assert "b==-1" in text
    assert "a>b||a!=a" in ren.alu(Ops.MAX, dtypes.float32, dtypes.float32, ["a", "b"])  # NaN propagates


@pytest.mark.parametrize(
    ("value", "dtype", "text"),
    [
        (1.5, dtypes.float32, "1.5f"),
        (math.inf, dtypes.float32, "INFINITY"),
        (-math.inf, dtypes.float32, "(-INFINITY)"),
        (-2.5, dtypes.float32, "(-2.5f)"),  # parenthesized: a NEG in front must not read as --2.5f
        (math.nan, dtypes.float32, "NAN"),
        (0.1, dtypes.float64, "0.1"),
        (-(2**31), dtypes.int32, "(-2147483647-1)"),
        (7, dtypes.uint64, "7ull"),
        (True, dtypes.bool, "1"),
        (0.5, dtypes.float16, "(_Float16)(0.5f)"),
    ],
)
def test_constants(value, dtype, text):
    assert ClangRenderer().const(value, dtype) == text


def test_aliased_buffers_drop_restrict():
    kernel = canonicalize(kernels_of(cpu(8) + 1)[-1])
    prog = lower(kernel, Plan(), FakeDevice.renderer)
    prog.noalias = False
    assert "restrict" not in FakeDevice.renderer.render(prog)
