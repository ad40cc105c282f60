"""Every environment variable tinygrad_core reads: declared once here, read when used, overridden with Context(...).

    from tinygrad_core import flags
    if flags.DEBUG.value >= 2: ...
    with flags.Context(DEBUG=2, DEVICE="CPU"): ...

Backends read flags through this module, never through os.environ.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any, Generic, TypeVar

from tinygrad_core import errors
from tinygrad_core.errors import ArgumentError

T = TypeVar("T")

# The stack of active Context overrides, innermost last; a ContextVar keeps threads and async tasks apart.
_overrides: ContextVar[tuple[dict[str, Any], ...]] = ContextVar("tinygrad_core_flags", default=())
_FLAGS: dict[str, Flag[Any]] = {}


def _int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError("expected an integer") from None


def _count(raw: str) -> int:
    value = _int(raw)
    if value < 0:
        raise ValueError("expected a non-negative integer")
    return value


def _positive(raw: str) -> int:
    value = _int(raw)
    if value < 1:
        raise ValueError("expected a positive integer")
    return value


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected 0 or 1")


def _cache_dir(raw: str) -> str:
    if raw:
        return os.path.expanduser(raw)
    import platformdirs  # honours XDG_CACHE_HOME; imported on first use only

    return platformdirs.user_cache_dir("tinygrad_core", appauthor=False)


def _names(raw: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in raw.split(",") if name.strip())


class Flag(Generic[T]):
    """One environment variable: `.value` parses it now; an enclosing Context(...) wins, unset gives the default."""

    def __init__(self, name: str, default: str, parse: Callable[[str], T], pure: bool = True):
        self.name, self.default, self.parse = name, default, parse  # default is spelled as in the environment
        # environment text -> value, for flags read on every kernel launch; `pure=False`: the parse reads more
        # than the text (a path under ~ reads HOME), so it runs every time
        self._parsed: dict[str, T] | None = {} if pure else None
        _FLAGS[name] = self

    @property
    def value(self) -> T:
        for overrides in reversed(_overrides.get()):
            if self.name in overrides:
                return overrides[self.name]
        raw = os.environ.get(self.name, "")
        if self._parsed is None:
            return self.coerce(raw if raw != "" else self.default)
        parsed = self._parsed.get(raw)
        if parsed is None:
            parsed = self._parsed[raw] = self.coerce(raw if raw != "" else self.default)
        return parsed

    def coerce(self, value: Any) -> T:
        """Parse `value` as if it were the environment variable's text (lists may be given as lists)."""
        text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        try:
            return self.parse(text)
        except ValueError as e:
            raise ArgumentError(f"flag {self.name}={text!r}: {e}") from None

    def __repr__(self) -> str:
        return f"Flag({self.name}={self.value!r})"


# --- the flags ---
# default device, "NAME[:INDEX]" such as "OPENCL:1"; empty: the highest-priority backend that can run here
DEVICE: Flag[str] = Flag("DEVICE", "", str.strip)
# verbosity, 0 (quiet) to 5; >= 2 prints each kernel as it runs (compiled backends: also its own time and
# GFLOP/s), >= 3 also its IR and plan, >= 4 the generated source
DEBUG: Flag[int] = Flag("DEBUG", "0", _count)
# 1: an uncaught TinygradError shows every frame, ours included (errors.install_excepthook)
TINYGRAD_FULL_TRACEBACK: Flag[bool] = Flag("TINYGRAD_FULL_TRACEBACK", "0", _bool)
errors.full_traceback = lambda: TINYGRAD_FULL_TRACEBACK.value
# comma list of entry-point or device names allowed to load ("cpu,opencl"); empty: every installed backend
TINYGRAD_PLUGINS: Flag[tuple[str, ...]] = Flag("TINYGRAD_PLUGINS", "", _names)
# comma list of entry-point or device names never loaded, even when TINYGRAD_PLUGINS names them
TINYGRAD_DISABLE_PLUGINS: Flag[tuple[str, ...]] = Flag("TINYGRAD_DISABLE_PLUGINS", "", _names)
# >= 1: print each step of finding, loading and checking backend plugins to stderr
TINYGRAD_TRACE_PLUGINS: Flag[int] = Flag("TINYGRAD_TRACE_PLUGINS", "0", _int)
# where compiled kernels are cached, keyed by a hash of their source; empty: the platform's user cache folder
# ($XDG_CACHE_HOME/tinygrad_core, else ~/.cache/tinygrad_core on Linux; ~/Library/Caches/tinygrad_core on macOS)
CACHEDIR: Flag[str] = Flag("CACHEDIR", "", _cache_dir, pure=False)
# the most megabytes of compiled kernels the cache keeps; beyond it the least recently used are deleted
CACHE_MB: Flag[int] = Flag("CACHE_MB", "400", _positive)
# compiled backends: >= 1 times that many candidate plans per new kernel and keeps the fastest (cached on disk)
BEAM: Flag[int] = Flag("BEAM", "0", _count)
# compiled backends: 1 lowers every new kernel as plain loops (no vectors, tiles, staging or split reductions), for
# comparing against the optimizer's plans; BEAM is ignored then
NOOPT: Flag[int] = Flag("NOOPT", "0", _count)
# threads a CPU backend runs each kernel on; 0: every core this process may use
THREADS: Flag[int] = Flag("THREADS", "0", _count)
# 1 (default): an index out of range, a class label past the last class or an integer division by zero raises at
# this thread's next read of a result (tensor/checks.py: one small extra kernel and read each); 0: unchecked, as in
# tinygrad (such an index reads 0)
CHECK_OOB: Flag[int] = Flag("CHECK_OOB", "1", _count)
# megabytes of freed buffers a device keeps for reuse (the next allocation of the same size); beyond, they are freed
ALLOC_CACHE_MB: Flag[int] = Flag("ALLOC_CACHE_MB", "256", _count)
# compiled backends: programs kept per device, the least recently used unloaded beyond that (a training loop uses
# tens; a process that keeps making new shapes would otherwise grow without bound)
PROGRAM_CACHE: Flag[int] = Flag("PROGRAM_CACHE", "1000", _positive)


# --- convenience ---
def get(name: str) -> Any:
    """The current value of the flag `name`: `flags.get("DEBUG")` is `flags.DEBUG.value`."""
    return _lookup(name).value


def declared() -> dict[str, Flag[Any]]:
    """Every flag by name, in declaration order."""
    return dict(_FLAGS)


def _lookup(name: str) -> Flag[Any]:
    if name not in _FLAGS:
        raise KeyError(f"unknown flag {name!r}; declared: {', '.join(_FLAGS)}")
    return _FLAGS[name]


class Context(contextlib.ContextDecorator):
    """Override flags inside a `with` block (or a decorated function), e.g. `with Context(DEBUG=2, BEAM=1):`;
    contexts nest, the innermost wins, and they act on the current thread (or async task) only."""

    def __init__(self, **overrides: Any):
        self.overrides = {name: _lookup(name).coerce(value) for name, value in overrides.items()}
        self._tokens: list[Token[tuple[dict[str, Any], ...]]] = []

    def _recreate_cm(self) -> Context:
        fresh = Context()
        fresh.overrides = self.overrides  # as a decorator: one per call, so threads never share the token stack
        return fresh

    def __enter__(self) -> Context:
        self._tokens.append(_overrides.set((*_overrides.get(), self.overrides)))
        return self

    def __exit__(self, *exc_info: object) -> None:
        _overrides.reset(self._tokens.pop())
