"""Lowering: a Kernel plus a Plan (opt.py) -> a linear program of loops, loads, ALU ops, accumulators and stores.

The loop space is first made canonical: output dims first, reduce dims last, size-1 dims dropped, and neighbours
that every view walks as one dim merged. A Plan then says which dims are unrolled into registers ("upcast"), which
one is spread over vector lanes, the order of the output loops, which output loop is split across threads, and
which loads are staged into a local array. Each KNode is evaluated once per register lane, as a scalar shared by
every vector lane, as one vector, or (for ops a dialect can't do on vectors) as one scalar per lane.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from enum import Enum, auto
from typing import TYPE_CHECKING, Any

from tinygrad_core.codegen.symbolic import Lin, Never, Valid, Var, both, in_range
from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.kernel import Kernel, KNode
from tinygrad_core.ops import Ops
from tinygrad_core.view import ShapeTracker

if TYPE_CHECKING:
    from tinygrad_core.codegen.cstyle import CStyleRenderer


class U(Enum):
    """Instructions of the linear program. Every one has an id (its position) that later ones name in `srcs`."""

    PARAM = auto()  # arg=(buffer index, written)                      dtype: element type
    LOOP = auto()  # arg=(var, size, kind) kind: "global" | "loop" | "reduce" | "local"; "global" is split across
    #                threads (one threadgroup each when local_size > 1); "local" is the lane within the threadgroup
    ENDLOOP = auto()
    LOCAL = auto()  # arg=(name, size, shared)                        a scratch array (C: stack; GPUs: local);
    #                 shared: one array per threadgroup (group reductions), else one per thread
    ACC = auto()  # arg=initial value                                 a mutable accumulator
    CONST = auto()  # arg=(value, valid)                              value where valid holds, else 0
    LOAD = auto()  # srcs=(param|local,) arg=(index, valid)           width > 1: a contiguous vector
    STORE = auto()  # srcs=(param|local, value) arg=index             width > 1: a contiguous vector
    ALU = auto()  # arg=Ops; CAST/BITCAST convert to dtype
    VECTORIZE = auto()  # srcs=one scalar per lane (the same one repeated: a broadcast)
    GEP = auto()  # srcs=(vector,) arg=lane
    ASSIGN = auto()  # srcs=(acc, value)                              acc = value
    BARRIER = auto()  # every lane of the threadgroup waits here (group reductions)
    IF = auto()  # arg=(index, value)                                 the block up to ENDIF runs where index == value
    ENDIF = auto()


@dataclass(frozen=True, eq=False)
class Instr:
    op: U
    dtype: DType | None
    width: int = 1
    srcs: tuple[int, ...] = ()
    arg: Any = None


@dataclass
class LinearProgram:
    name: str
    instrs: list[Instr]
    bufs: list[tuple[DType, bool]]  # (dtype, written) per kernel buffer
    global_size: int  # iterations of the "global" loop, split across threads (1 when there is none)
    index_dtype: DType
    noalias: bool = True  # buffers never overlap (C: restrict); False when one buffer is passed twice
    local_size: int = 1  # threads of a threadgroup sharing one global iteration (Plan.group); launch exactly that many


@dataclass(frozen=True)
class Plan:
    """How to lower one canonical kernel. Every field has a safe default: the plain loop nest."""

    upcast: tuple[int, ...] = ()  # per dim: how many iterations become register lanes (divides the dim; () = all 1)
    vector: int | None = None  # dim whose lanes are vector lanes, in groups of `width`
    width: int = 1
    order: tuple[int, ...] = ()  # output dims' loops, outermost first; () = natural order
    parallel: int | None = None  # output dim whose loop is split across threads
    stage: tuple[int, ...] = ()  # buffers whose loads are copied to a local array above the innermost output loop
    split_acc: bool = False  # unrolled reduce lanes keep their own accumulators
    # GPUs (renderer.shared_qualifier): lanes of one threadgroup split the last reduce dim and combine their partials
    # in shared memory after a barrier; needs no upcast or staging of reduce dims and no vector
    group: int = 1

    def upcast_of(self, dim: int) -> int:
        return self.upcast[dim] if dim < len(self.upcast) else 1


# --- canonical loop space ---
def _retrack(node: KNode, fn: Any, raxes: tuple[int, ...], memo: dict[int, KNode]) -> KNode:
    """A copy of the DAG with every tracker passed through `fn` and the REDUCE over `raxes`."""
    if id(node) not in memo:
        srcs = tuple(_retrack(s, fn, raxes, memo) for s in node.src)
        arg = node.arg
        if node.op in (Ops.LOAD, Ops.CONST, Ops.STORE):
            arg = (arg[0], fn(arg[1]))
        elif node.op is Ops.REDUCE:
            arg = (arg[0], raxes)
        memo[id(node)] = KNode(node.op, node.dtype, srcs, arg)
    return memo[id(node)]


def canonicalize(kernel: Kernel) -> Kernel:
    """The same kernel over a canonical loop space: output dims, then reduce dims; no size-1 dims; merged neighbours."""
    full, raxes = kernel.full_shape, kernel.reduce_axes
    order = [i for i in range(len(full)) if i not in raxes] + list(raxes)
    groups = [[i] for i in order if full[i] != 1]
    trackers = [
        n.arg[1].permute(tuple(order)) for n in kernel.ast.toposort() if n.op in (Ops.LOAD, Ops.CONST, Ops.STORE)
    ]

    def shape_of(groups: list[list[int]], reduced: bool) -> tuple[int, ...]:
        return tuple(1 if reduced and g[0] in raxes else math.prod(full[i] for i in g) for g in groups)

    def fits(groups: list[list[int]]) -> bool:
        for st in trackers:
            reduced = any(st.shape[order.index(a)] != full[a] for a in raxes)
            if st.views[-1].reshape(shape_of(groups, reduced)) is None:
                return False
        return True

    i = 0
    while i + 1 < len(groups):
        merged = [*groups[:i], groups[i] + groups[i + 1], *groups[i + 2 :]]
        if (groups[i][0] in raxes) == (groups[i + 1][0] in raxes) and fits(merged):
            groups = merged
        else:
            i += 1
    new_raxes = tuple(i for i, g in enumerate(groups) if g[0] in raxes)

    def fn(st: ShapeTracker) -> ShapeTracker:
        permuted = st.permute(tuple(order))
        reduced = any(permuted.shape[order.index(a)] != full[a] for a in raxes)
        return permuted.reshape(shape_of(groups, reduced))

    return Kernel(_retrack(kernel.ast, fn, new_raxes, {}), kernel.bufs)


# --- values: one per register lane ---
@dataclass
class Val:
    kind: str  # "s": one scalar for every vector lane, "v": a vector, "l": one scalar per lane
    refs: tuple[int, ...]
    dtype: DType


def _index_of(st: ShapeTracker, dims: list[Lin]) -> tuple[Lin, Valid]:
    """Buffer index and validity of the element at `dims` (one index per dim of st.shape)."""
    valid: Valid = ()
    coords = dims
    position = Lin.num(0)
    for depth, view in enumerate(reversed(st.views)):
        if view.mask is not None:
            for coord, (lo, hi) in zip(coords, view.mask):
                valid = both(valid, in_range(coord, lo, hi))
        position = Lin.num(view.offset)
        for coord, stride in zip(coords, view.strides):
            if stride:
                position = position + coord * stride
        if depth + 1 < len(st.views):
            inner = st.views[-depth - 2].shape
            coords, divisor = [], 1
            for size in reversed(inner):
                coords.insert(0, (position // divisor) % size)
                divisor *= size
    return position, valid


class Lowerer:
    def __init__(self, kernel: Kernel, plan: Plan, renderer: CStyleRenderer):
        self.k, self.plan, self.ren = kernel, plan, renderer
        self.shape = kernel.full_shape
        self.rdims = list(kernel.reduce_axes)
        self.odims = [d for d in range(len(self.shape)) if d not in self.rdims]
        self.W = plan.width if plan.vector is not None else 1
        for d, n in enumerate(self.shape):
            if n % plan.upcast_of(d) or (d == plan.vector and plan.upcast_of(d) % self.W):
                raise ValueError(f"plan {plan} does not fit the loop space {self.shape}")
        if plan.group > 1:
            last = self.rdims[-1] if self.rdims else None
            if kernel.writes_rows:
                raise ValueError(f"plan {plan}: a row kernel takes no group reduction")
            if last is None or self.shape[last] % plan.group or not renderer.shared_qualifier or not renderer.barrier:
                raise ValueError(f"plan {plan}: a group reduction needs a reduce dim it divides and shared memory")
            if plan.vector is not None or plan.stage or any(plan.upcast_of(d) > 1 for d in self.rdims):
                raise ValueError(f"plan {plan}: a group reduction takes no vector, staging or reduce upcast")
        self.instrs: list[Instr] = []
        self.memo: dict[Any, Val] = {}
        self.scopes: list[dict[Any, int]] = [{}]
        big = max([math.prod(self.shape), *(b.size for b in kernel.bufs)]) >= 2**31
        self.index_dtype = dtypes.int64 if big else dtypes.int32
        self.base: dict[int, Lin] = {}  # dim -> index of its lane 0 in the current region
        self.staged: dict[int, tuple[int, list[int], int]] = {}  # buf -> (local id, lane dims, lanes)

    def emit(self, op: U, dtype: DType | None, width: int = 1, srcs: tuple[int, ...] = (), arg: Any = None) -> int:
        # common subexpressions: a pure instruction already emitted in an open scope is reused; one that reads an
        # accumulator is not, since the accumulator changes between reads
        pure = op in (U.LOAD, U.CONST, U.ALU, U.VECTORIZE, U.GEP) and not any(self.instrs[s].op is U.ACC for s in srcs)
        key = (op, dtype, width, srcs, repr(arg)) if pure else None
        if key is not None:
            for scope in reversed(self.scopes):
                if key in scope:
                    return scope[key]
        self.instrs.append(Instr(op, dtype, width, srcs, arg))
        ref = len(self.instrs) - 1
        if op in (U.LOOP, U.IF):
            self.scopes.append({})
        elif op in (U.ENDLOOP, U.ENDIF):
            self.scopes.pop()
        elif key is not None:
            self.scopes[-1][key] = ref
        return ref

    # --- lanes ---
    def lane_keys(self, dims: list[int]) -> list[tuple[tuple[int, int], ...]]:
        """Every register lane over `dims`: (dim, lane) pairs; the vector dim counts groups of W lanes."""
        ranges = []
        for d in dims:
            n = self.plan.upcast_of(d)
            ranges.append([(d, lane) for lane in range(n // self.W if d == self.plan.vector else n)])
        return [tuple(key) for key in itertools.product(*ranges)]

    def dim_indices(self, key: tuple[tuple[int, int], ...], lane: int) -> list[Lin]:
        lanes = dict(key)
        out = []
        for d in range(len(self.shape)):
            offset = lanes.get(d, 0)
            if d == self.plan.vector and d in lanes:
                offset = offset * self.W + lane
            out.append(self.base[d] + offset)
        return out

    def width_of(self, key: tuple[tuple[int, int], ...]) -> int:
        return self.W if any(d == self.plan.vector for d, _ in key) else 1

    def vectorizable(self, dtype: DType) -> bool:
        return self.W > 1 and dtype in self.ren.vector_dtypes

    def as_vector(self, val: Val, width: int) -> int:
        if val.kind == "v":
            return val.refs[0]
        if val.kind == "s":
            return self.emit(U.VECTORIZE, val.dtype, width, (val.refs[0],) * width)
        return self.emit(U.VECTORIZE, val.dtype, width, val.refs)

    def as_lanes(self, val: Val, width: int) -> tuple[int, ...]:
        if val.kind == "l":
            return val.refs
        if val.kind == "s":
            return val.refs * width
        return tuple(self.emit(U.GEP, val.dtype, 1, (val.refs[0],), lane) for lane in range(width))

    # --- memory ---
    def access(self, st: ShapeTracker, key: tuple[tuple[int, int], ...], width: int) -> list[tuple[Lin, Valid]]:
        """Index and validity per vector lane. The lane is first kept symbolic: when the index is linear in it and
        the validity doesn't read it (the usual case), one walk through the views serves every lane."""
        dims = self.dim_indices(key, 0)
        if width > 1 and self.plan.vector is not None:
            dims[self.plan.vector] = dims[self.plan.vector] + Lin.var("lane", width)
            idx, valid = _index_of(st, dims)
            coef = idx.coef("lane")
            reads_lane = not isinstance(valid, Never) and any("lane" in c[0].vars for c in valid)
            if coef is not None and not reads_lane:
                rest = tuple((a, c) for a, c in idx.terms if not (isinstance(a, Var) and a.name == "lane"))
                base = Lin(rest, idx.const)
                return [(base + coef * lane, valid) for lane in range(width)]
            return [_index_of(st, self.dim_indices(key, lane)) for lane in range(width)]
        return [_index_of(st, dims)]

    def load(self, src: int, dtype: DType, lanes: list[tuple[Lin, Valid]]) -> Val:
        (idx0, valid0), width = lanes[0], len(lanes)
        if isinstance(valid0, Never) and all(isinstance(v, Never) for _, v in lanes):
            return Val("s", (self.emit(U.CONST, dtype, 1, (), (0, ())),), dtype)
        if all(lane == lanes[0] for lane in lanes):
            return Val("s", (self.emit(U.LOAD, dtype, 1, (src,), lanes[0]),), dtype)
        contiguous = all(
            (idx - idx0).is_const and (idx - idx0).const == i and v == valid0 for i, (idx, v) in enumerate(lanes)
        )
        if contiguous and self.vectorizable(dtype):
            return Val("v", (self.emit(U.LOAD, dtype, width, (src,), lanes[0]),), dtype)
        refs = []
        for idx, valid in lanes:
            if isinstance(valid, Never):
                refs.append(self.emit(U.CONST, dtype, 1, (), (0, ())))
            else:
                refs.append(self.emit(U.LOAD, dtype, 1, (src,), (idx, valid)))
        return Val("l", tuple(refs), dtype)

    def store(self, dest: int, val: Val, lanes: list[tuple[Lin, Valid]]) -> None:
        idx0, width = lanes[0][0], len(lanes)
        if width == 1:
            self.emit(U.STORE, None, 1, (dest, self.as_lanes(val, 1)[0]), idx0)
            return
        contiguous = all((idx - idx0).is_const and (idx - idx0).const == i for i, (idx, _) in enumerate(lanes))
        if contiguous and self.vectorizable(val.dtype):
            self.emit(U.STORE, None, width, (dest, self.as_vector(val, width)), idx0)
            return
        for (idx, _), ref in zip(lanes, self.as_lanes(val, width)):
            self.emit(U.STORE, None, 1, (dest, ref), idx)

    # --- nodes ---
    def value(self, node: KNode, key: tuple[tuple[int, int], ...]) -> Val:
        memo_key = (id(node), key)
        if memo_key not in self.memo:
            self.memo[memo_key] = self._value(node, key)
        return self.memo[memo_key]

    def _value(self, node: KNode, key: tuple[tuple[int, int], ...]) -> Val:
        width = self.width_of(key)
        if node.op is Ops.LOAD and node.arg[0] in self.staged:
            local, lane_dims, lanes = self.staged[node.arg[0]]
            return self.load(local, node.dtype, self.staged_index(key, lane_dims, lanes, width))
        if node.op is Ops.LOAD:
            return self.load(self.params[node.arg[0]], node.dtype, self.access(node.arg[1], key, width))
        if node.op is Ops.CONST:
            values = []
            for _, valid in self.access(node.arg[1], key, width):
                values.append(
                    (node.arg[0], ()) if valid == () else (0, ()) if isinstance(valid, Never) else (node.arg[0], valid)
                )
            if all(v == values[0] for v in values):
                return Val("s", (self.emit(U.CONST, node.dtype, 1, (), values[0]),), node.dtype)
            return Val("l", tuple(self.emit(U.CONST, node.dtype, 1, (), v) for v in values), node.dtype)
        if node.op is Ops.REDUCE:  # one value per output lane, broadcast along the reduce dims (row kernels)
            return self.reduced[id(node)][tuple(p for p in key if p[0] not in self.rdims)]
        srcs = [self.value(s, key) for s in node.src]
        return self.alu(node.op, node.dtype, srcs, width)

    def alu(self, op: Ops, dtype: DType, srcs: list[Val], width: int) -> Val:
        if all(s.kind == "s" for s in srcs):
            return Val("s", (self.emit(U.ALU, dtype, 1, tuple(s.refs[0] for s in srcs), op),), dtype)
        src_dtypes = {s.dtype for s in srcs}
        if self.ren.vector_op_ok(op, dtype, src_dtypes) and all(self.vectorizable(d) for d in src_dtypes | {dtype}):
            refs = tuple(self.as_vector(s, width) for s in srcs)
            return Val("v", (self.emit(U.ALU, dtype, width, refs, op),), dtype)
        per_lane = [self.as_lanes(s, width) for s in srcs]
        refs = tuple(self.emit(U.ALU, dtype, 1, tuple(lane), op) for lane in zip(*per_lane))
        return Val("l", refs, dtype)

    # --- staging ---
    def staged_index(
        self, key: tuple[tuple[int, int], ...], lane_dims: list[int], lanes: int, width: int
    ) -> list[tuple[Lin, Valid]]:
        out: list[tuple[Lin, Valid]] = []
        for lane in range(width):
            dims = self.dim_indices(key, lane)
            flat = Lin.num(0)
            for d in self.rdims:
                flat = flat * self.shape[d] + dims[d]
            offset = Lin.num(0)
            for d in lane_dims:
                offset = offset * self.plan.upcast_of(d) + (dims[d] - self.base[d])
            out.append((flat * lanes + offset, ()))
        return out

    def emit_staging(self, loads: list[KNode], inner: int) -> None:
        lane_dims = [d for d in self.odims if self.plan.upcast_of(d) > 1 and d != inner]
        lane_dims.sort(key=lambda d: d == self.plan.vector)
        lanes = math.prod(self.plan.upcast_of(d) for d in lane_dims)
        total = math.prod(self.shape[d] for d in self.rdims)
        saved = {d: self.base[d] for d in self.rdims}
        for buf in sorted({n.arg[0] for n in loads}):
            node = next(n for n in loads if n.arg[0] == buf)
            local = self.emit(U.LOCAL, node.dtype, 1, (), (f"local{buf}", total * lanes, False))
            for d in self.rdims:
                self.base[d] = Lin.var(f"sidx{d}", self.shape[d])
                self.emit(U.LOOP, None, 1, (), (f"sidx{d}", self.shape[d], "loop"))
            for key in self.lane_keys(lane_dims):
                width = self.width_of(key)
                val = self.load(self.params[buf], node.dtype, self.access(node.arg[1], key, width))
                self.store(local, val, self.staged_index(key, lane_dims, lanes, width))
            for _ in self.rdims:
                self.emit(U.ENDLOOP, None)
            self.staged[buf] = (local, lane_dims, lanes)
        self.base.update(saved)

    # --- the program ---
    def lower(self) -> LinearProgram:
        k, plan = self.k, self.plan
        written = {0}
        self.params = [self.emit(U.PARAM, b.dtype, 1, (), (i, i in written)) for i, b in enumerate(k.bufs)]
        for d in range(len(self.shape)):
            self.base[d] = Lin.var(
                f"gidx{d}" if d in self.odims else f"ridx{d}", self.shape[d] // plan.upcast_of(d)
            ) * plan.upcast_of(d)
        out_keys = self.lane_keys([d for d in self.odims if plan.upcast_of(d) > 1])
        if plan.group > 1:
            assert k.reduce is not None
            last = self.rdims[-1]
            self.lane = Lin.var("lidx", plan.group)
            self.emit(U.LOOP, None, 1, (), ("lidx", plan.group, "local"))
            self.base[last] = Lin.var(f"ridx{last}", self.shape[last] // plan.group) * plan.group + self.lane
            size = len(out_keys) * plan.group
            self.shared = self.emit(U.LOCAL, _acc_dtype(k.reduce), 1, (), ("partials", size, True))
        self.reduce_base = {d: self.base[d] for d in self.rdims}
        order = list(plan.order) or self.odims
        loops = [d for d in order if self.shape[d] // plan.upcast_of(d) > 1]
        staged = [n for n in (k.reduce.toposort() if k.reduce else []) if n.op is Ops.LOAD and n.arg[0] in plan.stage]
        global_size = 1
        # staged loads are copied once above the outermost loop of the innermost run of loops that don't move them
        # (A @ B's B above the row loop; a convolution's weights above the batch and spatial loops)
        stage_at = None
        if staged:
            probe = [Lin.var(f"probe{i}", n) for i, n in enumerate(self.shape)]
            moved = set()
            for node in staged:
                idx, valid = _index_of(node.arg[1], probe)
                conds = valid if isinstance(valid, tuple) else ()
                moved |= {
                    d for d in loops if idx.coef(f"probe{d}") != 0 or any(f"probe{d}" in c[0].vars for c in conds)
                }
            if not loops or loops[-1] in moved:
                raise ValueError(f"plan stages buffers {plan.stage}, which the innermost loop moves")
            stage_at = next(i for i in range(len(loops), 0, -1) if loops[i - 1] in moved) if moved else 0
        for position, d in enumerate(loops):
            if position == stage_at:
                self.emit_staging(staged, loops[-1])
            kind = "global" if d == plan.parallel else "loop"
            global_size = self.shape[d] // plan.upcast_of(d) if kind == "global" else global_size
            self.emit(U.LOOP, None, 1, (), (f"gidx{d}", self.shape[d] // plan.upcast_of(d), kind))
        self.reduced: dict[int, dict[Any, Val]] = {}
        for reduce in k.reduces:  # a row kernel's reductions, each in a loop of its own over the row
            self.lower_reduce(reduce, out_keys)
        if k.writes_rows and k.out_shape == self.shape:
            self.store_rows(out_keys)
        else:
            for d in self.rdims:
                self.base[d] = Lin.num(0)
            store = k.ast
            for key in out_keys:
                width = self.width_of(key)
                self.store(self.params[0], self.value(store.src[0], key), self.access(store.arg[1], key, width))
        if plan.group > 1:  # lane 0 stored; the next iteration's partials wait until it has read these
            self.emit(U.ENDIF, None)
            self.emit(U.BARRIER, None)
        for _ in loops:
            self.emit(U.ENDLOOP, None)
        if plan.group > 1:
            self.emit(U.ENDLOOP, None)
        bufs = [(b.dtype, i in written) for i, b in enumerate(k.bufs)]
        return LinearProgram(k.name, self.instrs, bufs, global_size, self.index_dtype, local_size=plan.group)

    def reduce_loops(self, split: dict[int, int]) -> list[int]:
        """Open the loops over the reduce dims (a pass over the row); return the dims looped, to close them after.
        Values computed in an earlier pass live in its loops' scope: none is reused."""
        self.base.update(self.reduce_base)
        self.memo = {}
        sizes = {d: self.shape[d] // self.plan.upcast_of(d) // split.get(d, 1) for d in self.rdims}
        empty = any(self.shape[d] == 0 for d in self.rdims)  # nothing to reduce: the accumulators keep their start
        loops = [d for d in self.rdims if sizes[d] > 1 and not empty]
        for d in loops:
            self.emit(U.LOOP, None, 1, (), (f"ridx{d}", sizes[d], "reduce"))
        return loops

    def store_rows(self, out_keys: list[tuple[tuple[int, int], ...]]) -> None:
        """A row kernel's STORE in full_shape: one more pass over the row after its reductions, writing each element."""
        store = self.k.ast
        loops = self.reduce_loops({})
        for rkey in self.lane_keys([d for d in self.rdims if self.plan.upcast_of(d) > 1]):
            for okey in out_keys:
                key = tuple(sorted(okey + rkey))
                width = self.width_of(key)
                self.store(self.params[0], self.value(store.src[0], key), self.access(store.arg[1], key, width))
        for _ in loops:
            self.emit(U.ENDLOOP, None)

    def lower_reduce(self, reduce: KNode, out_keys: list[tuple[tuple[int, int], ...]]) -> None:
        op = Ops.ADD if reduce.arg[0] is Ops.SUM else Ops.MAX
        acc_dtype = _acc_dtype(reduce)
        init = 0 if op is Ops.ADD else dtypes.min(acc_dtype)
        rup = [d for d in self.rdims if self.plan.upcast_of(d) > 1]
        acc_dims = [d for d in rup if self.plan.split_acc or d == self.plan.vector]
        accs: dict[Any, Val] = {}
        for okey in out_keys:
            for akey in self.lane_keys(acc_dims):
                width = self.width_of(okey + akey)
                if width > 1 and not self.vectorizable(acc_dtype):
                    refs = tuple(self.emit(U.ACC, acc_dtype, 1, (), init) for _ in range(width))
                    accs[(okey, akey)] = Val("l", refs, acc_dtype)
                else:
                    accs[(okey, akey)] = Val(
                        "v" if width > 1 else "s", (self.emit(U.ACC, acc_dtype, width, (), init),), acc_dtype
                    )
        # a group reduction's lanes share the last reduce dim: each loops over its 1/group of it
        loops = self.reduce_loops({self.rdims[-1]: self.plan.group} if self.rdims else {})
        empty = any(self.shape[d] == 0 for d in self.rdims)
        for rkey in [] if empty else self.lane_keys(rup):  # reduce lanes outermost: neighbours hit different accs
            for okey in out_keys:
                key = tuple(sorted(okey + rkey))
                x = self.value(reduce.src[0], key)
                if x.dtype != acc_dtype:
                    x = self.alu(Ops.CAST, acc_dtype, [x], self.width_of(key))
                acc = accs[(okey, tuple(p for p in rkey if p[0] in acc_dims))]
                self.update(acc, self.alu(op, acc_dtype, [acc, x], self.width_of(key)))
        for _ in loops:
            self.emit(U.ENDLOOP, None)
        if self.plan.group > 1:
            accs = self.combine_group(op, acc_dtype, init, [accs[(okey, ())] for okey in out_keys], out_keys)
        reduced: dict[Any, Val] = self.reduced.setdefault(id(reduce), {})
        for okey in out_keys:
            parts = [accs[(okey, akey)] for akey in self.lane_keys(acc_dims)]
            total = parts[0]
            for part in parts[1:]:
                total = self.alu(op, acc_dtype, [total, part], self.width_of(okey + tuple((d, 0) for d in acc_dims)))
            if self.plan.vector in self.rdims and total.kind != "s":
                lanes = self.as_lanes(total, self.W)
                result = lanes[0]
                for lane in lanes[1:]:
                    result = self.emit(U.ALU, acc_dtype, 1, (result, lane), op)
                total = Val("s", (result,), acc_dtype)
            if acc_dtype != reduce.dtype:
                total = self.alu(Ops.CAST, reduce.dtype, [total], self.width_of(okey))
            reduced[okey] = total

    def combine_group(self, op: Ops, dtype: DType, init: Any, parts: list[Val], out_keys: list[Any]) -> dict[Any, Val]:
        """Each lane's partials into shared memory, a barrier, then lane 0 combines them (and, after this, stores)."""
        group = self.plan.group
        for p, part in enumerate(parts):
            self.emit(U.STORE, None, 1, (self.shared, part.refs[0]), self.lane + p * group)
        self.emit(U.BARRIER, None)
        self.emit(U.IF, None, 1, (), (self.lane, 0))
        combined: dict[Any, Val] = {}
        for p, okey in enumerate(out_keys):
            acc = Val("s", (self.emit(U.ACC, dtype, 1, (), init),), dtype)
            self.emit(U.LOOP, None, 1, (), (f"lane{p}", group, "loop"))
            index = Lin.var(f"lane{p}", group) + p * group
            part = Val("s", (self.emit(U.LOAD, dtype, 1, (self.shared,), (index, ())),), dtype)
            self.update(acc, self.alu(op, dtype, [acc, part], 1))
            self.emit(U.ENDLOOP, None)
            combined[(okey, ())] = acc
        return combined

    def update(self, acc: Val, value: Val) -> None:
        if acc.kind == "l":
            for ref, new in zip(acc.refs, self.as_lanes(value, len(acc.refs))):
                self.emit(U.ASSIGN, acc.dtype, 1, (ref, new))
        else:
            width = self.instrs[acc.refs[0]].width
            new = self.as_vector(value, width) if width > 1 else value.refs[0]
            self.emit(U.ASSIGN, acc.dtype, width, (acc.refs[0], new))


def _acc_dtype(reduce: KNode) -> DType:
    """Sums and maxima of 16-bit floats accumulate in float32."""
    return dtypes.float32 if reduce.dtype in (dtypes.float16, dtypes.bfloat16) else reduce.dtype


def lower(kernel: Kernel, plan: Plan, renderer: CStyleRenderer) -> LinearProgram:
    """`kernel` must already be canonical (canonicalize) and `plan` made for it."""
    return Lowerer(kernel, plan, renderer).lower()
