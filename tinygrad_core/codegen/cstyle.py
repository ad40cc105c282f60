"""CStyleRenderer: a LinearProgram (lower.py) -> C-family source. Shared by clang, OpenCL and Metal.

What differs between dialects is data: the class attributes in the first block below are the override points
(qualifiers, index builtins, type and vector spellings, math function names, casts), and `alu_templates` spells each
ALU op. The defaults are what every dialect shares: C's spellings, and none of the features only some dialects have
(vectors, `restrict`, extra parameters, an entry point), which a dialect that has one sets. Left alone, the base
writes plain C: one function per kernel, running its whole loop nest.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import numpy as np

from tinygrad_core.codegen.lower import Instr, LinearProgram, U
from tinygrad_core.codegen.symbolic import Div, Lin, Never, Valid, Var
from tinygrad_core.codegen.vecmath import HELPERS, Spell
from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.ops import Ops

F32, F64 = dtypes.float32, dtypes.float64

# How an ALU op is spelled: a format string over the operands {x} {y} {z} and the result's type name {type}, or a
# function (renderer, op, dtype, src, operands) -> str for the ops that need logic. `src` is the operands' dtype.
TemplateFn = Callable[["CStyleRenderer", Ops, DType, DType, list[str]], str]
Template = str | TemplateFn


def fill(template: Template, ren: CStyleRenderer, op: Ops, dtype: DType, src: DType, a: list[str]) -> str:
    """The expression `template` spells for `op` on the operands `a`."""
    if isinstance(template, str):
        return template.format(**dict(zip("xyz", a)), type=ren.tname(dtype))
    return template(ren, op, dtype, src, a)


def by_kind(**templates: Template) -> TemplateFn:
    """A template per kind of operand dtype: `bool`, `float`, `unsigned`, `signed`, and `other` for the kinds not
    named. An op with no template for the operands' kind is one the dialect can't render."""

    def choose(ren: CStyleRenderer, op: Ops, dtype: DType, src: DType, a: list[str]) -> str:
        if src == dtypes.bool:
            kind = "bool"
        elif dtypes.is_float(src):
            kind = "float"
        else:
            kind = "unsigned" if dtypes.is_unsigned(src) else "signed"
        template = templates.get(kind, templates.get("other"))
        if template is None:
            raise NotImplementedError(f"{type(ren).__name__} can't render {op} on {src}")
        return fill(template, ren, op, dtype, src, a)

    return choose


def _math(ren: CStyleRenderer, op: Ops, dtype: DType, src: DType, a: list[str]) -> str:
    """A math library function (math_functions), suffixed per dtype (C: exp2f); float16 computed in float32 where the
    dialect has no half functions (half_math_in_float)."""
    if src == dtypes.float16 and ren.half_math_in_float:
        name = ren.math_functions[op] + ren.math_suffix.get(F32, "")
        args = ",".join(ren.cast.format(type=ren.tname(F32), x=v) for v in a)
        return ren.cast.format(type=ren.tname(dtype), x=f"{name}({args})")
    return f"{ren.math_functions[op]}{ren.math_suffix.get(src, '')}({','.join(a)})"


def _cast(ren: CStyleRenderer, op: Ops, dtype: DType, src: DType, a: list[str]) -> str:
    x, type_name = a[0], ren.tname(dtype)
    if not (dtypes.is_float(src) and dtypes.is_int(dtype) and (dtypes.is_unsigned(dtype) or dtype.itemsize < 4)):
        return ren.cast.format(type=type_name, x=x)
    # float -> narrow or unsigned ints goes through int64, as numpy does on x86, instead of C's UB
    wide = ren.cast.format(type=type_name, x=ren.cast.format(type=ren.tname(dtypes.int64), x=x))
    if dtype == dtypes.uint64:  # only the negative ones: the positive ones may not fit in int64
        return f"({x}<0?{wide}:{ren.cast.format(type=type_name, x=x)})"
    return wide


def _union_bitcast(ren: CStyleRenderer, op: Ops, dtype: DType, src: DType, a: list[str]) -> str:
    return f"((union {{ {ren.tname(src)} a; {ren.tname(dtype)} b; }}){{ .a = {a[0]} }}).b"


def _reciprocal(ren: CStyleRenderer, op: Ops, dtype: DType, src: DType, a: list[str]) -> str:
    return f"({ren.const(1, dtype)}/{a[0]})"


def _float_idiv(ren: CStyleRenderer, op: Ops, dtype: DType, src: DType, a: list[str]) -> str:
    x, y = a
    return f"({y}==0?0:{ren.math_functions[Ops.TRUNC]}{ren.math_suffix.get(src, '')}({x}/{y}))"


# shift counts of the operand's width or more give 0 (SHL) or the sign (SHR) instead of C's UB; a negative count
# counts as too large, like numpy
def _shl(ren: CStyleRenderer, op: Ops, dtype: DType, src: DType, a: list[str]) -> str:
    x, y = a
    ut = ren.tname(dtypes.uint64)
    return f"(({ut}){y}>={src.itemsize * 8}?0:{ren.cast.format(type=ren.tname(dtype), x=f'({ut}){x}<<{y}')})"


def _shr(ren: CStyleRenderer, op: Ops, dtype: DType, src: DType, a: list[str]) -> str:
    x, y = a
    ut, top = ren.tname(dtypes.uint64), src.itemsize * 8 - 1
    return f"({x}>>(({ut}){y}<{top}?{y}:{top}))"


_LOOP = "for ({itype} {var} = 0; {var} < {size}; {var}++) {{"


class CStyleRenderer:
    # --- the kernel's signature ---
    device: ClassVar[str] = ""
    kernel_qualifier: ClassVar[str] = ""  # OpenCL "__kernel", Metal "kernel"
    kernel_name: ClassVar[str] = "{name}"  # clang "{name}_": the kernel's own name is its entry_point()'s
    buffer_qualifier: ClassVar[str] = ""  # OpenCL "__global", Metal "device"
    restrict: ClassVar[str] = ""  # clang, OpenCL "restrict": buffers that never overlap (LinearProgram.noalias)
    buffer_suffix: ClassVar[str] = ""  # Metal: " [[buffer({i})]]"
    extra_params: ClassVar[tuple[str, ...]] = ()  # after the buffers; Metal: ("uint3 gid [[thread_position_in_grid]]",)
    # the loop split across threads: a GPU dialect sets global_index and launches one work item per iteration; a
    # dialect without one runs global_loop (clang: the [start, end) its runtime passes to each thread)
    global_index: ClassVar[str | None] = None  # OpenCL "get_global_id({dim})", Metal "(int)gid.x"
    global_loop: ClassVar[str] = _LOOP
    # arrays: staged loads ("" keeps them private to the thread: C's stack) and their alignment (clang: an attribute)
    local_qualifier: ClassVar[str] = ""
    local_align: ClassVar[str] = ""
    private_space: ClassVar[str] = ""  # Metal "thread": how a pointer cast names a thread's own arrays ({space})
    # group reductions (Plan.group): the array one threadgroup shares; "" = the dialect has none (C), and opt.py
    # never plans one. group_params are added to the signature of kernels that use the group/local index_builtins.
    shared_qualifier: ClassVar[str] = ""  # OpenCL "__local", Metal "threadgroup"
    group_params: ClassVar[tuple[str, ...]] = ()  # Metal: its [[threadgroup_position_in_grid]] parameters
    index_builtins: ClassVar[dict[str, str]] = {}  # OpenCL {"group": "get_group_id({})", "local": "get_local_id({})"}
    barrier: ClassVar[str] = ""  # OpenCL "barrier(CLK_LOCAL_MEM_FENCE);"
    prelude: ClassVar[tuple[str, ...]] = ("#include <math.h>",)  # for C's INFINITY, NAN and math functions below
    # --- types ---
    type_names: ClassVar[dict[DType, str]] = {
        dtypes.bool: "_Bool",
        dtypes.int8: "signed char",
        dtypes.uint8: "unsigned char",
        dtypes.int16: "short",
        dtypes.uint16: "unsigned short",
        dtypes.int32: "int",
        dtypes.uint32: "unsigned int",
        dtypes.int64: "long long",
        dtypes.uint64: "unsigned long long",
        dtypes.float16: "_Float16",
        dtypes.float32: "float",
        dtypes.float64: "double",
    }
    # vectors: none unless a dialect has them. One that lists vector_dtypes (the dtypes computed on as vectors) spells
    # the rest of this block: types named vector_names[dtype] + width (float8), declared by vector_typedefs if they
    # aren't built in, and how to load, store, build, index, convert and reinterpret them.
    vector_dtypes: ClassVar[frozenset[DType]] = frozenset()
    vector_names: ClassVar[dict[DType, str]] = {F32: "float", F64: "double", dtypes.int32: "int", dtypes.int64: "long"}
    vector_typedefs: ClassVar[tuple[str, ...]] = ()  # clang: "typedef {scalar} {name} __attribute__((vector_size..."
    vector_load: ClassVar[str]  # {type} {width} {ptr} {space}; OpenCL "vload{width}(0, {ptr})"
    vector_store: ClassVar[str]  # {type} {width} {ptr} {value} {space}; OpenCL "vstore{width}({value}, 0, {ptr});"
    vector_literal: ClassVar[str]  # {type} {elements}; OpenCL "({type})({elements})", Metal "{type}({elements})"
    gep: ClassVar[str]  # {vec} {lane}; OpenCL "{vec}.s{lane:x}", Metal "{vec}[{lane}]"
    vector_convert: ClassVar[str]  # {type} {x}; OpenCL "convert_{type}({x})"
    vector_bitcast: ClassVar[str]  # {type} {x}; OpenCL "as_{type}({x})", Metal "as_type<{type}>({x})"
    # vector math: a builtin's name (OpenCL "exp2"), or None for the portable helpers of vecmath.py
    vector_functions: ClassVar[dict[Ops, str | None]] = {}
    # --- values ---
    infinity: ClassVar[str] = "INFINITY"
    nan: ClassVar[str] = "NAN"
    float_suffix: ClassVar[dict[DType, str]] = {dtypes.float16: "f", F32: "f"}  # literal suffix per float dtype
    int_suffix: ClassVar[dict[DType, str]] = {
        dtypes.uint32: "u",
        dtypes.int64: "ll",
        dtypes.uint64: "ull",
    }  # OpenCL: "l", "ul"
    cast: ClassVar[str] = "({type})({x})"
    math_functions: ClassVar[dict[Ops, str]] = {
        Ops.EXP2: "exp2",
        Ops.LOG2: "log2",
        Ops.SIN: "sin",
        Ops.SQRT: "sqrt",
        Ops.TRUNC: "trunc",
        Ops.MOD: "fmod",
    }
    math_suffix: ClassVar[dict[DType, str]] = {F32: "f"}  # C: exp2f; OpenCL and Metal overload one name: {}
    half_math_in_float: ClassVar[bool] = True  # compute float16 math functions in float32 (C has no exp2f16)

    # --- the op table (what each op computes is tinygrad_core/reference.py's definition) ---
    # a dialect overrides an op with a dict merge: {**CStyleRenderer.alu_templates, Ops.BITCAST: "as_{type}({x})"}.
    # bools are 0 or 1, so their arithmetic is logic: ADD and MAX are OR, MUL and IDIV are AND, NEG is NOT.
    alu_templates: ClassVar[dict[Ops, Template]] = {
        Ops.EXP2: by_kind(float=_math),
        Ops.LOG2: by_kind(float=_math),
        Ops.SIN: by_kind(float=_math),
        Ops.SQRT: by_kind(float=_math),
        Ops.RECIP: by_kind(bool="{x}", float=_reciprocal, unsigned="({x}==1)", signed="({x}==1?1:{x}<0?-1:0)"),
        Ops.NEG: by_kind(bool="(!{x})", other="(-{x})"),
        Ops.TRUNC: by_kind(float=_math, other="{x}"),
        Ops.CAST: _cast,
        Ops.BITCAST: _union_bitcast,
        Ops.ADD: by_kind(bool="({x}|{y})", other="({x}+{y})"),
        Ops.MUL: by_kind(bool="({x}&{y})", other="({x}*{y})"),
        # division and remainder by 0 give 0, and by -1 don't overflow: C leaves both undefined
        Ops.IDIV: by_kind(
            bool="({x}&{y})",
            float=_float_idiv,
            unsigned="({y}==0?0:{x}/{y})",
            signed="({y}==0?0:{y}==-1?-{x}:{x}/{y})",
        ),
        Ops.MOD: by_kind(
            bool="(!{y})", float=_math, unsigned="({y}==0?0:{x}%{y})", signed="({y}==0||{y}==-1?0:{x}%{y})"
        ),
        # a NaN in either operand propagates, like numpy.maximum
        Ops.MAX: by_kind(bool="({x}|{y})", float="(({x}>{y}||{x}!={x})?{x}:{y})", other="({x}>{y}?{x}:{y})"),
        Ops.CMPLT: "({x}<{y})",
        Ops.CMPNE: "({x}!={y})",
        Ops.AND: "({x}&{y})",
        Ops.OR: "({x}|{y})",
        Ops.XOR: "({x}^{y})",
        Ops.SHL: _shl,
        Ops.SHR: _shr,
        Ops.WHERE: "({x}?{y}:{z})",
    }

    # --- what the lowering may put on vectors ---
    def vector_op_ok(self, op: Ops, dtype: DType, src_dtypes: set[DType]) -> bool:
        floats = {F32, F64}
        if op is Ops.CAST:
            return len(src_dtypes) == 1 and next(iter(src_dtypes)) in self.vector_dtypes and dtype != dtypes.bool
        if op in (Ops.ADD, Ops.MUL, Ops.NEG):
            return True
        if op in (Ops.AND, Ops.OR, Ops.XOR):
            return dtype not in floats
        if op is Ops.RECIP:
            return dtype in floats
        if op is Ops.MAX:
            return op in self.vector_functions
        if op is Ops.SQRT:
            return dtype in floats and op in self.vector_functions
        if op in (Ops.EXP2, Ops.LOG2):
            return dtype == F32 and op in self.vector_functions
        return False

    # --- spelling ---
    def tname(self, dtype: DType | None, width: int = 1) -> str:
        assert dtype is not None, "a typed instruction has no dtype"
        if width == 1:
            return self.type_names[dtype]
        name = f"{self.vector_names[dtype]}{width}"
        self._vtypes[name] = (dtype, width)
        return name

    def const(self, value: float | int | bool, dtype: DType | None, width: int = 1) -> str:
        assert dtype is not None, "a constant has no dtype"
        if dtypes.is_float(dtype):
            value = float(value)
            if math.isnan(value):
                text = self.nan
            elif math.isinf(value):
                text = self.infinity if value > 0 else f"-{self.infinity}"
            else:
                if dtype != F64:  # the exact value the dtype holds, in a literal that reads back to it
                    value = float(np.float32(value) if dtype == F32 else np.float16(value))
                text = repr(value) + self.float_suffix.get(dtype, "")
            if dtype == dtypes.float16 or (dtype == F64 and "INF" in text.upper()):
                text = self.cast.format(type=self.tname(dtype), x=text)
        elif dtype == dtypes.bool:
            text = "1" if value else "0"
        else:
            value = int(value)
            suffix = self.int_suffix.get(dtype, "")
            text = f"{value}{suffix}"
            if dtype == dtypes.int64 and value == -(2**63):
                text = f"(-9223372036854775807{suffix}-1)"
            elif dtype == dtypes.int32 and value == -(2**31):
                text = "(-2147483647-1)"
            elif dtype.itemsize < 4:
                text = self.cast.format(type=self.tname(dtype), x=text)
        if text.startswith("-"):
            text = f"({text})"  # so that a NEG in front reads -(-1.5f), never the decrement --1.5f
        return (
            text
            if width == 1
            else self.vector_literal.format(type=self.tname(dtype, width), elements=",".join([text] * width))
        )

    def index(self, lin: Lin) -> str:
        parts = []
        for atom, coef in lin.terms:
            if isinstance(atom, Var):
                text = atom.name
            else:
                inner = self.index(atom.x)
                text = f"(({inner})/{atom.d})" if isinstance(atom, Div) else f"(({inner})%{atom.d})"
            parts.append(text if coef == 1 else f"{text}*{coef}")
        if lin.const or not parts:
            parts.append(str(lin.const))
        return "+".join(parts).replace("+-", "-")

    def valid(self, valid: Valid) -> str:
        if isinstance(valid, Never):
            return "0"
        conds = []
        for lin, lo, hi in valid:
            ilo, ihi = lin.bounds
            text = self.index(lin)
            if ilo < lo:
                conds.append(f"({text}>={lo})")
            if ihi >= hi:
                conds.append(f"({text}<{hi})")
        return "&&".join(conds) or "1"

    # --- scalar ops ---
    def alu(self, op: Ops, dtype: DType, src: DType, a: list[str]) -> str:
        """`op` on the operands `a` (expressions of dtype `src`) as an expression of `dtype`, as alu_templates says."""
        if op not in self.alu_templates:
            raise NotImplementedError(f"{type(self).__name__} can't render {op} on {src}")
        return fill(self.alu_templates[op], self, op, dtype, src, a)

    # --- vector ops ---
    def vector_alu(self, op: Ops, dtype: DType, src: DType, width: int, a: list[str]) -> str:
        """`op` on vectors (vector_op_ok said it may be): the scalar template, which C-family vector operators
        share, except for conversions and the math functions."""
        if op is Ops.CAST:
            return self.vector_convert.format(type=self.tname(dtype, width), x=a[0])
        if op in self.vector_functions:
            name = self.vector_functions[op] or self._helper(op, dtype, width)
            return f"{name}({','.join(a)})"
        return self.alu(op, dtype, src, a)

    def _helper(self, op: Ops, dtype: DType, width: int) -> str:
        vec = self.tname(dtype, width)
        name = f"tg_{op.name.lower()}_{vec}"
        if name not in self._helpers:
            self._helpers[name] = HELPERS[op](Spell(self, dtype, width), name)
        return name

    # --- the program ---
    def render(self, prog: LinearProgram) -> str:
        self._vtypes: dict[str, tuple[DType, int]] = {}
        self._helpers: dict[str, str] = {}
        names: dict[int, str] = {}
        body: list[str] = []
        depth, closes = 1, []
        itype = self.tname(prog.index_dtype)
        params = []
        for i, ins in enumerate(prog.instrs):
            pad = "  " * depth
            if ins.op is U.PARAM:
                buf, written = ins.arg
                names[i] = f"data{buf}"
                const = "" if written else "const "
                qual = f"{self.buffer_qualifier} " if self.buffer_qualifier else ""
                restrict = f"{self.restrict} " if self.restrict and prog.noalias else ""
                params.append(
                    f"{qual}{const}{self.tname(ins.dtype)}* {restrict}data{buf}{self.buffer_suffix.format(i=buf)}"
                )
            elif ins.op is U.LOOP:
                var, size, kind = ins.arg
                names[i] = var
                if kind == "local" or (kind == "global" and prog.local_size > 1):
                    builtin = self.index_builtins["local" if kind == "local" else "group"].format(0)
                    body.append(f"{pad}{itype} {var} = {builtin};")
                    closes.append(False)
                    continue
                if kind == "global" and self.global_index is not None:
                    body.append(f"{pad}{itype} {var} = {self.global_index.format(dim=0)};")
                    closes.append(False)
                    continue
                template = self.global_loop if kind == "global" else _LOOP
                body.append(pad + template.format(itype=itype, var=var, size=size))
                closes.append(True)
                depth += 1
            elif ins.op is U.ENDLOOP:
                if closes.pop():
                    depth -= 1
                    body.append("  " * depth + "}")
            elif ins.op is U.LOCAL:
                name, size, shared = ins.arg
                names[i] = name
                qualifier = self.shared_qualifier if shared else self.local_qualifier
                qual = f"{qualifier} " if qualifier else ""
                body.append(f"{pad}{qual}{self.tname(ins.dtype)} {name}[{size}]{self.local_align};")
            elif ins.op is U.ACC:
                names[i] = f"acc{i}"
                body.append(
                    f"{pad}{self.tname(ins.dtype, ins.width)} acc{i} = {self.const(ins.arg, ins.dtype, ins.width)};"
                )
            elif ins.op is U.ASSIGN:
                body.append(f"{pad}{names[ins.srcs[0]]} = {names[ins.srcs[1]]};")
            elif ins.op is U.BARRIER:
                body.append(pad + self.barrier)
            elif ins.op is U.IF:
                body.append(f"{pad}if ({self.index(ins.arg[0])} == {ins.arg[1]}) {{")
                depth += 1
            elif ins.op is U.ENDIF:
                depth -= 1
                body.append("  " * depth + "}")
            elif ins.op is U.STORE:
                dest, value = (names[s] for s in ins.srcs)
                idx = self.index(ins.arg)
                if ins.width > 1:
                    vec = self.tname(prog.instrs[ins.srcs[1]].dtype, ins.width)
                    body.append(
                        pad
                        + self.vector_store.format(
                            type=vec,
                            width=ins.width,
                            ptr=_address(dest, idx),
                            value=value,
                            space=self._space(prog, ins),
                        )
                    )
                else:
                    body.append(f"{pad}{dest}[{idx}] = {value};")
            elif ins.op is U.CONST:
                value, valid = ins.arg
                text = self.const(value, ins.dtype, ins.width)
                names[i] = text if valid == () else f"({self.valid(valid)}?{text}:{self.const(0, ins.dtype)})"
            elif ins.op is U.GEP:
                names[i] = self.gep.format(vec=names[ins.srcs[0]], lane=ins.arg)
            else:
                names[i] = f"{'val' if ins.op is U.LOAD else 'alu'}{i}"
                body.append(f"{pad}{self.tname(ins.dtype, ins.width)} {names[i]} = {self._expr(prog, ins, names)};")
        signature = ", ".join(params + list(self.extra_params) + list(self.group_params if prog.local_size > 1 else ()))
        lines = list(self.prelude)
        for name, (dtype, width) in self._vtypes.items():
            fmt = {"scalar": self.tname(dtype), "name": name, "nbytes": dtype.itemsize * width, "align": dtype.itemsize}
            lines += [typedef.format(**fmt) for typedef in self.vector_typedefs]
        lines += list(self._helpers.values())
        qualifier = f"{self.kernel_qualifier} " if self.kernel_qualifier else ""
        lines += [f"{qualifier}void {self.kernel_name.format(name=prog.name)}({signature}) {{", *body, "}"]
        return "\n".join(lines + self.entry_point(prog.name, params)) + "\n"

    def entry_point(self, name: str, params: list[str]) -> list[str]:
        """Lines after the kernel, for a runtime that calls every kernel through one signature: a function `name`
        that calls the kernel (named by kernel_name) with the buffers `params` declares. None by default: the
        kernel is its own entry point."""
        return []

    def _space(self, prog: LinearProgram, ins: Instr) -> str:
        """The address space of the memory a LOAD or STORE touches, as vector_load/vector_store spell it."""
        target = prog.instrs[ins.srcs[0]]
        if target.op is U.PARAM:
            return self.buffer_qualifier
        shared = target.arg[2]
        return self.shared_qualifier if shared else (self.local_qualifier or self.private_space)

    def _expr(self, prog: LinearProgram, ins: Instr, names: dict[int, str]) -> str:
        args = [names[s] for s in ins.srcs]
        if ins.op is U.LOAD:
            idx, valid = ins.arg
            ptr = args[0]
            text = (
                f"{ptr}[{self.index(idx)}]"
                if ins.width == 1
                else self.vector_load.format(
                    type=self.tname(ins.dtype, ins.width),
                    width=ins.width,
                    ptr=_address(ptr, self.index(idx)),
                    space=self._space(prog, ins),
                )
            )
            return text if valid == () else f"({self.valid(valid)}?{text}:{self.const(0, ins.dtype, ins.width)})"
        if ins.op is U.VECTORIZE:
            return self.vector_literal.format(type=self.tname(ins.dtype, ins.width), elements=",".join(args))
        src = prog.instrs[ins.srcs[-1 if ins.arg is Ops.WHERE else 0]].dtype
        assert ins.dtype is not None
        assert src is not None
        if ins.width > 1:
            return self.vector_alu(ins.arg, ins.dtype, src, ins.width, args)
        return self.alu(ins.arg, ins.dtype, src, args)


def _address(buffer: str, index: str) -> str:
    """Where a vector access starts. The index is added as a whole: `buf+(i*6-6)`, not `buf+i*6-6`, whose partial
    sums may point outside the buffer (undefined behaviour, and what a bounds-checking emulator flags)."""
    return f"{buffer}+({index})"
