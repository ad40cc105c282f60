"""MetalRenderer: the shared C-family renderer with Metal Shading Language spellings. Spelling only.

Math: transcendental functions are spelled `metal::precise::` so their accuracy doesn't depend on the compile
options, and the runtime also turns fast math off, so comparisons keep their IEEE meaning for NaN (MAX relies on
`x != x`). half math functions run in float, like the other backends. Metal has no double: float64 never reaches
this renderer (MetalDevice.dtypes leaves it out), and lint.py rejects any `double` that slips through.
"""

from __future__ import annotations

from typing import ClassVar

from tinygrad_core.codegen.cstyle import CStyleRenderer, Template
from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.ops import Ops

F32 = dtypes.float32


class MetalRenderer(CStyleRenderer):
    device = "METAL"
    prelude: ClassVar[tuple[str, ...]] = ("#include <metal_stdlib>", "using namespace metal;")
    kernel_qualifier, buffer_qualifier = "kernel", "device"
    # NOTE: staged arrays stay private to a thread ("thread" arrays): each thread stages the rows it alone reads.
    private_space = "thread"
    # group reductions: partials in threadgroup memory, one threadgroup per output row (runtime: Program.local_size)
    shared_qualifier = "threadgroup"
    group_params: ClassVar[tuple[str, ...]] = (
        "uint3 group_id [[threadgroup_position_in_grid]]",
        "uint3 lane_id [[thread_position_in_threadgroup]]",
    )
    index_builtins: ClassVar[dict[str, str]] = {"group": "(int)group_id.x", "local": "(int)lane_id.x"}
    buffer_suffix = " [[buffer({i})]]"
    extra_params: ClassVar[tuple[str, ...]] = ("uint3 gid [[thread_position_in_grid]]",)
    global_index = "(int)gid.x"  # the runtime dispatches exactly global_size threads (dispatchThreads)
    barrier = "threadgroup_barrier(mem_flags::mem_threadgroup);"
    type_names: ClassVar[dict[DType, str]] = {
        dtypes.bool: "bool",
        dtypes.int8: "char",
        dtypes.uint8: "uchar",
        dtypes.int16: "short",
        dtypes.uint16: "ushort",
        dtypes.int32: "int",
        dtypes.uint32: "uint",
        dtypes.int64: "long",  # 64 bits in MSL; there is no `long long`
        dtypes.uint64: "ulong",
        dtypes.float16: "half",
        dtypes.float32: "float",
    }
    int_suffix: ClassVar[dict[DType, str]] = {dtypes.uint32: "u", dtypes.int64: "l", dtypes.uint64: "ul"}
    vector_names: ClassVar[dict[DType, str]] = {F32: "float", dtypes.int32: "int", dtypes.float16: "half"}
    vector_dtypes: ClassVar[frozenset[DType]] = frozenset({F32, dtypes.int32})
    vector_literal = "{type}({elements})"
    # packed_float4 has float's alignment, so a vector access may start at any element
    vector_load = "{type}(*(const {space} packed_{type}*)({ptr}))"
    vector_store = "*({space} packed_{type}*)({ptr}) = {value};"
    gep = "{vec}[{lane}]"
    vector_convert = "{type}({x})"
    vector_bitcast = "as_type<{type}>({x})"
    alu_templates: ClassVar[dict[Ops, Template]] = {**CStyleRenderer.alu_templates, Ops.BITCAST: vector_bitcast}
    math_functions: ClassVar[dict[Ops, str]] = {
        Ops.EXP2: "metal::precise::exp2",
        Ops.LOG2: "metal::precise::log2",
        Ops.SIN: "metal::precise::sin",
        Ops.SQRT: "metal::precise::sqrt",
        Ops.TRUNC: "metal::trunc",
        Ops.MOD: "metal::fmod",
    }
    math_suffix: ClassVar[dict[DType, str]] = {}  # one overloaded name per function
    # vectors use the same overloads; MAX stays per lane, since metal::max drops NaNs and numpy.maximum keeps them
    vector_functions: ClassVar[dict[Ops, str | None]] = {
        Ops.EXP2: "metal::precise::exp2",
        Ops.LOG2: "metal::precise::log2",
        Ops.SQRT: "metal::precise::sqrt",
    }
