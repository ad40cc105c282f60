"""OpenCLRenderer: the shared C-family renderer with OpenCL C spellings. Spelling only; the lowering is the core's."""

from __future__ import annotations

from typing import ClassVar

from tinygrad_core.codegen.cstyle import CStyleRenderer, Template
from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.ops import Ops

# The extension pragmas are guarded by the macros a compiler defines for the extensions it has, so one source builds
# on every device; the runtime never sends float64/float16 kernels to a device without them (runtime.py).
_PRELUDE = (
    "#ifdef cl_khr_fp64",
    "#pragma OPENCL EXTENSION cl_khr_fp64 : enable",
    "#endif",
    "#ifdef cl_khr_fp16",
    "#pragma OPENCL EXTENSION cl_khr_fp16 : enable",
    "#endif",
)


class OpenCLRenderer(CStyleRenderer):
    device = "OPENCL"
    kernel_qualifier, buffer_qualifier, restrict = "__kernel", "__global", "restrict"
    # NOTE: staged arrays stay private (the base's "" local_qualifier): each work item stages the rows it alone reads.
    shared_qualifier = "__local"  # the partials of a group reduction
    global_index = "get_global_id({dim})"
    index_builtins: ClassVar[dict[str, str]] = {"group": "get_group_id({})", "local": "get_local_id({})"}
    barrier = "barrier(CLK_LOCAL_MEM_FENCE);"
    prelude = _PRELUDE
    # OpenCL C's long is 64 bits (its `long long` would be 128), and it has the short unsigned names
    type_names: ClassVar[dict[DType, str]] = {
        **CStyleRenderer.type_names,
        dtypes.bool: "bool",
        dtypes.int8: "char",
        dtypes.uint8: "uchar",
        dtypes.uint16: "ushort",
        dtypes.uint32: "uint",
        dtypes.int64: "long",
        dtypes.uint64: "ulong",
        dtypes.float16: "half",
    }
    int_suffix: ClassVar[dict[DType, str]] = {dtypes.uint32: "u", dtypes.int64: "l", dtypes.uint64: "ul"}
    # float4 and friends are built in, and as_{type} reinterprets scalars and vectors alike
    vector_dtypes: ClassVar[frozenset[DType]] = frozenset({dtypes.float32, dtypes.float64, dtypes.int32})
    vector_literal = "({type})({elements})"
    vector_load = "vload{width}(0, {ptr})"
    vector_store = "vstore{width}({value}, 0, {ptr});"
    gep = "{vec}.s{lane:x}"
    vector_convert = "convert_{type}({x})"
    vector_bitcast = "as_{type}({x})"
    alu_templates: ClassVar[dict[Ops, Template]] = {**CStyleRenderer.alu_templates, Ops.BITCAST: vector_bitcast}
    math_suffix: ClassVar[dict[DType, str]] = {}  # exp2, log2, ... are overloaded for every float type
    # sqrt's builtin works on vectors; MAX keeps the core's helper, since fmax drops NaNs and numpy.maximum keeps
    # them; float32 exp2 and log2 vectors use the core's polynomials too, which PoCL runs faster than its builtins
    # (log2 2.7x, exp2 1.1x on 4M floats; measured in one run, log_softmax 1.8 -> 1.7 ms)
    vector_functions: ClassVar[dict[Ops, str | None]] = {
        Ops.EXP2: None,
        Ops.LOG2: None,
        Ops.SQRT: "sqrt",
        Ops.MAX: None,
    }
