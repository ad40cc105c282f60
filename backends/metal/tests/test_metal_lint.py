"""The MSL lint (testing/lint.py): what Apple's compiler rejects and the C++ emulator would let through."""

from __future__ import annotations

import pytest
from tinygrad_metal_testing import lint
from tinygrad_metal_testing.emulator import why_no_emulator

GOOD = """#include <metal_stdlib>
using namespace metal;
kernel void E_4(device float* data0 [[buffer(0)]], device const half* data1 [[buffer(1)]],
                uint3 gid [[thread_position_in_grid]]) {
  int gidx0 = (int)gid.x;
  threadgroup float partial[32];
  float4 v = float4(*(const device packed_float4*)(data0+0));
  data0[gidx0] = (float)(data1[gidx0]) * 2.0f + v.x + 1e-3f;
}
"""


def bad(old: str, new: str) -> list[str]:
    assert old in GOOD
    return lint.problems(GOOD.replace(old, new))


def test_metal_lint_accepts_our_spellings() -> None:
    assert lint.problems(GOOD) == []
    lint.check(GOOD)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("(float)(data1[gidx0])", "(double)(data1[gidx0])", "no double"),
        ("2.0f", "2.0", "no f suffix"),
        ("1e-3f", "1e-3", "no f suffix"),
        ("int gidx0", "long long gidx0", "long long"),
        ("device const half*", "device const _Float16*", "_Float16"),
        ("device float* data0", "device float* restrict data0", "restrict"),
        ("#include <metal_stdlib>", "#include <math.h>", "<metal_stdlib>"),
        ("float4 v", "float8 v", "2, 3 or 4 lanes"),
        ("device float* data0", "float* data0", "without an address space"),
        ("(const device packed_float4*)", "(const packed_float4*)", "pointer cast without an address space"),
        ("(data0+0)", "(partial+0)", "partial, which is in threadgroup memory"),
        ("[[buffer(1)]]", "[[buffer(0)]]", "repeat"),
        ("[[buffer(1)]]", "[[buffer(31)]]", "31 buffer arguments"),
        ("[[buffer(1)]]", "", "exactly one attribute"),
        ("[[thread_position_in_grid]]", "[[thread_position_in_simdgroup]]", "unknown kernel parameter attribute"),
        ("partial[32];", "partial[32] = {};", "initialized"),
        ("partial[32];", "partial[n];", "constant size"),
        ("(float)(data1", "__builtin_bit_cast(float, data1", "builtins"),
    ],
)
def test_metal_lint_rejects(old: str, new: str, problem: str) -> None:
    found = bad(old, new)
    assert any(problem in line for line in found), found


def test_metal_lint_error_lists_problems_and_source() -> None:
    with pytest.raises(lint.LintError, match=r"(?s)Metal has no double.*   3 kernel void E_4"):
        lint.check(GOOD.replace("(float)(", "(double)("))


def test_metal_lint_ignores_comments_and_names() -> None:
    src = GOOD.replace("int gidx0", "// a double 1.5 here\n  int gidx0").replace("v.x", "v.x /* 2.5 */")
    assert lint.problems(src) == []
    assert lint.problems(GOOD.replace("partial", "partial1e3")) == []


@pytest.mark.skipif(why_no_emulator() is not None, reason=str(why_no_emulator()))
@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("int4 a = int4(1); uint4 b = a;", "cannot initialize"),  # Metal: no implicit vector conversions
        ("half h = data0[0];", "loses floating-point precision"),
        ("long l = 5l; int i = l;", "loses integer precision"),
        ("float f = 1.5f; int k{f};", "narrowing"),
    ],
)
def test_metal_lint_narrowing_through_the_emulator(line: str, message: str) -> None:
    from tinygrad_metal_testing.emulator import EmulatorCompiler

    from tinygrad_core.errors import CompileError

    src = GOOD.replace("  data0[gidx0] =", f"  {line}\n  data0[gidx0] =")
    with pytest.raises(CompileError, match=message):
        EmulatorCompiler().compile(src)
