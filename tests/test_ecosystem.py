"""Installing and importing tinygrad-core leaves other people's programs and test suites as they were."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

CONFTEST = """
    import sys

    import pytest


    def pytest_addoption(parser):
        parser.addoption("--device", default="abacus", help="this project's own --device")
        parser.addoption("--runslow", action="store_true", default=False, help="pytest's documented recipe")


    def pytest_configure(config):
        config.addinivalue_line("markers", "slow: mark test as slow to run")


    def pytest_collection_modifyitems(config, items):
        if config.getoption("--runslow"):
            return
        skip = pytest.mark.skip(reason="need --runslow option to run")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(skip)


    @pytest.fixture
    def device(request):
        return request.config.getoption("--device")
"""
TESTS = """
    import sys

    import pytest


    def test_own_device_fixture(device):
        assert device == "slide-rule"


    @pytest.mark.slow
    def test_slow_runs_when_asked():
        assert True


    def test_nothing_heavy_was_imported():
        heavy = [name for name in ("torch", "pyopencl", "cffi", "tinygrad_core") if name in sys.modules]
        assert heavy == []
"""


def test_unrelated_project_is_untouched(tmp_path: Path) -> None:
    """A project with its own --device option, `device` fixture and `slow` marker runs as if we weren't installed."""
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (tmp_path / "test_project.py").write_text(textwrap.dedent(TESTS))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DEVICE"))}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--device", "slide-rule", "--runslow", "-v"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout
    assert "tinygrad" not in proc.stdout.lower()


IMPORT_PROBE = """
    import faulthandler, gc, logging, signal, sys, threading, warnings
    import numpy as np

    def state():
        handlers = {}
        for sig in signal.valid_signals():
            try:
                handlers[int(sig)] = signal.getsignal(sig)
            except (OSError, ValueError):
                pass
        root = logging.getLogger()
        return {
            "excepthook": sys.excepthook, "threading.excepthook": threading.excepthook,
            "displayhook": sys.displayhook, "warnings": list(warnings.filters),
            "printoptions": np.get_printoptions(), "seterr": np.geterr(), "logging": (root.level, list(root.handlers)),
            "signals": handlers, "recursionlimit": sys.getrecursionlimit(), "faulthandler": faulthandler.is_enabled(),
            "gc": (gc.isenabled(), gc.get_threshold()), "switchinterval": sys.getswitchinterval(),
            "stdout": (sys.stdout, sys.stderr), "float32 repr": repr(np.float32(0.1)),
        }

    before = state()
    import tinygrad_core
    from tinygrad_core import Tensor
    (Tensor([1.0, 2.0]) * 2).numpy()  # and a first use: backends loaded, a kernel compiled and run
    after = state()
    changed = sorted(key for key in before if before[key] != after[key])
    print("changed:", changed)
"""


def test_import_changes_no_global_state(tmp_path: Path) -> None:
    script = tmp_path / "probe.py"
    script.write_text(textwrap.dedent(IMPORT_PROBE))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "changed: []", proc.stdout + proc.stderr
