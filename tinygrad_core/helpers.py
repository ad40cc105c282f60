"""Small helpers tinygrad users import from `tinygrad.helpers` (getenv, GlobalCounters, Context from flags, argfix)
and the shape arguments of the Tensor API."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar

import numpy as np

from tinygrad_core.errors import ShapeError
from tinygrad_core.flags import Context

__all__ = ["Context", "GlobalCounters", "argfix", "getenv", "new_shape", "toposort"]

T = TypeVar("T")


def argfix(*x: Any) -> tuple[Any, ...]:
    """Accept both f(1, 2) and f((1, 2)): the arguments as one tuple."""
    if x and isinstance(x[0], (tuple, list)):
        if len(x) != 1:
            raise ValueError(f"bad arguments {x}: pass either one sequence or several ints")
        return tuple(x[0])
    return tuple(x)


def new_shape(*shape: Any) -> tuple[int, ...]:
    """The shape of a tensor being created, from f(2, 3) or f((2, 3)): non-negative ints, else a ShapeError."""
    dims = argfix(*shape)
    if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in dims):
        raise ShapeError(f"a tensor's shape needs non-negative ints, got {dims}")
    return tuple(int(d) for d in dims)


def toposort(roots: Iterable[T], children: Callable[[T], Iterable[T]]) -> list[T]:
    """Every node reachable from `roots` once, each after all of its children: a depth-first walk without recursion
    (graphs here are deep), visiting children in the order given, the last root first. Nodes compare by identity."""
    order: list[T] = []
    seen: set[int] = set()
    stack: list[tuple[T, bool]] = [(root, False) for root in roots]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children(node))
    return order


def getenv(key: str, default: Any = 0) -> Any:
    """An environment variable converted to the type of `default` (tinygrad's helper for scripts' own settings).

    `getenv("STEPS", 100)` -> 100 unless STEPS is set, then int(STEPS). Our own flags live in flags.py."""
    raw = os.environ.get(key)
    if raw is None:
        return default
    if isinstance(default, bool):
        return raw.strip().lower() not in ("", "0", "false", "no", "off")
    return type(default)(raw)


class GlobalCounters:
    """What ran since the last reset(): kernels launched, their arithmetic ops, the bytes they moved (every buffer a
    kernel or copy touches, once) and, with DEBUG >= 2, their time. Counted by the scheduler and by TinyJit replays.

    `GlobalCounters.reset(); (Tensor.ones(4) * 2).realize(); GlobalCounters.kernel_count` -> 1"""

    global_ops: ClassVar[int] = 0
    global_mem: ClassVar[int] = 0
    kernel_count: ClassVar[int] = 0
    time_sum_s: ClassVar[float] = 0.0

    @staticmethod
    def reset() -> None:
        GlobalCounters.global_ops = GlobalCounters.global_mem = GlobalCounters.kernel_count = 0
        GlobalCounters.time_sum_s = 0.0

    @staticmethod
    def add(kernels: int, ops: int, mem: int) -> None:
        GlobalCounters.kernel_count += kernels
        GlobalCounters.global_ops += ops
        GlobalCounters.global_mem += mem
