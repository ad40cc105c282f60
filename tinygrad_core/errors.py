"""The exceptions tinygrad_core raises on purpose, and the excepthook that shows them without our internal frames."""

from __future__ import annotations

import sys
import traceback
from types import TracebackType

# Modules whose frames an uncaught TinygradError hides: the core and every backend package (tinygrad_cpu, ...).
_INTERNAL_PREFIX = "tinygrad_"


class TinygradError(Exception):
    """Base of every error tinygrad_core raises on purpose: its message says what was wrong and what fixes it.

    Each subclass is also the built-in exception PyTorch and tinygrad raise for the same mistake, so code written for
    them (`except RuntimeError:`, `pytest.raises(ValueError)`) catches ours too."""


class DeviceError(TinygradError, RuntimeError):
    """A device can't be used: unknown, not installed, unavailable here, a bad index, or mixed devices."""


class CompileError(DeviceError):
    """A generated kernel failed to compile; the message carries the compiler's own output."""


class CompilerCrash(CompileError):
    """The compiler itself crashed (a signal, an internal error), not the source: codegen retries the kernel with a
    plainer plan (no vectors) before reporting it."""


class CacheError(DeviceError):
    """The kernel cache directory (CACHEDIR) can't be trusted: compiled kernels in it run as native code in this
    process, so it must be private to its user."""


class PluginError(TinygradError, RuntimeError):
    """A backend plugin is broken: wrong plugin API version, a device name claimed twice, a malformed hook."""


class ShapeError(TinygradError, ValueError, RuntimeError):
    """Shapes that don't fit together (reshape, expand, cat, matmul, assign, ...): PyTorch raises RuntimeError,
    tinygrad ValueError (or RuntimeError), so this is both."""


class ArgumentError(TinygradError, ValueError, RuntimeError):
    """An argument value an op can't take (a negative count, a mode that contradicts another argument): PyTorch
    raises RuntimeError for most of these, tinygrad ValueError, so this is both."""


class DTypeError(TinygradError, AttributeError, TypeError, RuntimeError):
    """A dtype that doesn't exist (`dtype="typo"`: tinygrad raises AttributeError, PyTorch TypeError) or that an op
    doesn't take (`&` of floats: PyTorch raises RuntimeError), so this is all three."""


class JitError(TinygradError, RuntimeError):
    """A TinyJit function called in a way its recording can't replay."""


def _module_name(tb: TracebackType) -> str:
    """The frame's module; under `python -m pkg.mod` it is "__main__", so ask the module spec for the real name."""
    frame_globals = tb.tb_frame.f_globals
    name = frame_globals.get("__name__") or ""
    spec = frame_globals.get("__spec__")
    if name == "__main__" and spec is not None:
        name = spec.name
    return str(name)


def _short_traceback(exc: BaseException, tb: TracebackType | None) -> str:
    """The traceback of `exc` without frames inside tinygrad_* packages, then `ErrorName: message` and any notes."""
    frames: list[traceback.FrameSummary] = []
    while tb is not None:
        if not _module_name(tb).startswith(_INTERNAL_PREFIX):
            frames.extend(traceback.extract_tb(tb, limit=1))
        tb = tb.tb_next
    lines = []
    if frames:
        lines.append(
            "Traceback (most recent call last; tinygrad frames hidden, TINYGRAD_FULL_TRACEBACK=1 shows them):\n"
        )
        lines.extend(traceback.format_list(frames))
    lines.append(f"{type(exc).__name__}: {exc}\n")
    lines.extend(f"{note}\n" for note in getattr(exc, "__notes__", ()))
    return "".join(lines)


def full_traceback() -> bool:
    """Whether the hook shows every frame: flags.py, which imports this module, replaces this with its
    TINYGRAD_FULL_TRACEBACK flag (so errors.py imports no flags, and flags can raise our errors)."""
    return False


def install_excepthook() -> None:
    """Make an uncaught TinygradError print a short traceback of the user's frames; other exceptions are untouched.

    Opt-in (importing tinygrad_core changes no global state): call it at the top of a program; our command-line
    tools do. Calling it again does nothing. TINYGRAD_FULL_TRACEBACK=1 shows everything.
    """
    previous = sys.excepthook
    if getattr(previous, "_tinygrad_core", False):
        return

    def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        try:
            full = full_traceback()
        except ValueError:  # a malformed value: show everything rather than fail inside the hook
            full = True
        if not isinstance(exc, TinygradError) or full:
            previous(exc_type, exc, tb)
            return
        sys.stderr.write(_short_traceback(exc, tb))

    excepthook._tinygrad_core = True  # type: ignore[attr-defined]
    sys.excepthook = excepthook
