"""pytest plugin: --device, --runslow, markers, the `device` fixture and the kit's report. Opt-in, so that installing
tinygrad-core changes no other project's tests: `pytest -p tinygrad_core.testing.plugin` (our pyproject's addopts and
`python -m tinygrad_core.testing` pass it). PYTEST_DONT_REWRITE: the kit's command line imports this module before
pytest starts, and it holds no assertions to rewrite.

Tests that take a `device` argument run once per available backend (ids like test_add[OPENCL]), or only on the
devices named by `--device` / the DEVICE environment variable. A backend with a negative priority is opt-in (a slow
teaching interpreter, a simulator): it runs only when named. Conformance-kit tests (tinygrad_core.testing.suite,
marked `kit(level)`) are counted per device and level in the terminal summary and in `--kit-report report.json`;
the backend's declared `known_failures` become expected failures there. Nothing heavy is imported until a test asks.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

LEVELS = ("registration", "buffers", "ops", "reduce", "autodiff", "training")
CORE_LEVELS = LEVELS[:4]  # the kernel-level contract; autodiff and training run whole Tensor programs
OUTCOMES = ("passed", "failed", "skipped", "xfailed", "xpassed")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tinygrad_core")
    group.addoption(
        "--device",
        action="append",
        default=[],
        help="run device tests on this device (repeatable); default: every available one",
    )
    group.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")
    group.addoption(
        "--kit-level",
        default="all",
        help=f"conformance-kit levels to run, comma separated: {', '.join(LEVELS)}; 'core' = {', '.join(CORE_LEVELS)}",
    )
    group.addoption("--kit-report", metavar="PATH", help="write the conformance kit's results as JSON to PATH")
    group.addoption(
        "--backend-plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help="register this module's @hookimpl backend before testing, without installing its package (repeatable)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: runs only with --runslow")
    config.addinivalue_line("markers", "requires(feature): needs a device capability, e.g. 'float64'")
    config.addinivalue_line("markers", f"kit(level): a conformance-kit test of one level: {', '.join(LEVELS)}")
    for module in config.getoption("--backend-plugin"):
        from tinygrad_core.devices import Device
        from tinygrad_core.errors import TinygradError

        try:
            Device.register(importlib.import_module(module))
        except (ImportError, TinygradError) as e:
            hint = " (an installed copy? TINYGRAD_DISABLE_PLUGINS=<name> leaves it out)" if "claimed" in str(e) else ""
            raise pytest.UsageError(f"--backend-plugin {module}: {e}{hint}") from None
    if not hasattr(config, "workerinput"):  # under pytest-xdist only the controller reports
        config.pluginmanager.register(KitReport(config), "tinygrad_core_kit_report")


# --- which devices ---
def _devices(config: pytest.Config) -> list[str]:
    from tinygrad_core import flags
    from tinygrad_core.devices import Device
    from tinygrad_core.errors import TinygradError

    asked = config.getoption("--device") or ([flags.DEVICE.value] if flags.DEVICE.value else [])
    try:
        if asked:
            return [Device.canonicalize(name) for name in asked]
        backends = Device.backends()
    except TinygradError as e:
        raise pytest.UsageError(str(e)) from None
    # NOTE: a negative priority makes a backend opt-in: never in the default list, so a slow one costs nothing.
    return [spec.name for spec in backends if spec.priority >= 0 and Device.why_unavailable(spec.name) is None]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "device" in metafunc.fixturenames:
        devices = _devices(metafunc.config)
        metafunc.parametrize(
            "device", devices or [pytest.param(None, marks=pytest.mark.skip(reason="no backend available"))], ids=str
        )


# --- selecting, marking ---
def _levels(config: pytest.Config) -> set[str]:
    wanted: set[str] = set()
    for name in str(config.getoption("--kit-level")).split(","):
        name = name.strip().lower()
        if name not in (*LEVELS, "core", "all"):
            raise pytest.UsageError(f"--kit-level: unknown level {name!r}; choose from {', '.join(LEVELS)}, core, all")
        wanted |= set(CORE_LEVELS if name == "core" else LEVELS if name == "all" else {name})
    return wanted


def kit_id(item: pytest.Item) -> str:
    """A kit test's device-independent name, as `known_failures` spells it: 'ops::test_unary[SIN-float16]'."""
    level = item.get_closest_marker("kit").args[0]  # type: ignore[union-attr]
    callspec: Any = getattr(item, "callspec", None)
    name = getattr(item, "originalname", item.name)
    if callspec is None:
        return f"{level}::{name}"
    parts = callspec.id.split("-")
    device = str(callspec.params.get("device"))
    if device in parts:
        parts.remove(device)
    return f"{level}::{name}[{'-'.join(parts)}]" if parts else f"{level}::{name}"


def _glob(pattern: str) -> re.Pattern[str]:
    """`*` and `?` are wildcards; everything else, brackets included, is literal."""
    return re.compile(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."))


def known_failure(device: str, test_id: str) -> str | None:
    """The reason `device`'s backend declared for `test_id`, or None when it expects the test to pass."""
    from tinygrad_core.devices import Device
    from tinygrad_core.errors import TinygradError

    try:
        declared = Device[device].known_failures if Device.why_unavailable(device) is None else {}
    except TinygradError:
        return None  # a device that fails to open fails its registration tests, with the error
    for pattern, reason in declared.items():
        if _glob(pattern).fullmatch(test_id):
            return reason
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    levels = _levels(config)
    keep, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("kit")
        if marker is not None and marker.args[0] not in levels:
            dropped.append(item)
            continue
        keep.append(item)
        if not config.getoption("--runslow") and "slow" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="slow: run with --runslow"))
        callspec: Any = getattr(item, "callspec", None)
        if marker is None or callspec is None or callspec.params.get("device") is None:
            continue
        device, test_id = callspec.params["device"], kit_id(item)
        item.user_properties += [("kit_device", device), ("kit_level", marker.args[0]), ("kit_id", test_id)]
        reason = known_failure(device, test_id)
        if reason is not None:
            item.add_marker(pytest.mark.xfail(reason=f"known failure declared by {device}: {reason}", strict=True))
    # kit tests run level by level, registration first, wherever they sit among other tests
    slots = [i for i, item in enumerate(keep) if item.get_closest_marker("kit") is not None]
    ordered = sorted((keep[i] for i in slots), key=lambda item: LEVELS.index(item.get_closest_marker("kit").args[0]))  # type: ignore[union-attr]
    for i, item in zip(slots, ordered):
        keep[i] = item
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = keep


def pytest_runtest_setup(item: pytest.Item) -> None:
    callspec: Any = getattr(item, "callspec", None)
    if callspec is None or callspec.params.get("device") is None:
        return
    from tinygrad_core.devices import Device
    from tinygrad_core.testing import missing

    name = callspec.params["device"]
    kit = item.get_closest_marker("kit")
    reason = Device.why_unavailable(name)
    if reason is not None and (kit is None or kit.args[0] != "registration"):
        pytest.skip(f"{name} can't run here: {reason}")
    marker = item.get_closest_marker("requires")
    for feature in marker.args if marker is not None else ():
        why = missing(name, feature)
        if why is not None:
            pytest.skip(why)


# --- reporting ---
class KitReport:
    """Collects kit results per device and level; prints them after the run and writes `--kit-report` as JSON."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.tests: dict[str, dict[str, Any]] = {}  # nodeid -> result

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "kit_level" not in props:
            return
        result = self.tests.setdefault(
            report.nodeid,
            {"id": props["kit_id"], "device": props["kit_device"], "level": props["kit_level"], "outcome": "passed"},
        )
        if report.when == "call":
            result["duration"] = round(report.duration, 4)
        if hasattr(report, "wasxfail"):
            result["outcome"] = "xfailed" if report.skipped else "xpassed"
            result["reason"] = report.wasxfail
        elif report.skipped:
            result["outcome"] = "skipped"
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            result["reason"] = reason.removeprefix("Skipped: ")
        elif report.failed:
            result["outcome"] = "failed"
            result["message"] = _last_line(report.longreprtext)

    def summary(self) -> dict[str, dict[str, dict[str, int]]]:
        counts: dict[str, dict[str, dict[str, int]]] = {}
        for result in self.tests.values():
            per_level = counts.setdefault(result["device"], {})
            row = per_level.setdefault(result["level"], dict.fromkeys(OUTCOMES, 0))
            row[result["outcome"]] += 1
        return counts

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.tests:
            return
        terminalreporter.section("tinygrad_core conformance kit")
        header = f"{'device':10} {'level':13}" + "".join(f"{name:>9}" for name in OUTCOMES)
        terminalreporter.write_line(header)
        for device, per_level in sorted(self.summary().items()):
            for level in (lvl for lvl in LEVELS if lvl in per_level):
                row = per_level[level]
                terminalreporter.write_line(f"{device:10} {level:13}" + "".join(f"{row[o]:>9}" for o in OUTCOMES))
        path = self.config.getoption("--kit-report")
        if path:
            terminalreporter.write_line(f"report written to {path}")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        path = self.config.getoption("--kit-report")
        if path:
            Path(path).write_text(json.dumps(self.report(), indent=2) + "\n")

    def report(self) -> dict[str, Any]:
        from tinygrad_core import __version__
        from tinygrad_core.ops import PLUGIN_API

        devices = {}
        summary = self.summary()
        for device in sorted(summary):
            tests = sorted((r for r in self.tests.values() if r["device"] == device), key=lambda r: r["id"])
            levels = {level: summary[device][level] for level in LEVELS if level in summary[device]}
            skips: dict[str, int] = {}
            for r in tests:
                if r["outcome"] == "skipped":
                    skips[r["reason"]] = skips.get(r["reason"], 0) + 1
            devices[device] = {
                "backend": _describe(device),
                "conforms": all(row["failed"] == 0 and row["xpassed"] == 0 for row in levels.values()),
                "levels": levels,
                "skipped_by_reason": dict(
                    sorted(skips.items(), key=lambda item: -item[1])
                ),  # a mostly-skipped run shows
                "tests": [{key: value for key, value in r.items() if key != "device"} for r in tests],
            }
        return {"tinygrad_core": __version__, "plugin_api": "{}.{}".format(*PLUGIN_API), "devices": devices}


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E ")]
    return (errors[0][1:].strip() if errors else lines[-1] if lines else "")[:500]


def _describe(device: str) -> dict[str, Any]:
    """What the backend of `device` declares: its spec and the capabilities of its device object."""
    from tinygrad_core.devices import Device

    base = device.partition(":")[0]
    info: dict[str, Any] = {"name": base, "available": Device.why_unavailable(device) is None}
    spec = next((s for s in Device.backends() if s.name == base), None)
    if spec is not None:
        info |= {"distribution": spec.distribution, "version": spec.version, "api_version": "{}.{}".format(*spec.api)}
    if not info["available"]:
        return info | {"reason": Device.why_unavailable(device)}
    dev = Device[device]
    from tinygrad_core.testing import dtype_name

    return info | {
        "dtypes": [dtype_name(d) for d in sorted(dev.dtypes, key=lambda d: d.priority)],
        "missing_dtype_reason": dev.missing_dtype_reason,
        "max_buffer_size": dev.max_buffer_size,
        "known_failures": dict(dev.known_failures),
    }
