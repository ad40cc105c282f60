"""The scheduler: lazy graph -> list of kernels. Every fusion decision lives here and nowhere else.

Rules, in order:
1. A base becomes a kernel output (is "realized") when it is asked for, when it is a REDUCE, or when it is a
   buffer op (CONTIGUOUS, COPY, ASSIGN). Everything else, elementwise ops and constants, is inlined into every
   kernel that reads it, through whatever views lie in between: elementwise chains fuse, and elementwise work
   before a reduction fuses into the reduction's kernel.
2. A REDUCE read by exactly one kernel, which is elementwise, reads the reduction in its own shape (no expand)
   and fuses no other reduction, is inlined into that kernel: elementwise work after a reduction fuses too.
3. An ASSIGN whose value reads the target's memory through anything but the identity view first computes the
   value into a fresh buffer, so no kernel reads elements it has already overwritten.
4. A kernel that reads a buffer's old contents runs before the ASSIGN that overwrites it.
5. An elementwise base read through a masked (padded) view is realized first when its inlined ops don't map
   0 to 0 (EXP2, LOG2, RECIP, NOT, float MOD): inlined, they would fill the padding with exp(0), 1/0, ... not 0.
6. ASSIGNs that would each have to run before another (each reads what another overwrites, as the updates of two
   parameters whose gradients read each other do) first compute their values into buffers of their own; each
   ASSIGN then only copies, after every reader of the old contents.
7. A REDUCE read by exactly one kernel that loops over the REDUCE's own input shape (elementwise there, or reducing
   the same axes) and reads it only broadcast back along the reduced axes joins that kernel: a row kernel
   (kernel.py), one pass per reduction and one that writes the row while it is in cache. Softmax, log_softmax and
   layernorm become one kernel each. Rows longer than ROW_LIMIT elements, and backends declaring a plugin API
   older than 2.1, keep separate kernels. Applied before rule 2, which then skips kernels that took a row.

realize() remembers recent schedules by the graph's structure (see the schedule cache at the end), so a training
loop without TinyJit applies these rules once, not every step.
"""

from __future__ import annotations

import contextlib
import heapq
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tinygrad_core import flags
from tinygrad_core.devices import Device
from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.errors import DeviceError
from tinygrad_core.helpers import GlobalCounters, toposort
from tinygrad_core.kernel import BufferSpec, Kernel, KNode
from tinygrad_core.lazy import LazyBuffer
from tinygrad_core.multi import MultiLazyBuffer, parts
from tinygrad_core.ops import ALU, Ops
from tinygrad_core.runtime import Buffer
from tinygrad_core.view import ShapeTracker

ROW_KERNELS_API = (2, 1)  # the plugin API that added row kernels (kernel.py): older backends never get one
ROW_LIMIT = 1 << 16  # rule 7: elements of one row, read once per pass of a row kernel, so it must stay in cache


@dataclass(frozen=True, eq=False)
class ScheduleItem:
    """One step of a schedule: a kernel over `bufs` (bufs[0] written), or a COPY of bufs[1] into bufs[0]."""

    device: str
    bufs: tuple[Buffer, ...]
    kernel: Kernel | None  # None for a COPY between devices


class _KernelBuilder:
    """Builds the AST of one kernel, inlining unrealized bases through the views between them."""

    def __init__(
        self,
        out: LazyBuffer,
        realized: set[LazyBuffer],
        fused: set[LazyBuffer],
        shape: tuple[int, ...] | None = None,
        rows: frozenset[LazyBuffer] = frozenset(),
    ):
        self.realized, self.fused, self.rows = realized, fused, rows
        # the loop space: the output's shape, or the fused reduction's (same elements, reduce axes kept as 1s)
        shape = out.shape if shape is None else shape
        self.out = out
        self.inputs: list[LazyBuffer] = []  # realized bases read, in buffer order after the output
        self.reads: list[tuple[LazyBuffer, ShapeTracker]] = []  # realized bases read, and through which view
        self.memo: dict[tuple[int, ShapeTracker], KNode] = {}
        value = self.build_base(out, ShapeTracker.from_shape(shape), is_root=True)
        self.ast = KNode(Ops.STORE, out.dtype, (value,), (0, ShapeTracker.from_shape(shape)))

    def build(self, lb: LazyBuffer, st: ShapeTracker) -> KNode:
        """The node for `lb` (any view) read through `st`, whose innermost space is lb's shape."""
        return self.build_base(lb.base, lb.st + st)

    def build_base(self, base: LazyBuffer, st: ShapeTracker, is_root: bool = False) -> KNode:
        key = (id(base), st)
        if key not in self.memo:
            self.memo[key] = self._build_base(base, st, is_root)
        return self.memo[key]

    def _build_base(self, base: LazyBuffer, st: ShapeTracker, is_root: bool) -> KNode:
        if not is_root and (base.op is None or base in self.realized):
            self.reads.append((base, st))
            if base not in self.inputs:
                self.inputs.append(base)
            return KNode(Ops.LOAD, base.dtype, (), (1 + self.inputs.index(base), st))
        if base.op is Ops.CONST:
            return KNode(Ops.CONST, base.dtype, (), (base.arg, st))
        if base.op is Ops.REDUCE:
            # fused by rule 2 (read in its own shape) or rule 7 (read broadcast along its axes: a row kernel's)
            assert is_root or (base in self.fused and st.contiguous) or base in self.rows, "unfusable reduce"
            (src,) = base.srcs
            return KNode(Ops.REDUCE, base.dtype, (self.build(src, ShapeTracker.from_shape(src.shape)),), base.arg)
        if base.op in (Ops.CONTIGUOUS, Ops.ASSIGN):
            return self.build(base.srcs[0], st)
        assert base.op in ALU, f"cannot inline {base.op}"
        srcs = tuple(self.build(src, st) for src in base.srcs)
        return KNode(base.op, base.dtype, srcs, base.arg)


def _nonzero_at_zero(base: LazyBuffer, realized: set[LazyBuffer], memo: dict[LazyBuffer, bool]) -> bool:
    """Whether `base`, inlined with all its inputs read as 0 (outside a view's mask), may compute something != 0."""
    if base.op is None or base in realized or base.op not in ALU:
        return False  # a load, a constant (0 outside masks), or a buffer of its own
    if base not in memo:
        own = base.op in (Ops.EXP2, Ops.LOG2, Ops.RECIP)
        own = own or (base.op is Ops.NEG and base.dtype == dtypes.bool)
        own = own or (base.op is Ops.MOD and dtypes.is_float(base.dtype))  # fmod(0, 0) is nan
        memo[base] = own or any(_nonzero_at_zero(src.base, realized, memo) for src in base.srcs)
    return memo[base]


def _walk(outs: list[LazyBuffer]) -> list[LazyBuffer]:
    """Every unrealized base reachable from `outs`, sources before users."""
    roots = [lb.base for lb in outs if lb.base.op is not None]
    return toposort(roots, lambda base: [src.base for src in base.srcs if src.base.op is not None])


def create_schedule(outs: list[LazyBuffer]) -> list[ScheduleItem]:
    bases = _walk(outs)
    wanted = {lb.base for lb in outs}
    realized = {b for b in bases if b in wanted or b.op in (Ops.REDUCE, Ops.CONTIGUOUS, Ops.COPY, Ops.ASSIGN)}

    # rule 5: a padded view of an op that doesn't map 0 to 0 reads a buffer, whose padding is real zeros
    unsafe: dict[LazyBuffer, bool] = {}
    for base in bases:
        for src in base.srcs:
            if any(view.mask is not None for view in src.st.views) and _nonzero_at_zero(src.base, realized, unsafe):
                realized.add(src.base)

    # rule 3: make ASSIGN values that read their own target through a view into kernels of their own
    for base in list(bases):
        if base.op is Ops.ASSIGN:
            reads = _KernelBuilder(base, realized, set()).reads
            if any(read.buffer is base.buffer and not st.contiguous for read, st in reads):
                _value_into_own_buffer(base, bases, realized)

    split: set[LazyBuffer] = set()
    while True:
        items, outputs, inputs = _kernels(bases, wanted, set(realized))
        order, stuck = _readers_before_assigns(items, outputs, inputs)
        if not stuck:
            return order
        # rule 6: ASSIGNs that must each run before another (each reads what another overwrites) compute their
        # values into buffers of their own; the ASSIGNs then only copy, after every reader of the old contents
        splittable = [base for base in stuck if base.op is Ops.ASSIGN and base not in split]
        if not splittable:
            raise RuntimeError("internal: a kernel reads both the old and the assigned contents of one buffer")
        for base in splittable:
            _value_into_own_buffer(base, bases, realized)
            split.add(base)


def _value_into_own_buffer(assign: LazyBuffer, bases: list[LazyBuffer], realized: set[LazyBuffer]) -> None:
    """Rules 3 and 6: the ASSIGN's value becomes a kernel of its own and the ASSIGN copies it into the target. The
    other kernels of this schedule that read the ASSIGN read that copy instead, so a kernel may read a buffer's old
    contents and its new ones (the copy) at once."""
    (value,) = assign.srcs
    if value.op is Ops.CONTIGUOUS and value in realized:  # already a buffer of its own (rule 3, or the user's)
        copy = value
    else:
        # NOTE: a new CONTIGUOUS node, not the value's base: that base may be the target itself
        copy = LazyBuffer(value.device, ShapeTracker.from_shape(value.shape), value.dtype, Ops.CONTIGUOUS, (value,))
        assign.srcs = (copy,)
        bases.insert(bases.index(assign), copy)
        realized.add(copy)
    for base in bases:
        if base is not assign and any(src.base is assign for src in base.srcs):
            base.srcs = tuple(
                (copy if src is assign else LazyBuffer(src.device, src.st, src.dtype, base=copy))
                if src.base is assign
                else src
                for src in base.srcs
            )


def _kernels(
    bases: list[LazyBuffer], wanted: set[LazyBuffer], realized: set[LazyBuffer]
) -> tuple[list[ScheduleItem], list[LazyBuffer], list[list[LazyBuffer]]]:
    """The schedule items of the realized bases (in graph order), their bases and the bases each one reads."""
    fused: set[LazyBuffer] = set()
    builders = {
        base: _KernelBuilder(base, realized, fused) for base in bases if base in realized and base.op is not Ops.COPY
    }
    readers = _readers(builders)
    # rule 7: a reduction read only by one kernel over its own rows, broadcast along its axes, joins that kernel
    rows: frozenset[LazyBuffer] = frozenset()
    row_kernels: set[LazyBuffer] = set()  # kernels that took a row reduction: their loop space is now fixed
    changed = True
    while changed:
        changed = False
        for base in bases:
            if base.op is not Ops.REDUCE or base not in realized or base in wanted:
                continue
            if Device.api_of(base.device) < ROW_KERNELS_API:
                continue
            reading = readers.get(base, [])
            if len({reader for reader, _ in reading}) == 1 and _row_fits(base, reading):
                reader = reading[0][0]
                realized.discard(base)
                rows = rows | {base}
                row_kernels.add(reader)
                del builders[base]
                builders[reader] = _KernelBuilder(reader, realized, fused, rows=rows)
                readers, changed = _readers(builders), True
    # rule 2: fuse a reduction forward into its only reader
    hosts: dict[LazyBuffer, LazyBuffer] = {}  # kernel -> the reduction fused into it
    for base in bases:
        reading = readers.get(base, [])
        kernels = {reader for reader, _ in reading}
        if base.op is not Ops.REDUCE or base in wanted or len(kernels) != 1:
            continue
        (reader,) = kernels
        elementwise = reader.op in ALU or reader.op in (Ops.CONTIGUOUS, Ops.ASSIGN)
        same_elements = reader.size == base.size and all(st.contiguous for _, st in reading)
        if elementwise and same_elements and reader not in hosts and reader not in row_kernels:
            hosts[reader] = base
            fused.add(base)
            realized.discard(base)

    items = []
    outputs: list[LazyBuffer] = []
    inputs: list[list[LazyBuffer]] = []
    for base in bases:
        if base not in realized:
            continue
        outputs.append(base)
        if base.op is Ops.COPY:
            (src,) = base.srcs
            inputs.append([src.base])
            items.append(ScheduleItem(base.device, (_with_buffer(base).buffer, src.base.buffer), None))  # type: ignore[arg-type]
            continue
        # only a kernel that took a reduction differs from the one built above
        builder = _KernelBuilder(base, realized, fused, hosts[base].shape, rows) if base in hosts else builders[base]
        inputs.append(builder.inputs)
        bufs = tuple(_with_buffer(b).buffer for b in (base, *builder.inputs))
        kernel = Kernel(builder.ast, tuple(BufferSpec(buf.dtype, buf.size) for buf in bufs))  # type: ignore[union-attr]
        _check_dtypes(base.device, kernel.dtypes)
        items.append(ScheduleItem(base.device, bufs, kernel))  # type: ignore[arg-type]
    return items, outputs, inputs


def _readers(builders: dict[LazyBuffer, _KernelBuilder]) -> dict[LazyBuffer, list[tuple[LazyBuffer, ShapeTracker]]]:
    """For each realized base read by a kernel: (the kernel's base, the view it reads through), per read."""
    readers: dict[LazyBuffer, list[tuple[LazyBuffer, ShapeTracker]]] = {}
    for base, builder in builders.items():
        for read, st in builder.reads:
            readers.setdefault(read, []).append((base, st))
    return readers


def _row_fits(reduce: LazyBuffer, reading: list[tuple[LazyBuffer, ShapeTracker]]) -> bool:
    """Rule 7's test: the reader loops over the reduction's input shape (elementwise there, or reducing the same
    axes), reads the reduction only broadcast back over that shape, and a row is short enough to stay in cache."""
    reader = reading[0][0]
    (src,) = reduce.srcs
    axes = reduce.arg[1]
    space = reader.srcs[0].shape if reader.op is Ops.REDUCE else reader.shape
    if reader.op is Ops.REDUCE and reader.arg[1] != axes:
        return False
    if (reader.op not in ALU and reader.op not in (Ops.REDUCE, Ops.CONTIGUOUS, Ops.ASSIGN)) or src.shape != space:
        return False
    broadcast = ShapeTracker.from_shape(reduce.shape).expand(space)
    row = 1
    for axis in axes:
        row *= space[axis]
    return row <= ROW_LIMIT and all(st == broadcast for _, st in reading)


def _readers_before_assigns(
    items: list[ScheduleItem], outputs: list[LazyBuffer], inputs: list[list[LazyBuffer]]
) -> tuple[list[ScheduleItem], list[LazyBuffer]]:
    """Rule 4: a kernel that reads a buffer's old contents runs before the ASSIGN that overwrites that buffer.

    No data edge records this (the reader reads the old base, the ASSIGN writes the same Buffer), so the kernels are
    reordered: data dependencies plus these edges, keeping the original order wherever it is free. Returns the
    order and the bases that could not be ordered (empty unless the edges form a cycle: see rule 6).
    """
    position = {id(base): i for i, base in enumerate(outputs)}
    overwrites = {id(base.buffer): i for i, base in enumerate(outputs) if base.op is Ops.ASSIGN}
    before: list[set[int]] = [{position[id(src)] for src in srcs if id(src) in position} for srcs in inputs]
    for i, srcs in enumerate(inputs):
        for src in srcs:
            j = overwrites.get(id(src.buffer))
            if j is not None and j != i and src is not outputs[j]:
                before[j].add(i)
    users: list[list[int]] = [[] for _ in items]
    for j, preds in enumerate(before):
        for i in preds:
            users[i].append(j)
    waiting = [len(preds) for preds in before]
    ready = [i for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for j in users[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, j)
    done = set(order)
    return [items[i] for i in order], [outputs[i] for i in range(len(items)) if i not in done]


def _with_buffer(base: LazyBuffer) -> LazyBuffer:
    if base.buffer is None:
        base.buffer = Buffer(Device[base.device], base.size, base.dtype)
    return base


def _check_dtypes(device: str, used: set[DType]) -> None:
    dev = Device[device]
    missing = sorted((d for d in used if d not in dev.dtypes), key=lambda d: d.priority)
    if missing:
        names = ", ".join(d.name for d in missing)
        raise DeviceError(
            f"{device} does not support {names}: {dev.missing_dtype_reason}; cast first or use another device"
        )


# --- running ---
class _Captures(threading.local):
    stack: list[list[ScheduleItem]]  # recordings in progress (TinyJit) in this thread, innermost last

    def __init__(self) -> None:
        self.stack = []


_captures = _Captures()


@contextlib.contextmanager
def capture() -> Iterator[list[ScheduleItem]]:
    """Record every item this thread runs inside the block, in order (how TinyJit learns what a function launches);
    another thread's kernels never enter this thread's recording."""
    items: list[ScheduleItem] = []
    _captures.stack.append(items)
    try:
        yield items
    finally:
        _captures.stack.pop()


def capturing() -> bool:
    """Whether this thread is recording for TinyJit."""
    return bool(_captures.stack)


def run_schedule(items: list[ScheduleItem]) -> None:
    if _captures.stack:
        _captures.stack[-1].extend(items)

    debug = flags.DEBUG.value
    for item in items:
        start = time.perf_counter()
        if item.kernel is None:
            dest, src = item.bufs
            if src.size:
                dest.copyin(src.numpy())
            else:
                dest.handle  # noqa: B018  (allocate the empty destination)
            GlobalCounters.add(0, 0, src.nbytes)
        elif item.kernel.out_shape and item.bufs[0].size == 0:
            item.bufs[0].handle  # noqa: B018
        else:
            device = Device[item.device]
            device.run(item.kernel, [buf.handle for buf in item.bufs])
            GlobalCounters.add(1, item.kernel.flops, item.kernel.nbytes)
            if debug >= 2:
                device.synchronize()
        if debug >= 2:
            name = "copy" if item.kernel is None else item.kernel.name
            elapsed = time.perf_counter() - start
            GlobalCounters.time_sum_s += elapsed
            print(f"*** {item.device:10s} {name:30s} bufs {len(item.bufs)} {elapsed * 1e6:9.1f} us")
            if item.kernel is not None and debug >= 3:
                print(item.kernel)


# --- the schedule cache: a training loop without TinyJit schedules the same graph, over new buffers, every step ---
@dataclass(frozen=True)
class _Template:
    """A schedule with its buffers turned into slots. Slot i < len(nodes) is the buffer of node i (see _structure),
    made by _with_buffer as create_schedule makes it; the slots after them are scratch buffers (rule 3's copies),
    allocated anew for every use. The Kernels hold BufferSpecs only, so they are shared by every use."""

    items: tuple[tuple[str, tuple[int, ...], Kernel | None], ...]
    scratch: tuple[tuple[str, int, DType], ...]
    dtypes: tuple[tuple[str, frozenset[DType]], ...]  # per device, what its kernels compute with

    @staticmethod
    def of(items: list[ScheduleItem], nodes: list[LazyBuffer]) -> _Template:
        slots: dict[int, int] = {}
        for i, node in enumerate(nodes):
            if node.buffer is not None:
                slots.setdefault(id(node.buffer), i)  # nodes sharing a buffer share it again on every hit (the key)
        scratch: list[tuple[str, int, DType]] = []
        used: dict[str, set[DType]] = {}
        rows = []
        for item in items:
            for buf in item.bufs:
                if id(buf) not in slots:
                    slots[id(buf)] = len(nodes) + len(scratch)
                    scratch.append((buf.device, buf.size, buf.dtype))
            rows.append((item.device, tuple(slots[id(buf)] for buf in item.bufs), item.kernel))
            if item.kernel is not None:
                used.setdefault(item.device, set()).update(item.kernel.dtypes)
        dtypes = tuple((device, frozenset(d)) for device, d in used.items())
        return _Template(tuple(rows), tuple(scratch), dtypes)

    def supported(self) -> bool:
        """Whether the devices still compute every dtype used (a backend registered again may have fewer)."""
        return all(used <= Device[device].dtypes for device, used in self.dtypes)

    def items_for(self, nodes: list[LazyBuffer]) -> list[ScheduleItem]:
        scratch = [Buffer(Device[device], size, dtype) for device, size, dtype in self.scratch]

        def buffer(slot: int) -> Buffer:
            return _with_buffer(nodes[slot]).buffer if slot < len(nodes) else scratch[slot - len(nodes)]  # type: ignore[return-value]

        return [ScheduleItem(device, tuple(buffer(s) for s in slots), kernel) for device, slots, kernel in self.items]


def _structure(outs: list[LazyBuffer]) -> tuple[Any, list[LazyBuffer], int]:
    """A key equal for graphs that create_schedule treats alike, the nodes it numbers and how many of them are bases:
    every unrealized base behind `outs` (sources before users), then the realized bases they read (leaves), in order
    of first use. One walk does it all: in a training loop without TinyJit this runs for every realize.

    The key holds everything the scheduler reads: each base's op, arg, dtype, device and shape and each source's
    node and view (masks decide rule 5, strides rules 2 and 3); each leaf's dtype, device and shape; which bases
    are asked for; and which nodes share a Buffer object, since rules 3 and 4 compare buffers by identity and an
    ASSIGN arrives holding its target's. Buffers are only numbered, so the same graph over new memory hits. A source
    is numbered i >= 0 for the i-th base and -1 - k for the k-th leaf.
    """
    number: dict[LazyBuffer, int] = {}
    bases: list[LazyBuffer] = []
    leaves: list[LazyBuffer] = []
    buffers: dict[int, int] = {}
    specs: list[tuple[str, int, DType]] = []  # per numbered buffer

    def buffer_number(buf: Buffer | None) -> int | None:
        if buf is None:
            return None
        i = buffers.get(id(buf))
        if i is None:
            i = buffers[id(buf)] = len(specs)
            specs.append((buf.device, buf.size, buf.dtype))
        return i

    rows, leaf_rows = [], []
    seen: set[LazyBuffer] = set()
    stack: list[tuple[LazyBuffer, bool]] = [(lb.base, False) for lb in outs if lb.base.op is not None]
    while stack:
        node, expanded = stack.pop()
        if not expanded:
            if node not in seen:
                seen.add(node)
                stack.append((node, True))
                for src in node.srcs:
                    src_base = src.base
                    if src_base.op is not None and src_base not in seen:
                        stack.append((src_base, False))
            continue
        srcs = []
        for src in node.srcs:
            src_base = src.base
            i = number.get(src_base)
            if i is None:  # realized: a leaf of this graph
                i = number[src_base] = -1 - len(leaves)
                leaves.append(src_base)
                leaf_rows.append((src_base.dtype, src_base.device, src_base.shape, buffer_number(src_base.buffer)))
            srcs.append((i, src.st))
        number[node] = len(bases)
        bases.append(node)
        arg = repr(node.arg) if node.op is Ops.CONST else node.arg  # repr: NaN must equal itself, -0.0 differ from 0.0
        rows.append((node.op, arg, node.dtype, node.device, node.shape, buffer_number(node.buffer), tuple(srcs)))
    wanted = tuple(sorted({number[lb.base] for lb in outs}))
    return (tuple(rows), tuple(leaf_rows), tuple(specs), wanted), bases + leaves, len(bases)


class ScheduleCache:
    """Templates of recent schedules by graph structure; the least recently used goes first once `maxsize` are held.

    Entries are filed under the key's hash and hold the key itself to compare: hashing a large graph's key costs
    about as much as building it, and an OrderedDict keyed by the key would hash it again to reorder it."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self.templates: OrderedDict[int, tuple[Any, _Template]] = OrderedDict()
        self.hits = self.misses = 0
        self._lock = threading.Lock()  # threads training side by side share it

    def get(self, key: Any) -> _Template | None:
        digest = hash(key)
        with self._lock:
            entry = self.templates.get(digest)
            if entry is None or entry[0] != key or not entry[1].supported():
                self.misses += 1
                return None
            self.hits += 1
            self.templates.move_to_end(digest)
            return entry[1]

    def put(self, key: Any, template: _Template) -> None:
        digest = hash(key)
        with self._lock:
            self.templates[digest] = (key, template)  # another key of this hash is replaced: a miss, not an error
            self.templates.move_to_end(digest)
            if len(self.templates) > self.maxsize:
                self.templates.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self.templates.clear()
            self.hits = self.misses = 0


schedule_cache = ScheduleCache(maxsize=256)


def realize(*lbs: LazyBuffer | MultiLazyBuffer) -> None:
    """Compute every unrealized base behind `lbs` and mark it realized (its sources are dropped). A value on several
    devices (multi.py) is its LazyBuffers, one per device, all scheduled together."""
    pending = [lb for value in lbs for lb in parts(value) if not lb.realized]
    if not pending:
        return
    key, nodes, count = _structure(pending)
    template = schedule_cache.get(key)
    if template is None:
        items = create_schedule(pending)
        schedule_cache.put(key, _Template.of(items, nodes))
    else:
        # what create_schedule would build; its one graph edit (rule 3) is moot, as the ASSIGN is realized below
        items = template.items_for(nodes)
    run_schedule(items)
    written = {id(item.bufs[0]) for item in items}
    for base in nodes[:count]:
        if base.buffer is not None and id(base.buffer) in written:
            base.op, base.srcs, base.arg = None, (), None
