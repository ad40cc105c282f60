"""MSL rendered for small kernels: one golden text and structural checks. Needs no Mac and no compiler."""

from __future__ import annotations

import re

import pytest
from tinygrad_metal.renderer import MetalRenderer
from tinygrad_metal_testing import lint

from tinygrad_core.codegen.lower import Plan, canonicalize, lower
from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.kernel import KNode
from tinygrad_core.ops import Ops
from tinygrad_core.testing.kernels import alu, const, kernel, load, reduce, tracker

F32, F16, I32 = dtypes.float32, dtypes.float16, dtypes.int32


def render(value: KNode, shape: tuple[int, ...], inputs: list[tuple[DType, int]], plan: Plan | None = None) -> str:
    k = canonicalize(kernel(value, shape, inputs))
    return MetalRenderer().render(lower(k, plan or Plan(), MetalRenderer()))


def add(dtype: DType = F32, n: int = 16) -> tuple[KNode, tuple[int, ...], list[tuple[DType, int]]]:
    value = alu(Ops.ADD, dtype, load(1, dtype, tracker((n,))), load(2, dtype, tracker((n,))))
    return value, (n,), [(dtype, n), (dtype, n)]


def numbered(src: str) -> str:
    """Temporaries renumbered in order of appearance, so the golden text doesn't pin the lowering's numbering."""
    names: dict[str, str] = {}
    return re.sub(r"\b(val|alu|acc)\d+\b", lambda m: names.setdefault(m.group(0), f"{m.group(1)}{len(names)}"), src)


def test_metal_golden_elementwise_add() -> None:
    assert numbered(render(*add(), plan=Plan(parallel=0))) == (
        "#include <metal_stdlib>\n"
        "using namespace metal;\n"
        "kernel void E_16(device float* data0 [[buffer(0)]], device const float* data1 [[buffer(1)]], "
        "device const float* data2 [[buffer(2)]], uint3 gid [[thread_position_in_grid]]) {\n"
        "  int gidx0 = (int)gid.x;\n"
        "  float val0 = data1[gidx0];\n"
        "  float val1 = data2[gidx0];\n"
        "  float alu2 = (val0+val1);\n"
        "  data0[gidx0] = alu2;\n"
        "}\n"
    )


def test_metal_signature_qualifiers_and_attributes() -> None:
    src = render(*add())
    assert src.startswith("#include <metal_stdlib>\nusing namespace metal;\n")
    assert re.search(r"^kernel void E_16\(", src, re.M)
    assert "device float* data0 [[buffer(0)]]" in src
    assert "device const float* data1 [[buffer(1)]]" in src
    assert "uint3 gid [[thread_position_in_grid]]" in src
    assert "restrict" not in src
    assert "__kernel" not in src
    assert "void **bufs" not in src


def test_metal_thread_index_replaces_the_global_loop() -> None:
    serial, parallel = render(*add()), render(*add(), plan=Plan(parallel=0))
    assert "for (int gidx0 = 0; gidx0 < 16; gidx0++)" in serial
    assert "int gidx0 = (int)gid.x;" in parallel
    assert "for (" not in parallel


@pytest.mark.parametrize(
    ("dtype", "name"),
    [
        (dtypes.bool, "bool"),
        (dtypes.int8, "char"),
        (dtypes.uint8, "uchar"),
        (dtypes.int16, "short"),
        (dtypes.uint16, "ushort"),
        (dtypes.uint32, "uint"),
        (dtypes.int64, "long"),
        (dtypes.uint64, "ulong"),
        (F16, "half"),
    ],
)
def test_metal_type_names(dtype: DType, name: str) -> None:
    src = render(*add(dtype))
    assert f"device {name}* data0" in src
    assert f"device const {name}* data1" in src
    assert lint.problems(src) == []


def test_metal_integer_literals_have_msl_suffixes() -> None:
    for dtype, value, text in [(dtypes.int64, 5, "5l"), (dtypes.uint64, 5, "5ul"), (dtypes.uint32, 5, "5u")]:
        src = render(
            alu(Ops.ADD, dtype, load(1, dtype, tracker((4,))), const(value, dtype, tracker((4,)))), (4,), [(dtype, 4)]
        )
        assert f"+{text})" in src
        assert "ll" not in src
    src = render(const(-(2**63), dtypes.int64, tracker((4,))), (4,), [])
    assert "(-9223372036854775807l-1)" in src


def test_metal_math_spellings() -> None:
    x = load(1, F32, tracker((8,)))
    for op, name in [
        (Ops.EXP2, "metal::precise::exp2"),
        (Ops.LOG2, "metal::precise::log2"),
        (Ops.SIN, "metal::precise::sin"),
        (Ops.SQRT, "metal::precise::sqrt"),
        (Ops.TRUNC, "metal::trunc"),
    ]:
        assert f"{name}(val" in render(alu(op, F32, x), (8,), [(F32, 8)])
    assert "metal::fmod(" in render(alu(Ops.MOD, F32, x, x), (8,), [(F32, 8)])
    assert "exp2f" not in render(alu(Ops.EXP2, F32, x), (8,), [(F32, 8)])


def test_metal_half_math_runs_in_float() -> None:
    src = render(alu(Ops.EXP2, F16, load(1, F16, tracker((8,)))), (8,), [(F16, 8)])
    assert "(half)(metal::precise::exp2((float)(val" in src


def test_metal_bitcast_is_as_type() -> None:
    src = render(alu(Ops.BITCAST, I32, load(1, F32, tracker((8,)))), (8,), [(F32, 8)])
    assert "as_type<int>(val" in src
    assert "union" not in src


def test_metal_infinity_and_nan() -> None:
    x = load(1, F32, tracker((4,)))
    src = render(alu(Ops.MAX, F32, x, const(float("-inf"), F32, tracker((4,)))), (4,), [(F32, 4)])
    assert "-INFINITY" in src
    src = render(alu(Ops.ADD, F32, x, const(float("nan"), F32, tracker((4,)))), (4,), [(F32, 4)])
    assert "NAN" in src


def test_metal_vector_types_and_packed_access() -> None:
    src = render(*add(), plan=Plan(upcast=(4,), vector=0, width=4))
    assert "float4(*(const device packed_float4*)(data1+" in src
    assert "*(device packed_float4*)(data0+" in src
    assert "typedef" not in src  # vector types are built in
    assert lint.problems(src) == []


def test_metal_vector_math_uses_overloads_and_max_stays_per_lane() -> None:
    x = load(1, F32, tracker((8,)))
    src = render(alu(Ops.SQRT, F32, x), (8,), [(F32, 8)], Plan(upcast=(4,), vector=0, width=4))
    assert re.search(r"float4 alu\d+ = metal::precise::sqrt\(val", src)
    src = render(alu(Ops.MAX, F32, x, x), (8,), [(F32, 8)], Plan(upcast=(4,), vector=0, width=4))
    assert "metal::max" not in src
    assert "tg_max" not in src


def test_metal_reduce_renders_and_lints() -> None:
    x = load(1, F32, tracker((4, 8)))
    value = reduce(Ops.SUM, (1,), alu(Ops.MUL, F32, x, x))
    src = render(value, (4, 1), [(F32, 32)])
    assert "float acc" in src
    assert lint.problems(src) == []


def test_metal_has_no_double() -> None:
    from tinygrad_metal.runtime import MetalDevice

    assert dtypes.float64 not in MetalDevice.dtypes
    assert dtypes.float64 not in MetalRenderer.type_names
    assert MetalDevice.missing_dtype_reason.startswith("Metal has no float64")
    assert dtypes.float16 in MetalDevice.dtypes


def test_metal_group_reduction_uses_threadgroup_memory_and_barriers() -> None:
    value = reduce(Ops.SUM, (1,), load(1, F32, tracker((4, 256))))
    src = render(value, (4, 1), [(F32, 1024)], Plan(group=64, parallel=0))
    assert "threadgroup float partials[64];" in src
    assert src.count("threadgroup_barrier(mem_flags::mem_threadgroup);") == 2
    assert "uint3 group_id [[threadgroup_position_in_grid]]" in src
    assert "uint3 lane_id [[thread_position_in_threadgroup]]" in src
    assert "int gidx0 = (int)group_id.x;" in src
    assert "int lidx = (int)lane_id.x;" in src
    assert lint.problems(src) == []
    assert "group_id" not in render(value, (4, 1), [(F32, 1024)], Plan(parallel=0))  # only kernels that use it


def test_metal_staged_vectors_are_thread_memory() -> None:
    from tinygrad_metal.runtime import METAL_CAPABILITIES

    from tinygrad_core.codegen.opt import choose_plan

    # x @ W.T with a short reduction (no group reduction): W's rows are staged into a thread array
    a = load(1, F32, tracker((64, 24)).reshape((64, 1, 24)).expand((64, 64, 24)))
    w = load(2, F32, tracker((64, 24)).reshape((1, 64, 24)).expand((64, 64, 24)))
    k = canonicalize(kernel(reduce(Ops.SUM, (2,), alu(Ops.MUL, F32, a, w)), (64, 64, 1), [(F32, 1536), (F32, 1536)]))
    plan = choose_plan(k, MetalRenderer(), METAL_CAPABILITIES)
    if not plan.stage:
        pytest.skip(f"the core's heuristics stage nothing for this kernel now ({plan})")
    src = MetalRenderer().render(lower(k, plan, MetalRenderer()))
    assert "(const thread packed_float4*)(local" in src  # not device memory: Metal would reject that cast
    assert lint.problems(src) == []
