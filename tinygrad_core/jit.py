"""TinyJit: capture the kernels a function launches once, then replay them on new inputs without Python graph work.

The first call runs the function normally (it may create buffers such as optimizer state), the second runs it
while recording every scheduled kernel and copy, and every later call replays that recording: the same kernels
on the same intermediate buffers, with the buffers of the Tensor arguments swapped for the new ones. Outputs
are the Tensors the captured call returned; their memory is overwritten by each replay (as in tinygrad).

Replays require the same signature: Tensor arguments of the same shapes, dtypes and devices, in the same
positions, and equal non-Tensor arguments; anything else is a JitError (no silent retrace). Random numbers are
drawn on the host and would be frozen into the recording, so drawing them during capture is a JitError too.
The function must realize what it updates (an optimizer's step() does): work left lazy escapes the recording.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from tinygrad_core import flags
from tinygrad_core.devices import Device
from tinygrad_core.errors import JitError
from tinygrad_core.helpers import GlobalCounters
from tinygrad_core.multi import parts
from tinygrad_core.runtime import Buffer
from tinygrad_core.schedule import ScheduleItem, capture, capturing, run_schedule
from tinygrad_core.tensor import Tensor
from tinygrad_core.tensor.checks import record, replayed, stop_recording

ReturnType = TypeVar("ReturnType")


def _tensors(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[Any, Tensor]]:
    positional = [(i, a) for i, a in enumerate(args) if isinstance(a, Tensor)]
    return positional + [(k, v) for k, v in sorted(kwargs.items()) if isinstance(v, Tensor)]


def _signature(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    tensors = tuple((key, t.shape, t.dtype, t.device) for key, t in _tensors(args, kwargs))
    others: tuple[tuple[int | str, str], ...] = tuple(
        (i, repr(a)) for i, a in enumerate(args) if not isinstance(a, Tensor)
    )
    others += tuple((k, repr(v)) for k, v in sorted(kwargs.items()) if not isinstance(v, Tensor))
    return tensors, others


def _input_buffers(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Buffer]:
    """The buffers the inputs are in, realized and contiguous: one per tensor, one per device of a sharded one."""
    buffers = []
    for _, tensor in _tensors(args, kwargs):
        if not all(
            lazy.realized and lazy.st.contiguous and lazy.shape == lazy.base.shape for lazy in parts(tensor.lazydata)
        ):
            tensor.replace(tensor.contiguous())
        tensor.realize()
        for lazy in parts(tensor.lazydata):
            assert lazy.base.buffer is not None
            buffers.append(lazy.base.buffer)
    return buffers


class TinyJit(Generic[ReturnType]):
    """Decorator: `@TinyJit def step(x, y): ...; return loss.realize()`."""

    def __init__(self, fn: Callable[..., ReturnType]):
        self.fn = fn
        self.calls = 0
        self.items: list[ScheduleItem] = []
        self.inputs: list[Buffer] = []
        self.signature: tuple[Any, ...] | None = None
        self.result: Any = None
        self.launches: list[Callable[[], None]] = []  # each item bound to its buffers (Device.bind)
        self.bound: list[Buffer] = []  # the input buffers the launches are bound to
        self.counts = (0, 0, 0)  # what one replay adds to GlobalCounters: kernels, ops, bytes
        self.checks: list[Any] = []  # the deferred checks the captured call queued (tensor/checks.py)
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def __get__(self, obj: Any, objtype: type | None = None) -> Callable[..., ReturnType]:
        """As a method decorator (`@TinyJit def step(self, x)`), bind the instance like a function would. Like
        tinygrad's, one recording serves every instance."""
        return self if obj is None else functools.partial(self.__call__, obj)

    def reset(self) -> None:
        """Forget the recording: the next two calls warm up and capture again."""
        self.calls, self.items, self.inputs, self.signature, self.result = 0, [], [], None, None
        self.launches, self.bound, self.counts, self.checks = [], [], (0, 0, 0), []

    def __call__(self, *args: Any, **kwargs: Any) -> ReturnType:
        buffers = _input_buffers(args, kwargs)
        signature = _signature(args, kwargs)
        self.calls += 1
        if self.calls == 1:
            result = self.fn(*args, **kwargs)
            _realize_outputs(result)
            return result
        if self.calls == 2:
            with capture() as items:
                recorded = record()
                try:
                    result = self.fn(*args, **kwargs)
                    _realize_outputs(result)
                finally:
                    stop_recording()
            self.checks = recorded
            self.items, self.inputs, self.signature, self.result = items, buffers, signature, result
            self.launches, self.bound = [_launcher(item) for item in items], buffers
            self.counts = _counts(items)
            return result
        if signature != self.signature:
            captured, given = _describe(self.signature), _describe(signature)
            raise JitError(f"{self.fn.__name__} was captured for {captured} but got {given}; .reset() captures again")
        swap = {id(old): new for old, new in zip(self.inputs, buffers)}
        if flags.DEBUG.value >= 2 or capturing():  # inside another capture: record, not just run
            run_schedule([_swapped(item, swap) for item in self.items])
            replayed(self.checks)
            return self.result
        if any(new is not old for new, old in zip(buffers, self.bound)):
            # new input buffers: rebind only the kernels that read or write them
            self.launches = [
                _launcher(_swapped(item, swap)) if any(id(buf) in swap for buf in item.bufs) else launch
                for item, launch in zip(self.items, self.launches)
            ]
            self.bound = buffers
        for launch in self.launches:
            launch()
        replayed(self.checks)  # the replay recomputed the recorded index checks: read them like the first time
        GlobalCounters.add(*self.counts)
        return self.result


def _launcher(item: ScheduleItem) -> Callable[[], None]:
    """Run one schedule item: kernels through their device's bind(), copies and empty outputs as run_schedule does."""
    if item.kernel is None or (item.kernel.out_shape and item.bufs[0].size == 0):
        return functools.partial(run_schedule, [item])
    return Device[item.device].bind(item.kernel, [buf.handle for buf in item.bufs])


def _counts(items: list[ScheduleItem]) -> tuple[int, int, int]:
    """What running `items` adds to GlobalCounters (run_schedule's rule): kernels, ops, bytes."""
    launched = [
        item for item in items if item.kernel is not None and not (item.kernel.out_shape and item.bufs[0].size == 0)
    ]
    kernels = [item.kernel for item in launched if item.kernel is not None]
    copies = sum(item.bufs[1].nbytes for item in items if item.kernel is None)
    return len(kernels), sum(k.flops for k in kernels), sum(k.nbytes for k in kernels) + copies


def _swapped(item: ScheduleItem, swap: dict[int, Buffer]) -> ScheduleItem:
    if not any(id(buf) in swap for buf in item.bufs):
        return item
    return ScheduleItem(item.device, tuple(swap.get(id(buf), buf) for buf in item.bufs), item.kernel)


def _realize_outputs(result: Any) -> None:
    outputs = (
        [result]
        if isinstance(result, Tensor)
        else [r for r in result if isinstance(r, Tensor)]
        if isinstance(result, (tuple, list))
        else []
    )
    if outputs:
        Tensor.realize(*outputs)


def _describe(signature: tuple[Any, ...] | None) -> str:
    if signature is None:
        return "nothing"
    tensors, others = signature
    parts = [f"{key}: {shape} {dtype.name} on {device}" for key, shape, dtype, device in tensors]
    parts += [f"{key}={value}" for key, value in others]
    return "(" + ", ".join(parts) + ")"
