"""The kernel IR: the only thing a backend receives.

A Kernel is one pass over memory: a DAG of KNodes rooted at a STORE into buffer 0. Every node knows its dtype.

    STORE   src=(value,)        arg=(0, tracker)        writes value at every index of tracker.shape (the output)
    LOAD    src=()              arg=(buf, tracker)      reads buffer `buf` through a ShapeTracker; 0 outside its masks
    CONST   src=()              arg=(value, tracker)    `value` inside the tracker's masks, 0 outside
    REDUCE  src=(x,)            arg=(SUM|MAX, axes)     reduces x over `axes`, keeping them as size-1 dims
    ALU     src=(a[, b[, c]])   arg=None                any op in ops.ALU; CAST/BITCAST convert to the node's dtype

Shapes: a kernel has a `full_shape` (the loop space) and an `out_shape` (full_shape with the reduce axes set to 1);
both have the same number of dims. Nodes under the REDUCE live in full_shape, the REDUCE and everything above it
in out_shape. Trackers are in view.py; a backend either interprets them (cpu) or renders their index arithmetic
(the C-family renderer).

Row kernels (plugin API 2.1): a kernel may hold several REDUCE nodes, all over the same axes, and its STORE may
write full_shape ("writes its rows"). A node in full_shape that reads a REDUCE reads its value broadcast along the
reduced axes, so a later REDUCE can use an earlier one and the STORE can write every element of a row after the
row's reductions: softmax is max, then the sum of exp(x - max), then exp(x - max) / sum, in one kernel that
passes over each row while it is in cache. A backend that declares API 2.0 never receives one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from tinygrad_core.dtype import DType
from tinygrad_core.helpers import toposort
from tinygrad_core.ops import Ops
from tinygrad_core.view import Shape, ShapeTracker


@dataclass(frozen=True, eq=False)
class KNode:
    op: Ops
    dtype: DType
    src: tuple[KNode, ...] = ()
    arg: Any = None

    def toposort(self) -> list[KNode]:
        """Every node of the DAG once, sources before users."""
        return toposort([self], lambda node: reversed(node.src))

    def render(self) -> str:
        """A readable multi-line listing of the DAG, one numbered node per line (DEBUG >= 3)."""
        numbers: dict[int, int] = {}
        lines = []
        for node in self.toposort():
            numbers[id(node)] = len(numbers)
            srcs = ", ".join(f"%{numbers[id(s)]}" for s in node.src)
            arg = node.arg
            if node.op is Ops.REDUCE:
                arg = f"{arg[0].name} axes={arg[1]}"
            if node.op in (Ops.LOAD, Ops.CONST, Ops.STORE):
                arg = f"{arg[0]}, {' -> '.join(_view_str(v) for v in arg[1].views)}"
            lines.append(
                f"  %{numbers[id(node)]} = {node.op.name} {node.dtype.name} {srcs} {'' if arg is None else arg}"
            )
        return "\n".join(lines)


def _view_str(view: Any) -> str:
    mask = "" if view.mask is None else f" mask={view.mask}"
    return f"{view.shape}@{view.strides}+{view.offset}{mask}"


@dataclass(frozen=True)
class BufferSpec:
    dtype: DType
    size: int


@dataclass(frozen=True, eq=False)
class Kernel:
    ast: KNode  # the STORE
    bufs: tuple[BufferSpec, ...]  # bufs[0] is the output

    @cached_property
    def reduces(self) -> tuple[KNode, ...]:
        """Every REDUCE node, each after the ones it reads (a row kernel has several; most kernels one or none)."""
        return tuple(n for n in self.ast.toposort() if n.op is Ops.REDUCE)

    @property
    def reduce(self) -> KNode | None:
        return self.reduces[0] if self.reduces else None

    @property
    def writes_rows(self) -> bool:
        """Whether this is a row kernel (see the module docstring): several REDUCEs, or a STORE in full_shape."""
        return len(self.reduces) > 1 or (bool(self.reduces) and self.out_shape == self.full_shape)

    @property
    def out_shape(self) -> Shape:
        tracker: ShapeTracker = self.ast.arg[1]
        return tracker.shape

    @cached_property
    def full_shape(self) -> Shape:
        if self.reduce is None:
            return self.out_shape
        loads = [n for n in self.reduce.toposort() if n.op in (Ops.LOAD, Ops.CONST)]
        return loads[0].arg[1].shape

    @property
    def reduce_axes(self) -> tuple[int, ...]:
        return () if self.reduce is None else self.reduce.arg[1]

    @cached_property
    def name(self) -> str:
        """E_ for elementwise, r_ for reduce kernels, then the loop sizes: r_64_32 reads 2048 elements into 64."""
        return ("r_" if self.reduce is not None else "E_") + "_".join(str(s) for s in self.full_shape if s != 1)

    @property
    def dtypes(self) -> set[DType]:
        return {n.dtype for n in self.ast.toposort()}

    @cached_property
    def flops(self) -> int:
        return math.prod(self.full_shape) * sum(
            1 for n in self.ast.toposort() if n.op not in (Ops.LOAD, Ops.CONST, Ops.STORE)
        )

    @cached_property
    def nbytes(self) -> int:
        """Bytes of every buffer the kernel reads or writes, each once (what GlobalCounters.global_mem counts)."""
        return sum(b.size * b.dtype.itemsize for b in self.bufs)

    def __repr__(self) -> str:
        bufs = ", ".join(f"{b.dtype.name}[{b.size}]" for b in self.bufs)
        return f"<Kernel {self.name} ({bufs})>\n{self.ast.render()}"
