"""Group reductions (lower.Plan.group): the lanes of a threadgroup split a reduce dim and combine their partials in
shared memory. Only dialects with shared memory (CStyleRenderer.shared_qualifier) get one; C output never changes.
Executed for real by the Metal backend's emulated tests (backends/metal/tests/test_metal_msl_emulated_suite.py)."""

from __future__ import annotations

from typing import ClassVar

import pytest

from tinygrad_core.codegen.cstyle import CStyleRenderer
from tinygrad_core.codegen.lower import Plan, U, canonicalize, lower
from tinygrad_core.codegen.opt import choose_plan
from tinygrad_core.dtype import dtypes
from tinygrad_core.kernel import Kernel
from tinygrad_core.ops import Ops
from tinygrad_core.runtime import Capabilities
from tinygrad_core.testing.kernels import kernel, load, reduce, tracker

F32 = dtypes.float32


class SharedDialect(CStyleRenderer):
    """A made-up GPU dialect: just the attributes a group reduction reads."""

    shared_qualifier = "__shared"
    barrier = "sync_lanes();"
    global_index = "global_id()"
    index_builtins: ClassVar[dict[str, str]] = {"group": "group_id()", "local": "lane_id()"}
    group_params: ClassVar[tuple[str, ...]] = ("int lanes_in_group",)


def row_sum(rows: int, cols: int) -> Kernel:
    value = reduce(Ops.SUM, (1,), load(1, F32, tracker((rows, cols))))
    return canonicalize(kernel(value, (rows, 1), [(F32, rows * cols)]))


GROUPS = Capabilities(group_reductions=True)


def test_group_plans_only_where_the_dialect_has_shared_memory() -> None:
    k = row_sum(8, 256)
    assert choose_plan(k, CStyleRenderer(), GROUPS).group == 1
    plan = choose_plan(k, SharedDialect(), GROUPS)
    assert plan.group == 256
    assert plan.parallel == 0
    assert choose_plan(row_sum(8, 8), SharedDialect(), GROUPS).group == 1  # too short to be worth a threadgroup


def test_group_lowering_splits_the_reduce_and_combines_after_a_barrier() -> None:
    prog = lower(row_sum(8, 256), Plan(group=64, parallel=0), SharedDialect())
    ops = [ins.op for ins in prog.instrs]
    assert prog.local_size == 64
    assert prog.global_size == 8
    assert ops.count(U.BARRIER) == 2  # before lane 0 reads the partials, and before the next partials are written
    assert ops.count(U.IF) == ops.count(U.ENDIF) == 1
    src = SharedDialect().render(prog)
    assert "int lidx = lane_id();" in src
    assert "int gidx0 = group_id();" in src
    assert "__shared float partials[64]" in src
    assert "for (int ridx1 = 0; ridx1 < 4; ridx1++)" in src  # 256 elements over 64 lanes
    assert "data1[gidx0*256+lidx+ridx1*64]" in src  # neighbouring lanes read neighbouring elements
    assert "if (lidx == 0) {" in src
    assert src.count("sync_lanes();") == 2
    assert "int lanes_in_group" in src


def test_plain_plans_render_as_before() -> None:
    src = SharedDialect().render(lower(row_sum(8, 256), Plan(parallel=0), SharedDialect()))
    assert "lanes_in_group" not in src
    assert "__shared" not in src
    assert "sync_lanes" not in src


def test_group_plan_needs_shared_memory_and_a_divisible_reduce() -> None:
    with pytest.raises(ValueError, match="group reduction"):
        lower(row_sum(8, 256), Plan(group=64), CStyleRenderer())
    with pytest.raises(ValueError, match="group reduction"):
        lower(row_sum(8, 100), Plan(group=64), SharedDialect())
    with pytest.raises(ValueError, match="group reduction"):
        lower(row_sum(8, 256), Plan(group=64, upcast=(1, 4)), SharedDialect())
