"""OpenCL C rendered for small hand-built kernels. Needs no OpenCL device (clang, when present, checks the syntax)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from tinygrad_opencl.renderer import OpenCLRenderer

from tinygrad_core.codegen.lower import Plan, canonicalize, lower
from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.kernel import BufferSpec, Kernel, KNode
from tinygrad_core.ops import Ops
from tinygrad_core.view import ShapeTracker

F32 = dtypes.float32


def load(buf: int, shape: tuple[int, ...], dtype: DType = F32) -> KNode:
    return KNode(Ops.LOAD, dtype, (), (buf, ShapeTracker.from_shape(shape)))


def const(value: float | int, shape: tuple[int, ...], dtype: DType = F32) -> KNode:
    return KNode(Ops.CONST, dtype, (), (value, ShapeTracker.from_shape(shape).reshape((1,) * len(shape)).expand(shape)))


def kernel(value: KNode, out_shape: tuple[int, ...], inputs: list[BufferSpec]) -> Kernel:
    store = KNode(Ops.STORE, value.dtype, (value,), (0, ShapeTracker.from_shape(out_shape)))
    return Kernel(store, (BufferSpec(value.dtype, ShapeTracker.from_shape(out_shape).size), *inputs))


def render(k: Kernel, plan: Plan | None = None) -> str:
    renderer = OpenCLRenderer()
    return renderer.render(lower(canonicalize(k), plan or Plan(), renderer))


def add_kernel(n: int = 16, dtype: DType = F32) -> Kernel:
    value = KNode(Ops.ADD, dtype, (load(1, (n,), dtype), load(2, (n,), dtype)))
    return kernel(value, (n,), [BufferSpec(dtype, n), BufferSpec(dtype, n)])


def test_signature_is_an_opencl_kernel():
    src = render(add_kernel())
    assert "__kernel void E_16(__global float* restrict data0, __global const float* restrict data1," in src
    assert "#include" not in src
    assert "start" not in src
    assert "void **bufs" not in src


def test_global_loop_is_the_work_item_id():
    src = render(add_kernel(), Plan(parallel=0))
    assert "int gidx0 = get_global_id(0);" in src
    assert "for (" not in src


def test_opencl_type_names():
    cases = {dtypes.uint8: "uchar", dtypes.int8: "char", dtypes.uint16: "ushort", dtypes.uint32: "uint"}
    cases |= {dtypes.int64: "long", dtypes.uint64: "ulong", dtypes.bool: "bool", dtypes.float64: "double"}
    for dtype, name in cases.items():
        value = load(1, (4,), dtype) if dtype == dtypes.bool else KNode(Ops.MUL, dtype, (load(1, (4,), dtype),) * 2)
        src = render(kernel(value, (4,), [BufferSpec(dtype, 4)]))
        assert f"__global {name}* restrict data0" in src, (dtype, src)


def test_64_bit_literals_use_l_not_ll():
    # NOTE: in OpenCL C `long long` is 128 bits, so C's ll suffix would silently widen.
    for dtype, suffix in ((dtypes.int64, "l"), (dtypes.uint64, "ul")):
        value = KNode(Ops.ADD, dtype, (load(1, (4,), dtype), const(7, (4,), dtype)))
        src = render(kernel(value, (4,), [BufferSpec(dtype, 4)]))
        assert f"7{suffix})" in src
        assert "ll" not in src
    value = KNode(Ops.MAX, dtypes.int64, (load(1, (4,), dtypes.int64), const(-(2**63), (4,), dtypes.int64)))
    assert "(-9223372036854775807l-1)" in render(kernel(value, (4,), [BufferSpec(dtypes.int64, 4)]))


def test_math_uses_overloaded_builtins():
    value = KNode(Ops.EXP2, F32, (KNode(Ops.SQRT, F32, (load(1, (8,)),)),))
    src = render(kernel(value, (8,), [BufferSpec(F32, 8)]))
    assert "sqrt(val" in src
    assert "exp2(alu" in src
    assert "exp2f" not in src
    assert "sqrtf" not in src


def test_bitcast_is_as_type():
    value = KNode(Ops.BITCAST, dtypes.int32, (load(1, (4,)),))
    assert "as_int(val" in render(kernel(value, (4,), [BufferSpec(F32, 4)]))


def test_vectors_use_vload_vstore_and_swizzles():
    value = KNode(Ops.EXP2, F32, (KNode(Ops.MUL, F32, (load(1, (16,)), load(2, (16,)))),))
    src = render(kernel(value, (16,), [BufferSpec(F32, 16), BufferSpec(F32, 16)]), Plan(upcast=(4,), vector=0, width=4))
    assert "float4 val" in src
    assert "vload4(0, data1+" in src
    assert "vstore4(" in src
    assert "tg_exp2_float4(alu" in src  # the core's polynomial, faster than PoCL's builtin
    assert "typedef" not in src


def test_reduction_to_a_vector_lane_sum_uses_swizzles():
    value = KNode(Ops.REDUCE, F32, (load(1, (4, 16)),), (Ops.SUM, (1,)))
    k = kernel(value, (4, 1), [BufferSpec(F32, 64)])
    src = render(k, Plan(upcast=(1, 4), vector=1, width=4))
    assert ".s0" in src
    assert ".s3" in src


def test_nan_propagating_max_helper_on_vectors():
    value = KNode(Ops.MAX, F32, (load(1, (16,)), load(2, (16,))))
    src = render(kernel(value, (16,), [BufferSpec(F32, 16), BufferSpec(F32, 16)]), Plan(upcast=(4,), vector=0, width=4))
    assert "static inline float4 tg_max_float4" in src
    assert "as_int4(" in src


def test_fp_extension_pragmas_are_guarded():
    src = render(add_kernel(dtype=dtypes.float64))
    assert "#ifdef cl_khr_fp64\n#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n#endif" in src


@pytest.mark.skipif(shutil.which("clang-15") is None and shutil.which("clang") is None, reason="needs clang")
@pytest.mark.parametrize("plan", [Plan(), Plan(parallel=0), Plan(upcast=(4,), vector=0, width=4, parallel=0)])
def test_clang_accepts_the_source_as_opencl_c(tmp_path, plan):
    """Syntax and types checked by clang's own OpenCL C front end, with no OpenCL runtime involved."""
    value = KNode(Ops.MAX, F32, (KNode(Ops.LOG2, F32, (load(1, (64,)),)), const(0.5, (64,))))
    src = render(kernel(value, (64,), [BufferSpec(F32, 64)]), plan)
    path = tmp_path / "kernel.cl"
    path.write_text(src)
    clang = shutil.which("clang-15") or shutil.which("clang")
    assert clang is not None
    args = [clang, "-x", "cl", "-cl-std=CL1.2", "-Xclang", "-finclude-default-header", "-fsyntax-only", str(path)]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + src
    assert "warning" not in result.stderr, result.stderr
