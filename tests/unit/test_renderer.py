"""The C-family renderer's contract with its dialects: the base writes plain C that every dialect shares, and each ALU
op is one entry of `alu_templates`, which a dialect overrides op by op."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from tinygrad_core import Tensor
from tinygrad_core.codegen.cstyle import CStyleRenderer, Template
from tinygrad_core.codegen.lower import Plan, canonicalize, lower
from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.ops import ALU, BINARY, UNARY, Ops
from tinygrad_core.schedule import create_schedule

DTYPES = (dtypes.bool, dtypes.int8, dtypes.uint16, dtypes.int32, dtypes.uint64, dtypes.float16, dtypes.float32)
FLOAT_ONLY = {Ops.EXP2, Ops.LOG2, Ops.SIN, Ops.SQRT}  # the math functions are defined on floats only
SAME_SIZE = {1: dtypes.uint8, 2: dtypes.int16, 4: dtypes.int32, 8: dtypes.float64}  # a BITCAST target per itemsize


def cases() -> list[tuple[Ops, DType, DType, list[str]]]:
    """(op, result dtype, operand dtype, operands) for every ALU op the base spells, on every dtype it is defined on."""
    out = []
    for op in sorted(CStyleRenderer.alu_templates, key=lambda op: op.value):
        for src in DTYPES:
            if op in FLOAT_ONLY and not dtypes.is_float(src):
                continue
            dtype = {Ops.CMPLT: dtypes.bool, Ops.CMPNE: dtypes.bool, Ops.CAST: dtypes.int8}.get(op, src)
            dtype = SAME_SIZE[src.itemsize] if op is Ops.BITCAST else dtype
            operands = ["a", "b", "c"][: 1 if op in UNARY else 2 if op in BINARY else 3]
            out.append((op, dtype, src, operands))
    return out


def test_the_base_has_a_template_for_every_alu_op() -> None:
    spelled = {op.name for op in CStyleRenderer.alu_templates}
    assert {op.name for op in ALU} - spelled == set()
    assert spelled <= {op.name for op in ALU}


@pytest.mark.parametrize(
    ("op", "dtype", "src", "operands"), cases(), ids=[f"{op.name}-{src.name}" for op, _, src, _ in cases()]
)
def test_the_base_renders_every_op_on_every_dtype(op: Ops, dtype: DType, src: DType, operands: list[str]) -> None:
    text = CStyleRenderer().alu(op, dtype, src, operands)
    assert text
    assert any(name in text for name in operands)


def test_an_op_undefined_on_a_dtype_is_refused() -> None:
    with pytest.raises(NotImplementedError, match=r"can't render Ops\.SIN"):
        CStyleRenderer().alu(Ops.SIN, dtypes.int32, dtypes.int32, ["a"])


class FmaxDialect(CStyleRenderer):
    alu_templates: ClassVar[dict[Ops, Template]] = {**CStyleRenderer.alu_templates, Ops.MAX: "fmax({x},{y})"}


def test_overriding_one_template_changes_only_that_op() -> None:
    base, dialect = CStyleRenderer(), FmaxDialect()
    for op, dtype, src, operands in cases():
        if op is Ops.MAX:
            assert dialect.alu(op, dtype, src, operands) == "fmax(a,b)"
        else:
            assert dialect.alu(op, dtype, src, operands) == base.alu(op, dtype, src, operands), (op, src)


def test_templates_keep_c_defined() -> None:
    """The semantics C leaves undefined are spelled out: division by 0 and -1, float -> narrow int, wide shifts."""
    ren = CStyleRenderer()
    assert ren.alu(Ops.IDIV, dtypes.int32, dtypes.int32, ["a", "b"]) == "(b==0?0:b==-1?-a:a/b)"
    assert ren.alu(Ops.MOD, dtypes.uint32, dtypes.uint32, ["a", "b"]) == "(b==0?0:a%b)"
    assert ren.alu(Ops.CAST, dtypes.uint8, dtypes.float32, ["a"]) == "(unsigned char)((long long)(a))"
    assert ren.alu(Ops.SHR, dtypes.int8, dtypes.int8, ["a", "b"]) == "(a>>((unsigned long long)b<7?b:7))"
    assert ren.alu(Ops.MAX, dtypes.float32, dtypes.float32, ["a", "b"]) == "((a>b||a!=a)?a:b)"  # NaN propagates


def test_the_base_writes_plain_c() -> None:
    """No qualifier, attribute, vector or thread ABI: the whole loop nest in one function of the kernel's name."""
    x = Tensor(np.arange(64, dtype=np.float32), device="CPU")
    kernel = canonicalize([item.kernel for item in create_schedule([(x * 2).lazydata]) if item.kernel][-1])
    ren = CStyleRenderer()
    src = ren.render(lower(kernel, Plan(upcast=(8,), vector=0, width=8, parallel=0), ren))
    assert src.startswith("#include <math.h>\nvoid E_64(float* data0, const float* data1) {\n")
    assert "for (int gidx0 = 0; gidx0 < 8; gidx0++) {" in src
    assert not any(word in src for word in ("restrict", "__attribute__", "typedef", "start", "bufs"))
