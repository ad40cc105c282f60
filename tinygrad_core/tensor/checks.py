"""Deferred checks: errors only the data can reveal (an index out of range, a class label past the last class, an
integer division by zero), raised without a pass or a wait of their own.

An op that can go wrong queues a one-element boolean tensor, true when something is wrong, with the error to raise
and the op's result. While that result is alive (held by the user or by a graph still to run), the flag is computed
with the next realize() of this thread, as one more small kernel in its schedule, and read when this thread next
reads a result to the host (numpy(), item(), tolist()): like a device-side assert, the error surfaces at the next
synchronisation, not at the line that caused it. A result dropped before it was computed takes its check with it.
Under TinyJit the flag kernels are part of the recording, and every replay queues them again. CHECK_OOB=0 turns the
checks off for speed: the ops then give what their arithmetic gives (0 for an index out of range), as tinygrad does.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tinygrad_core import flags
from tinygrad_core.multi import MultiLazyBuffer

if TYPE_CHECKING:
    from tinygrad_core.lazy import LazyBuffer
    from tinygrad_core.tensor.tensor import Tensor

MAX_PENDING = 64  # a loop that never reads a result still has its flags read this often


@dataclass(frozen=True)
class Check:
    flag: Tensor  # one bool: something is wrong
    error: type[Exception]
    message: str
    result: weakref.ref[LazyBuffer] | None  # what the op produced; None once its flag is computed (or replayed)

    def abandoned(self) -> bool:
        return self.result is not None and self.result() is None and not self.flag.lazydata.realized


class _Pending(threading.local):
    checks: list[Check]
    recording: list[list[Check]]  # TinyJit captures in progress, innermost last

    def __init__(self) -> None:
        self.checks, self.recording = [], []


_pending = _Pending()


def defer(bad: Tensor, error: type[Exception], message: str, result: Tensor) -> None:
    """Raise `error(message)` at this thread's next read of a result if `bad` (a tensor of bools) has a true
    element, as long as `result` (what the op computed) is alive to be computed."""
    if not flags.CHECK_OOB.value or bad.numel() == 0:
        return
    flag, lazy = bad.detach().any().reshape(1), result.lazydata
    if isinstance(lazy, MultiLazyBuffer):  # on several devices: the graph keeps its parts alive, not the wrapper
        lazy = lazy.lbs[0]
    if isinstance(flag.lazydata, MultiLazyBuffer):  # replicated by the reduction: read on its first device
        flag = flag.to(flag.lazydata.device[0])
    check = Check(flag, error, message, weakref.ref(lazy))
    _pending.checks.append(check)
    if _pending.recording:
        _pending.recording[-1].append(Check(check.flag, error, message, None))
    if len(_pending.checks) > MAX_PENDING:
        verify()


def flags_to_realize() -> list[Tensor]:
    """The queued flags not yet computed whose results are alive: realize() computes them with its work."""
    _pending.checks = [check for check in _pending.checks if not check.abandoned()]
    return [check.flag for check in _pending.checks if not check.flag.lazydata.realized]


def verify() -> None:
    """Read every queued flag (computing those not yet computed) and raise the first error found."""
    checks = [check for check in _pending.checks if not check.abandoned()]
    _pending.checks = []
    unrealized = [check.flag for check in checks if not check.flag.lazydata.realized]
    if unrealized:
        unrealized[0].realize(*unrealized[1:])
    for check in checks:
        buffer = check.flag.lazydata.base.buffer
        if buffer is not None and buffer.numpy().any():
            raise check.error(check.message)


def record() -> list[Check]:
    """Start collecting the checks queued while TinyJit captures; stop_recording() ends it."""
    _pending.recording.append([])
    return _pending.recording[-1]


def stop_recording() -> None:
    _pending.recording.pop()


def replayed(checks: list[Check]) -> None:
    """A TinyJit replay recomputed these flags in their captured buffers: queue them again."""
    _pending.checks.extend(checks)
