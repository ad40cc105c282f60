"""ClangRenderer: GNU C for clang or gcc, with the thread ABI of this backend's runtime. The core's CStyleRenderer
gives the C; this adds what only GNU C has (vector extensions, attributes) and the entry point our runtime calls."""

from __future__ import annotations

from typing import ClassVar

from tinygrad_core.codegen.cstyle import CStyleRenderer
from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.ops import Ops

F32, F64 = dtypes.float32, dtypes.float64


class ClangRenderer(CStyleRenderer):
    device: ClassVar[str] = "CLANG"
    prelude: ClassVar[tuple[str, ...]] = ("#include <math.h>", "#include <stdint.h>")
    restrict = "restrict"
    local_align = " __attribute__((aligned(64)))"
    # the thread ABI: each thread of the runtime's pool calls `name(void **bufs, int start, int end)`, which runs
    # iterations [start, end) of the global loop in the kernel itself, a static function of the same shared object
    kernel_qualifier, kernel_name = "static", "{name}_"
    extra_params: ClassVar[tuple[str, ...]] = ("int start", "int end")
    global_loop = "for ({itype} {var} = start; {var} < end; {var}++) {{"
    # GNU C vector extensions; the `_u` types have the element's alignment, so a vector access may start anywhere
    vector_dtypes: ClassVar[frozenset[DType]] = frozenset({F32, F64, dtypes.int32})
    vector_typedefs: ClassVar[tuple[str, ...]] = (
        "typedef {scalar} {name} __attribute__((vector_size({nbytes})));",
        "typedef {scalar} {name}_u __attribute__((vector_size({nbytes}), aligned({align})));",
    )
    vector_load = "*(const {type}_u*)({ptr})"
    vector_store = "*({type}_u*)({ptr}) = {value};"
    vector_literal = "({type}){{{elements}}}"
    gep = "{vec}[{lane}]"
    vector_convert = "__builtin_convertvector({x}, {type})"
    vector_bitcast = "({type})({x})"
    # vector math: the core's portable helpers (vecmath.py), a few instructions per vector instead of a libm call a lane
    vector_functions: ClassVar[dict[Ops, str | None]] = {Ops.EXP2: None, Ops.LOG2: None, Ops.SQRT: None, Ops.MAX: None}

    def entry_point(self, name: str, params: list[str]) -> list[str]:
        buffers = ", ".join(f"({param.rsplit('*', 1)[0]}*)bufs[{i}]" for i, param in enumerate(params))
        return [f"void {name}(void **bufs, int start, int end) {{ {name}_({buffers}, start, end); }}"]
