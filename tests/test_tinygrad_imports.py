"""Every import on the right of docs/tinygrad.md's table works: a tinygrad user's imports have a counterpart here."""

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "tinygrad.md"
ROWS = re.findall(r"^\| `(from tinygrad[^`]*)` \| `(from tinygrad_core[^`]*)` \|$", DOC.read_text(), re.M)


def test_the_table_covers_the_modules_tinygrad_users_import():
    modules = {theirs.split()[1] for theirs, _ in ROWS}
    expected = {"tinygrad.nn", "tinygrad.nn.optim", "tinygrad.nn.state", "tinygrad.engine.jit", "tinygrad.dtype"}
    assert expected | {"tinygrad.device", "tinygrad.helpers", "tinygrad"} <= modules


@pytest.mark.parametrize(("theirs", "ours"), ROWS, ids=[theirs for theirs, _ in ROWS])
def test_our_import_works(theirs, ours):
    assert theirs.replace("from tinygrad", "from tinygrad_core", 1).split(" import ")[1] == ours.split(" import ")[1]
    exec(ours, {})


def test_helpers():
    from tinygrad_core import Context, GlobalCounters, Tensor, flags, getenv

    assert getenv("TINYGRAD_CORE_SURELY_UNSET", 7) == 7
    with Context(DEBUG=3, BEAM=1):
        assert (flags.DEBUG.value, flags.BEAM.value) == (3, 1)
    assert flags.DEBUG.value != 3 or flags.BEAM.value != 1

    @Context(BEAM=2)
    def beam():
        return flags.BEAM.value

    assert beam() == 2
    GlobalCounters.reset()
    (Tensor.ones(64).contiguous() * 2).realize()
    assert GlobalCounters.kernel_count == 2
    assert GlobalCounters.global_ops >= 64
    assert GlobalCounters.global_mem >= 64 * 4 * 2


def test_getenv_types(monkeypatch):
    from tinygrad_core.helpers import getenv

    monkeypatch.setenv("TG_TEST_STEPS", "12")
    monkeypatch.setenv("TG_TEST_RATE", "0.5")
    monkeypatch.setenv("TG_TEST_ON", "0")
    assert getenv("TG_TEST_STEPS", 100) == 12
    assert getenv("TG_TEST_RATE", 1.0) == 0.5
    assert getenv("TG_TEST_ON", True) is False
    assert getenv("TG_TEST_STEPS") == 12
