"""Kernel optimisation: the Plan (lower.py) each kernel gets, and splitting large reductions into two kernels.

The heuristics read the stride of every load along every dim of the canonical loop space and pick:
- a vector dim: an output dim every access walks with stride 0 or 1 (so loads are whole vectors or broadcasts),
  else the innermost reduce dim when the reduction reads contiguously (row sums, softmax, layernorm);
- a register tile: for a reduction whose operands are each broadcast along a different output dim (a matmul, a
  convolution), that other dim is upcast too, so each loaded value feeds several multiply-adds;
- unrolled reduce loops, with one vector accumulator per unrolled vector lane group when the vector dim is reduced;
- staging: an operand read with a large stride (B of A @ B) is copied once per tile column into a contiguous local
  array and reused by every row tile; the loop order puts the rows innermost for that;
- a convolution whose rows of output pixels take only narrow vectors vectorizes over output channels instead,
  its weights staged once per channel block (weights stationary: channel_vector_plan);
- the output loop split across threads.
`search.py` tries variations of these choices when BEAM is set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tinygrad_core.codegen.lower import Plan, _index_of
from tinygrad_core.codegen.symbolic import Lin, Never
from tinygrad_core.kernel import BufferSpec, Kernel, KNode
from tinygrad_core.ops import Ops
from tinygrad_core.view import ShapeTracker

if TYPE_CHECKING:
    from tinygrad_core.codegen.cstyle import CStyleRenderer
    from tinygrad_core.runtime import Capabilities

STAGE_LIMIT = 256 * 1024  # bytes of one staged tile: stays in L2
PRECOMPUTE_MIN = 16  # an operand broadcast along an output dim this long is computed once (precompute_operands)
GROUP_MIN = 32  # reduce dims at least this long get a group reduction where the renderer has shared memory


@dataclass
class Access:
    buf: int
    itemsize: int
    strides: list[int | None]  # per dim; None: not affine in that dim (a multi-view or masked walk)


def _strides(st: ShapeTracker, dims: list[Lin], shape: tuple[int, ...]) -> list[int | None]:
    """How `st` (over the loop space, or its output with reduce dims at 1) walks memory along each dim; None where
    it is not affine in that dim (a multi-view or masked walk)."""
    idx, valid = _index_of(
        st, dims if st.shape == shape else [d if n != 1 else Lin.num(0) for d, n in zip(dims, st.shape)]
    )
    if isinstance(valid, Never):
        return [0] * len(dims)  # masked out everywhere: reads nothing
    strides: list[int | None] = []
    for i in range(len(dims)):
        coef = idx.coef(f"d{i}")
        masked = any(f"d{i}" in c[0].vars for c in valid)
        strides.append(None if coef is None or masked else coef)
    return strides


def accesses(kernel: Kernel) -> tuple[list[Access], Access]:
    """How the reduce-side loads (or all loads, without a reduce or in a row kernel) and the store walk each dim."""
    shape = kernel.full_shape
    dims = [Lin.var(f"d{i}", n) for i, n in enumerate(shape)]
    root = kernel.reduce if kernel.reduce is not None and not kernel.writes_rows else kernel.ast

    def walk(node: KNode) -> Access:
        return Access(node.arg[0], node.dtype.itemsize, _strides(node.arg[1], dims, shape))

    loads = [walk(n) for n in root.toposort() if n.op is Ops.LOAD]
    return loads, walk(kernel.ast)


def _scalar_side_ops(kernel: Kernel, vector: int, tile: int) -> int:
    """ALU ops under the reduction that the tile dim moves but the vector dim does not: per-row scalar work."""
    dims = [Lin.var(f"d{i}", n) for i, n in enumerate(kernel.full_shape)]
    moves: dict[int, set[int]] = {}
    count = 0
    assert kernel.reduce is not None
    for node in kernel.reduce.src[0].toposort():
        if node.op in (Ops.LOAD, Ops.CONST):
            idx, valid = _index_of(node.arg[1], dims)
            conds = valid if isinstance(valid, tuple) else ()
            names = idx.vars.union(*(c[0].vars for c in conds))
            moves[id(node)] = {d for d in (vector, tile) if f"d{d}" in names}
        else:
            moves[id(node)] = set().union(*(moves[id(s)] for s in node.src))
            count += moves[id(node)] == {tile}
    return count


def _divisor(size: int, wanted: list[int]) -> int:
    return next((u for u in wanted if u <= size and size % u == 0), 1)


def group_plan(kernel: Kernel) -> Plan | None:
    """GPUs with shared memory: the lanes of a threadgroup split a long last reduce dim (coalesced: neighbouring
    lanes read neighbouring elements) and combine their partials; one threadgroup per iteration of the first output
    loop. None when the reduction is too short to be worth a threadgroup."""
    shape, rdims = kernel.full_shape, list(kernel.reduce_axes)
    if not rdims or shape[rdims[-1]] < GROUP_MIN:
        return None
    group = _divisor(shape[rdims[-1]], [256, 128, 64, 32, 16])
    if group == 1:
        return None
    loops = [d for d in range(len(shape)) if d not in rdims and shape[d] > 1]
    return Plan(group=group, parallel=loops[0] if loops else None)


def choose_plan(kernel: Kernel, renderer: CStyleRenderer, capabilities: Capabilities) -> Plan:
    """The heuristic plan for a canonical kernel, from what the dialect can spell and what the device declares."""
    shape = kernel.full_shape
    if not shape:
        return Plan()
    # group_reductions: a device may have shared memory yet be faster without (OpenCL on a CPU: PoCL)
    if renderer.shared_qualifier and capabilities.group_reductions and not kernel.writes_rows:
        plan = group_plan(kernel)
        if plan is not None:
            return plan
    rdims = list(kernel.reduce_axes)
    odims = [d for d in range(len(shape)) if d not in rdims]
    loads, store = accesses(kernel)
    used = {n.dtype for n in kernel.ast.toposort()}
    vector_ok = all(dt in renderer.vector_dtypes or dt.itemsize == 1 for dt in used)
    itemsize = max((dt.itemsize for dt in used if dt in renderer.vector_dtypes), default=4)
    W = max(1, capabilities.vector_bytes // itemsize) if vector_ok else 1
    contiguous_rows = bool(rdims) and shape[rdims[-1]] % 4 == 0 and all(a.strides[rdims[-1]] in (0, 1) for a in loads)
    if rdims and W > 1 and not kernel.writes_rows and not contiguous_rows:  # those get reduce-dim vectors below
        plan = channel_vector_plan(shape, rdims, odims, loads, W, itemsize, capabilities.threads)
        if plan is not None:
            return plan
    upcast = [1] * len(shape)
    stage: list[int] = []

    def along(d: int, accs: list[Access], allowed: tuple[int, ...]) -> bool:
        return all(a.strides[d] in allowed for a in accs)

    def tile_for(v: int) -> int | None:
        """The output dim over which every load that moves along `v` is broadcast: upcasting it reuses them."""
        moving = [a for a in loads if a.strides[v] != 0]
        return next((d for d in odims if d != v and shape[d] >= 2 and moving and along(d, moving, (0,))), None)

    last = odims[-1] if odims else None
    # a contiguous reduction the full width doesn't divide (24 columns of a convolution's weight gradient) and an
    # output row likewise (28 or 30 columns of a 3x3 convolution) take narrower vectors
    red_width = 1
    if W > 1 and rdims and along(rdims[-1], loads, (0, 1)):
        red_width = next((w for w in (W, W // 2, W // 4) if w >= 4 and shape[rdims[-1]] % w == 0), 1)
    if last is not None and red_width != W and shape[last] % W:
        W = next((w for w in (W // 2, W // 4, W // 8) if w >= 2 and shape[last] % w == 0), W)
    out_ok = W > 1 and last is not None and shape[last] % W == 0 and store.strides[last] == 1
    red_ok = red_width > 1
    vector: int | None = None
    if out_ok and last is not None and along(last, loads, (0, 1)):
        vector = last
    elif out_ok and last is not None and rdims and (tile := tile_for(last)) is not None:
        # x @ W.T: B is read across rows; stage B's tiles so its vectors become contiguous
        gathers = [a for a in loads if a.strides[last] not in (0, 1)]
        footprint = math.prod(shape[d] for d in rdims) * 2 * W * max(a.itemsize for a in gathers)
        # staging works per buffer: a buffer also read along the tile (x @ x.T reads x both ways) can't be staged
        staged = {a.buf for a in gathers}
        fixed = all(a.strides[tile] == 0 for a in loads if a.buf in staged)
        if fixed and footprint <= STAGE_LIMIT and shape[tile] >= 16:
            vector, stage = last, [a.buf for a in gathers]
    if vector is None and red_ok:
        vector, W = rdims[-1], red_width  # contiguous loads beat gathered ones, even in narrower vectors
    elif vector is None and out_ok:
        vector = last  # gathers, but stores and the arithmetic are vectors

    if vector is not None and vector in odims:
        tile = tile_for(vector) if rdims else None
        if tile is not None and _scalar_side_ops(kernel, vector, tile) >= 2:
            # each register-tile row computes scalars (say a relu mask) reused by every vector lane: one wide row
            # keeps that work and the register pressure small next to the multiply-adds
            upcast[vector] = W * _divisor(shape[vector] // W, [8, 7, 6, 5, 4, 3, 2])
        else:
            upcast[vector] = W * _divisor(shape[vector] // W, [2])
            if tile is not None:
                upcast[tile] = _divisor(shape[tile], [6, 4, 3, 2])
                # a second tile over a dim the other operand is broadcast along (a convolution's batch, where the
                # weights are): each loaded weight then feeds this many more multiply-adds; at most 16 accumulators
                room = 16 // (upcast[vector] // W * upcast[tile])
                second = [d for d in odims if d not in (vector, tile) and any(a.strides[d] == 0 for a in loads)]
                if second and room >= 2:
                    upcast[second[0]] = _divisor(shape[second[0]], [n for n in (4, 3, 2) if n <= room])
    elif vector is not None:
        # a reduction along contiguous memory: tile the outputs whose loads broadcast, else unroll into 4 accumulators
        tiles = [d for d in odims if shape[d] >= 2 and any(a.strides[d] == 0 for a in loads)][:2]
        for d, amounts in zip(tiles, ([4, 2], [2])):
            upcast[d] = _divisor(shape[d], amounts)
        upcast[vector] = W * _divisor(shape[vector] // W, [1] if tiles else [4, 2])
    elif rdims:
        for d in [d for d in odims if any(a.strides[d] == 0 for a in loads)][:2]:
            upcast[d] = _divisor(shape[d], [4, 2])
    if rdims and vector != rdims[-1] and math.prod(upcast) <= 96:
        upcast[rdims[-1]] = _divisor(shape[rdims[-1]], [4, 3, 2])

    order = list(odims)
    tile_dim = tile_for(vector) if vector is not None and vector in odims else None
    if rdims and tile_dim is not None and not stage and shape[tile_dim] // upcast[tile_dim] >= 4:
        # stage loads that are broadcast along the tile dim but walk the reduction with a large stride (A @ B's B)
        lanes = math.prod(upcast[d] for d in odims if d != tile_dim)
        footprint = math.prod(shape[d] for d in rdims) * lanes
        for a in loads:
            big_stride = any(a.strides[r] is None or abs(a.strides[r] or 0) >= 64 for r in rdims)
            if a.strides[tile_dim] == 0 and big_stride and footprint * a.itemsize <= STAGE_LIMIT:
                stage.append(a.buf)
    if stage and tile_dim is not None and not kernel.writes_rows:  # staging serves a single reduction pass
        order = [d for d in odims if d != tile_dim] + [tile_dim]
    elif stage:
        stage = []
    loops = [d for d in order if shape[d] // upcast[d] > 1]
    threads = capabilities.threads
    candidates = loops[:-1] if stage else loops
    parallel = next((d for d in candidates if shape[d] // upcast[d] >= threads), candidates[0] if candidates else None)
    width = W if vector is not None else 1
    return Plan(tuple(upcast), vector, width, tuple(order), parallel, tuple(sorted(set(stage))))


def channel_vector_plan(
    shape: tuple[int, ...], rdims: list[int], odims: list[int], loads: list[Access], W: int, itemsize: int, threads: int
) -> Plan | None:
    """A convolution, weights stationary: its row of output pixels (the last output dim) only takes vectors of a
    quarter of the width or less (28 columns), but an output-channel dim takes full ones. Vectors then run over
    channels, the weights (read across channels) are staged once per channel block into a contiguous [reduce][W]
    array, and a register tile of output pixels reuses each staged weight vector, each input value being one
    broadcast. None when the kernel isn't shaped so."""
    last = odims[-1] if odims else None
    if last is None or shape[last] % (W // 2) == 0:
        return None  # half-width vectors along the row are as good (and need no staging)
    footprint = math.prod(shape[d] for d in rdims) * W * itemsize
    for v in odims[:-1]:
        weights = [a for a in loads if a.strides[v] != 0]
        inputs = [a for a in loads if a.strides[v] == 0]
        stationary = all(a.strides[d] == 0 for a in weights for d in odims if d != v)
        if shape[v] % W or not weights or not stationary or footprint > STAGE_LIMIT:
            continue
        if not any(a.strides[last] not in (0, None) for a in inputs):
            continue  # nothing moves along the pixel row: no reuse for a register tile
        registers = 32 if W * itemsize >= 64 else 16  # AVX-512 has 32 vector registers, AVX2 and NEON 16
        tile = next(t for t in range(min(shape[last], registers // 2 - 2), 0, -1) if shape[last] % t == 0)
        upcast = [1] * len(shape)
        upcast[v], upcast[last] = W, tile
        order = (v, *(d for d in odims if d not in (v, last)), last)
        loops = [d for d in order if shape[d] // upcast[d] > 1]
        if not loops or loops[-1] == v:
            return None  # the weights are staged below the channel loop, above a loop they don't move along
        parallel = next((d for d in loops[:-1] if shape[d] // upcast[d] >= threads), loops[0])
        stage = tuple(sorted({a.buf for a in weights if a.strides[v] != 1}))
        return Plan(tuple(upcast), v, W, order, parallel, stage)
    return None


# --- kernels that become several programs: precomputed operands, split reductions ---
Parts = tuple[list[tuple[Kernel, tuple[int, ...]]], list[int]]


def split(kernel: Kernel) -> Parts:
    """The programs one (canonical) kernel runs as: [(kernel, buffer indices)] and the scratch buffers' sizes in bytes;
    indices count the kernel's buffers, then the scratch buffers. A row kernel stays one program."""
    if kernel.writes_rows:
        return [(kernel, tuple(range(len(kernel.bufs))))], []
    return precompute_operands(kernel) or split_reduce(kernel)


def precompute_operands(kernel: Kernel) -> Parts | None:
    """A reduction's operand computed only from values broadcast along an output dim would be recomputed for every
    index of that dim: the relu mask on an operand of a backward matmul is recomputed for every column. Each such
    operand is computed once, by a kernel of its own, into a scratch buffer that the reduction reads instead.

    None when no operand of at least two ALU ops is broadcast along an output dim of PRECOMPUTE_MIN or more."""
    reduce = kernel.reduce
    if reduce is None:
        return None
    shape = kernel.full_shape
    odims = [d for d in range(len(shape)) if d not in kernel.reduce_axes and shape[d] > 1]
    if not any(shape[d] >= PRECOMPUTE_MIN for d in odims):
        return None
    dims = [Lin.var(f"d{i}", n) for i, n in enumerate(shape)]
    fixed: dict[int, set[int]] = {}  # node -> the output dims it does not vary along
    alus: dict[int, int] = {}  # node -> ALU ops in its subtree (shared nodes counted once per use)
    reads_out: dict[int, bool] = {}  # node -> whether it loads the output buffer (a scratch kernel can't)
    for node in reduce.src[0].toposort():
        if node.op in (Ops.LOAD, Ops.CONST):
            strides = _strides(node.arg[1], dims, shape)
            fixed[id(node)] = {d for d in odims if strides[d] == 0}
            alus[id(node)], reads_out[id(node)] = 0, node.op is Ops.LOAD and node.arg[0] == 0
        else:
            fixed[id(node)] = set.intersection(*(fixed[id(src)] for src in node.src))
            alus[id(node)] = 1 + sum(alus[id(src)] for src in node.src)
            reads_out[id(node)] = any(reads_out[id(src)] for src in node.src)

    chosen: list[KNode] = []
    seen: set[int] = set()

    def visit(node: KNode) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        broadcast = any(shape[d] >= PRECOMPUTE_MIN for d in fixed[id(node)])
        if alus[id(node)] >= 2 and broadcast and not reads_out[id(node)]:
            chosen.append(node)
            return
        for src in node.src:
            visit(src)

    visit(reduce.src[0])
    if not chosen:
        return None
    parts: list[tuple[Kernel, tuple[int, ...]]] = []
    scratch: list[int] = []
    loads: dict[int, KNode] = {}
    for node in chosen:
        small = tuple(1 if d in fixed[id(node)] else n for d, n in enumerate(shape))
        bounds = tuple((0, n) for n in small)
        memo: dict[int, KNode] = {}

        def shrunk(n: KNode, bounds: tuple[tuple[int, int], ...] = bounds, memo: dict[int, KNode] = memo) -> KNode:
            if id(n) not in memo:
                arg = (n.arg[0], n.arg[1].shrink(bounds)) if n.op in (Ops.LOAD, Ops.CONST) else n.arg
                memo[id(n)] = KNode(n.op, n.dtype, tuple(shrunk(src) for src in n.src), arg)
            return memo[id(n)]

        index = len(kernel.bufs) + len(scratch)
        spec = BufferSpec(node.dtype, math.prod(small))
        store = KNode(Ops.STORE, node.dtype, (shrunk(node),), (0, ShapeTracker.from_shape(small)))
        parts.append((Kernel(store, (spec, *kernel.bufs[1:])), (index, *range(1, len(kernel.bufs)))))
        scratch.append(spec.size * spec.dtype.itemsize)
        loads[id(node)] = KNode(Ops.LOAD, node.dtype, (), (index, ShapeTracker.from_shape(small).expand(shape)))
    rebuilt: dict[int, KNode] = {}

    def rebuild(node: KNode) -> KNode:
        if id(node) in loads:
            return loads[id(node)]
        if id(node) not in rebuilt:
            rebuilt[id(node)] = KNode(node.op, node.dtype, tuple(rebuild(src) for src in node.src), node.arg)
        return rebuilt[id(node)]

    scratch_specs = tuple(part.bufs[0] for part, _ in parts)
    main = Kernel(rebuild(kernel.ast), (*kernel.bufs, *scratch_specs))
    parts.append((main, tuple(range(len(main.bufs)))))
    return parts, scratch


def split_reduce(kernel: Kernel) -> Parts:
    """A reduction with few outputs and a long reduce dim becomes partial reductions over S slices run in parallel
    (into a scratch buffer), then a second kernel that reduces the S partials and does the rest of the work."""
    whole: Parts = ([(kernel, tuple(range(len(kernel.bufs))))], [])
    reduce = kernel.reduce
    if reduce is None:
        return whole
    shape, rdims = kernel.full_shape, list(kernel.reduce_axes)
    outputs = math.prod(shape[d] for d in range(len(shape)) if d not in rdims)
    first = rdims[0]
    size = shape[first]
    total = math.prod(shape[d] for d in rdims)  # the first reduce dim is split, but all of them are long work
    if outputs * 64 > total or total < 1 << 15 or any(n.op is Ops.LOAD and n.arg[0] == 0 for n in reduce.toposort()):
        return whole
    slices = _divisor(size, [256, 128, 64, 32, 16])
    if slices == 1:
        return whole
    split_shape = (*shape[:first], slices, size // slices, *shape[first + 1 :])
    raxes = tuple(d + 1 for d in rdims)
    memo: dict[int, KNode] = {}

    def partial(node: KNode) -> KNode:
        if id(node) not in memo:
            srcs = tuple(partial(s) for s in node.src)
            arg = node.arg
            if node.op in (Ops.LOAD, Ops.CONST):
                arg = (arg[0], arg[1].reshape(split_shape))
            memo[id(node)] = KNode(node.op, node.dtype, srcs, arg)
        return memo[id(node)]

    part_src = partial(reduce.src[0])
    part_reduce = KNode(Ops.REDUCE, reduce.dtype, (part_src,), (reduce.arg[0], raxes))
    part_out = tuple(1 if d in raxes else n for d, n in enumerate(split_shape))
    scratch = BufferSpec(reduce.dtype, outputs * slices)
    store = KNode(Ops.STORE, reduce.dtype, (part_reduce,), (0, ShapeTracker.from_shape(part_out)))
    first_kernel = Kernel(store, (scratch, *kernel.bufs[1:]))
    # the second kernel: the original, reducing the partials (read as [outputs..., slices]) instead
    scratch_index = len(kernel.bufs)
    final_shape = tuple(slices if d == first else (1 if d in rdims else n) for d, n in enumerate(shape))
    load = KNode(Ops.LOAD, reduce.dtype, (), (scratch_index, ShapeTracker.from_shape(final_shape)))
    new_reduce = KNode(Ops.REDUCE, reduce.dtype, (load,), (reduce.arg[0], (first,)))
    swap: dict[int, KNode] = {}

    def rebuild(node: KNode) -> KNode:
        if node is reduce:
            return new_reduce
        if id(node) not in swap:
            swap[id(node)] = KNode(node.op, node.dtype, tuple(rebuild(s) for s in node.src), node.arg)
        return swap[id(node)]

    second = Kernel(rebuild(kernel.ast), (*kernel.bufs, scratch))
    first_bufs = (scratch_index, *range(1, len(kernel.bufs)))
    return [(first_kernel, first_bufs), (second, tuple(range(len(kernel.bufs) + 1)))], [
        scratch.size * scratch.dtype.itemsize
    ]
