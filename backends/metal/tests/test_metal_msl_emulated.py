"""The MSL emulator itself (testing/emulator.py) on hand-written MSL: lanes, threadgroup memory and barriers, the
position attributes, half arithmetic, vectors, bounds checks and the compile cache."""

from __future__ import annotations

import numpy as np
import pytest
from tinygrad_metal_testing import emulator
from tinygrad_metal_testing.emulator import EmulatedProgram, EmulationError, EmulatorCompiler, translate

from tinygrad_core.errors import CompileError

pytestmark = pytest.mark.skipif(emulator.why_no_emulator() is not None, reason=str(emulator.why_no_emulator()))

HEAD = "#include <metal_stdlib>\nusing namespace metal;\n"


def build(msl: str) -> EmulatedProgram:
    t = translate(HEAD + msl)
    return EmulatedProgram(t.name, EmulatorCompiler().compile_cached(HEAD + msl), t.uses_barrier)


def run(msl: str, arrays: list[np.ndarray], threads: int, group: int) -> None:
    build(msl).dispatch([(a, a.nbytes) for a in arrays], (threads, 1, 1), (group, 1, 1))


TREE_SUM = """
kernel void tree_sum(device float* out [[buffer(0)]], device const float* x [[buffer(1)]],
                     uint3 group_id [[threadgroup_position_in_grid]], uint3 lane [[thread_position_in_threadgroup]],
                     uint3 lanes [[threads_per_threadgroup]]) {
  threadgroup float partial[64];
  float acc = 0.0f;
  for (uint i = lane.x; i < 100u; i += lanes.x) acc += x[group_id.x * 100u + i];
  partial[lane.x] = acc;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint step = 32u; step > 0u; step /= 2u) {
    if (lane.x < step) partial[lane.x] += partial[lane.x + step];
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  if (lane.x == 0u) out[group_id.x] = partial[0];
}
"""


def test_metal_msl_emulated_threadgroup_tree_reduction() -> None:
    x = np.random.default_rng(0).random((5, 100), dtype=np.float32)
    out = np.zeros(5, np.float32)
    run(TREE_SUM, [out, x], threads=5 * 64, group=64)
    np.testing.assert_allclose(out, x.sum(axis=1), rtol=1e-5)
    assert translate(HEAD + TREE_SUM).uses_barrier


def test_metal_msl_emulated_barrier_divergence_is_an_error() -> None:
    msl = """
kernel void diverge(device float* out [[buffer(0)]], uint3 lane [[thread_position_in_threadgroup]]) {
  if (lane.x == 0u) return;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[lane.x] = 1.0f;
}
"""
    with pytest.raises(EmulationError, match="barrier divergence: 31 of 32 lanes wait"):
        run(msl, [np.zeros(32, np.float32)], threads=32, group=32)


def test_metal_msl_emulated_different_barriers_are_an_error() -> None:
    msl = """
kernel void two_barriers(device float* out [[buffer(0)]], uint3 lane [[thread_position_in_threadgroup]]) {
  if (lane.x % 2u == 0u) {
    threadgroup_barrier(mem_flags::mem_threadgroup);
  } else {
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  out[lane.x] = 1.0f;
}
"""
    with pytest.raises(EmulationError, match="waits at the threadgroup_barrier on line"):
        run(msl, [np.zeros(8, np.float32)], threads=8, group=8)


def test_metal_msl_emulated_position_attributes_with_a_partial_group() -> None:
    msl = """
kernel void ids(device uint* out [[buffer(0)]], uint3 gid [[thread_position_in_grid]],
                uint3 tg [[threadgroup_position_in_grid]], uint3 lane [[thread_position_in_threadgroup]],
                uint3 size [[threads_per_threadgroup]], uint3 groups [[threadgroups_per_grid]],
                uint3 grid [[threads_per_grid]], uint index [[thread_index_in_threadgroup]]) {
  device uint* row = out + gid.x * 7u;
  row[0] = gid.x; row[1] = tg.x; row[2] = lane.x; row[3] = size.x; row[4] = groups.x; row[5] = grid.x; row[6] = index;
}
"""
    out = np.zeros((10, 7), np.uint32)
    run(msl, [out], threads=10, group=4)  # dispatchThreads: groups of 4, 4 and a partial 2
    g = np.arange(10)
    expected = np.stack([g, g // 4, g % 4, np.where(g < 8, 4, 2), np.full(10, 3), np.full(10, 10), g % 4], axis=1)
    np.testing.assert_array_equal(out, expected)


def test_metal_msl_emulated_half_arithmetic_rounds_each_operation() -> None:
    msl = """
kernel void fma_half(device half* out [[buffer(0)]], device const half* a [[buffer(1)]],
                     device const half* b [[buffer(2)]],
                     uint3 gid [[thread_position_in_grid]]) {
  half p = a[gid.x] * b[gid.x];
  out[gid.x] = p + a[gid.x];
}
"""
    rng = np.random.default_rng(1)
    a, b = (rng.uniform(-8, 8, 4096).astype(np.float16) for _ in range(2))
    out = np.zeros(4096, np.float16)
    run(msl, [out, a, b], threads=4096, group=256)
    np.testing.assert_array_equal(out.view(np.uint16), ((a * b) + a).view(np.uint16))  # bit for bit


def test_metal_msl_emulated_vectors_conversions_and_as_type() -> None:
    msl = """
kernel void vec(device float* out [[buffer(0)]], device const float* x [[buffer(1)]],
                uint3 gid [[thread_position_in_grid]]) {
  float4 v = float4(*(const device packed_float4*)(x + gid.x * 4u));
  float4 w = v * float4(2.0f) + float4(1.0f, 2.0f, 3.0f, 4.0f);
  int4 t = int4(w);
  uint bits = as_type<uint>(w.x);
  float4 root = float4(metal::precise::sqrt(v.yzwx));
  *(device packed_float4*)(out + gid.x * 4u) = float4(t) + root + as_type<float>(bits) * 0.0f;
}
"""
    x = np.arange(16, dtype=np.float32)
    out = np.zeros(16, np.float32)
    run(msl, [out, x], threads=4, group=4)
    v = x.reshape(4, 4)
    w = v * 2 + np.array([1, 2, 3, 4], np.float32)
    expected = np.trunc(w) + np.sqrt(np.roll(v, -1, axis=1))
    np.testing.assert_allclose(out.reshape(4, 4), expected, rtol=1e-6)


def test_metal_msl_emulated_threadgroup_memory_starts_as_garbage() -> None:
    msl = """
kernel void unwritten(device float* out [[buffer(0)]], uint3 lane [[thread_position_in_threadgroup]],
                      uint3 tg [[threadgroup_position_in_grid]]) {
  threadgroup float scratch[4];
  if (tg.x == 0u) scratch[lane.x] = 1.0f;  // only the first group writes: the second reads what Metal leaves there
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[tg.x * 4u + lane.x] = scratch[lane.x];
}
"""
    out = np.zeros(8, np.float32)
    run(msl, [out], threads=8, group=4)
    assert out[:4].tolist() == [1.0] * 4
    assert np.isnan(out[4:]).all()


def test_metal_msl_emulated_out_of_bounds_is_caught() -> None:
    msl = """
kernel void oob(device float* out [[buffer(0)]], device const float* x [[buffer(1)]],
                uint3 gid [[thread_position_in_grid]]) {
  out[gid.x] = x[gid.x + 1u];
}
"""
    with pytest.raises(
        EmulationError, match=r"1 out-of-bounds accesses; the first: x\[8\] is out of bounds \(the buffer has 8"
    ):
        run(msl, [np.zeros(8, np.float32), np.zeros(8, np.float32)], threads=8, group=8)


def test_metal_msl_emulated_translation_reads_argument_roles() -> None:
    t = translate(HEAD + TREE_SUM)
    assert [(p.name, p.buffer, p.attribute) for p in t.params] == [
        ("out", 0, None),
        ("x", 1, None),
        ("group_id", None, "threadgroup_position_in_grid"),
        ("lane", None, "thread_position_in_threadgroup"),
        ("lanes", None, "threads_per_threadgroup"),
    ]
    assert "static float partial[64];" in t.cpp
    assert "__builtin_memset(partial, 0xff, sizeof partial);" in t.cpp
    assert "[[" not in t.cpp
    assert "kernel void" not in t.cpp
    with pytest.raises(CompileError, match="doesn't know the attribute"):
        translate(HEAD + TREE_SUM.replace("threads_per_threadgroup", "simdgroup_index_in_threadgroup"))
    with pytest.raises(CompileError, match="exactly one `kernel void"):
        translate(HEAD + "void helper() {}\n")


def test_metal_msl_emulated_binaries_are_cached_by_source(monkeypatch: pytest.MonkeyPatch) -> None:
    msl = HEAD + TREE_SUM.replace("tree_sum", "tree_sum_cached")
    EmulatorCompiler().compile_cached(msl)

    def no_compiler(cpp: str, what: str) -> bytes:
        raise AssertionError("compiled again instead of using the cache")

    monkeypatch.setattr(emulator, "_build", no_compiler)
    assert EmulatorCompiler().compile_cached(msl)
