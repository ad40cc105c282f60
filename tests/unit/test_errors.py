"""An uncaught TinygradError prints the user's frames and one message, not a traceback wall from our internals."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tinygrad_core import errors
from tinygrad_core.errors import DeviceError, PluginError, ShapeError, TinygradError

HOOKED = "import tinygrad_core\ntinygrad_core.errors.install_excepthook()\n"  # the hook is opt-in
SCRIPT = """
    import tinygrad_core
    from tinygrad_core.devices import Device

    tinygrad_core.errors.install_excepthook()

    def open_device():
        return Device["NOPE:1"]

    open_device()
"""


def run_script(tmp_path: Path, source: str, **env: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(source))
    environ = {k: v for k, v in os.environ.items() if k != "TINYGRAD_FULL_TRACEBACK"} | env
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=environ, check=False)


def test_hierarchy() -> None:
    assert issubclass(DeviceError, TinygradError)
    assert issubclass(DeviceError, RuntimeError)
    assert issubclass(PluginError, TinygradError)
    assert issubclass(ShapeError, ValueError)


def test_uncaught_error_hides_internal_frames(tmp_path: Path) -> None:
    proc = run_script(tmp_path, SCRIPT)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("Traceback (most recent call last; tinygrad frames hidden")
    assert "open_device()" in proc.stderr
    assert 'return Device["NOPE:1"]' in proc.stderr
    assert "tinygrad_core" + os.sep not in proc.stderr  # no frame from a file inside the package
    assert lines[-1].startswith("DeviceError: unknown device 'NOPE:1'; installed:")
    assert sum(line.startswith("  File ") for line in lines) == 2


def test_full_traceback_flag(tmp_path: Path) -> None:
    proc = run_script(tmp_path, SCRIPT, TINYGRAD_FULL_TRACEBACK="1")
    assert proc.stderr.startswith("Traceback (most recent call last):")
    assert os.path.join("tinygrad_core", "devices.py") in proc.stderr


def test_other_exceptions_are_untouched(tmp_path: Path) -> None:
    proc = run_script(tmp_path, f"{HOOKED}raise KeyError('p')\n")
    assert proc.stderr.startswith("Traceback (most recent call last):\n")
    assert proc.stderr.splitlines()[-1] == "KeyError: 'p'"


def test_backend_frames_are_hidden_too(tmp_path: Path) -> None:
    (tmp_path / "tinygrad_fakebackend.py").write_text(
        "from tinygrad_core.errors import DeviceError\ndef fail():\n    raise DeviceError('driver gone')\n"
    )
    proc = run_script(tmp_path, f"{HOOKED}import tinygrad_fakebackend\ntinygrad_fakebackend.fail()\n")
    assert "tinygrad_fakebackend.py" not in proc.stderr
    assert proc.stderr.splitlines()[-1] == "DeviceError: driver gone"


def test_hook_in_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[type[BaseException]] = []
    monkeypatch.setattr(sys, "excepthook", lambda exc_type, exc, tb: seen.append(exc_type))
    monkeypatch.delenv("TINYGRAD_FULL_TRACEBACK", raising=False)
    errors.install_excepthook()
    hook = sys.excepthook
    errors.install_excepthook()
    assert sys.excepthook is hook  # installing twice wraps once

    def user_code() -> None:
        raise PluginError("bad plugin")

    try:
        user_code()
    except PluginError as e:
        sys.excepthook(type(e), e, e.__traceback__)
    try:
        raise ValueError("not ours")
    except ValueError as e:
        sys.excepthook(type(e), e, e.__traceback__)
    err = capsys.readouterr().err
    assert "in user_code" in err
    assert err.endswith("PluginError: bad plugin\n")
    assert seen == [ValueError]  # only the foreign exception reached the previous hook
