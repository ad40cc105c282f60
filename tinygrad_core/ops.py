"""The op set and the plugin API version: the contract between the core and every backend.

Adding, removing or changing the meaning of an op is an API change for every backend: bump PLUGIN_API
(major for a change old backends can't run, minor for an addition they may ignore) and extend the
conformance kit in the same change.
"""

from __future__ import annotations

from enum import Enum, auto

# (major, minor). A backend declaring another major, or a newer minor than ours, is refused at registration.
PLUGIN_API: tuple[int, int] = (2, 2)


class Ops(Enum):
    __hash__ = object.__hash__  # members are singletons: identity hashing, at C speed (Enum's hashes the name)

    # --- unary: one source, same dtype (CAST/BITCAST: the node's dtype) ---
    EXP2 = auto()
    LOG2 = auto()
    SIN = auto()
    SQRT = auto()
    RECIP = auto()
    NEG = auto()
    TRUNC = auto()
    CAST = auto()
    BITCAST = auto()
    # --- binary: two sources of one dtype; CMPLT and CMPNE give bool ---
    ADD = auto()
    MUL = auto()
    IDIV = auto()  # integer division truncating toward zero, like C
    MOD = auto()  # remainder with the sign of the dividend, like C's % and fmod
    MAX = auto()
    CMPLT = auto()
    CMPNE = auto()
    AND = auto()
    OR = auto()
    XOR = auto()
    SHL = auto()
    SHR = auto()
    # --- ternary ---
    WHERE = auto()  # WHERE(cond: bool, a, b)
    # --- reduce: the REDUCE node's arg is (SUM | MAX, axes) ---
    SUM = auto()
    # MAX above doubles as the reduce op
    # --- movement: views, never copies; they never reach a backend ---
    RESHAPE = auto()
    PERMUTE = auto()
    EXPAND = auto()
    PAD = auto()
    SHRINK = auto()
    FLIP = auto()
    # --- buffers ---
    CONST = auto()
    EMPTY = auto()
    COPY = auto()
    CONTIGUOUS = auto()
    ASSIGN = auto()
    # --- kernel IR nodes (kernel.py) ---
    LOAD = auto()
    STORE = auto()
    REDUCE = auto()


UNARY = frozenset({Ops.EXP2, Ops.LOG2, Ops.SIN, Ops.SQRT, Ops.RECIP, Ops.NEG, Ops.TRUNC, Ops.CAST, Ops.BITCAST})
BINARY = frozenset(
    {Ops.ADD, Ops.MUL, Ops.IDIV, Ops.MOD, Ops.MAX, Ops.CMPLT, Ops.CMPNE} | {Ops.AND, Ops.OR, Ops.XOR, Ops.SHL, Ops.SHR}
)
TERNARY = frozenset({Ops.WHERE})
ALU = UNARY | BINARY | TERNARY
REDUCE_OPS = frozenset({Ops.SUM, Ops.MAX})
MOVEMENT = frozenset({Ops.RESHAPE, Ops.PERMUTE, Ops.EXPAND, Ops.PAD, Ops.SHRINK, Ops.FLIP})
BUFFER_OPS = frozenset({Ops.CONST, Ops.EMPTY, Ops.COPY, Ops.CONTIGUOUS, Ops.ASSIGN})
COMPARISONS = frozenset({Ops.CMPLT, Ops.CMPNE})
