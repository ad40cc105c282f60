"""pytest plugin (pytest11 entry point): --device, --runslow, the `requires` and `slow` markers, the `device` fixture.

Tests that take a `device` argument run once per available backend (ids like test_add[OPENCL]), or only on the
devices named by `--device` / the DEVICE environment variable. Nothing heavy is imported until a test asks.
"""

from __future__ import annotations

from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tinygrad_core")
    group.addoption(
        "--device",
        action="append",
        default=[],
        help="run device tests on this device (repeatable); default: every available one",
    )
    group.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: runs only with --runslow")
    config.addinivalue_line("markers", "requires(feature): needs a device capability, e.g. 'float64'")


def _devices(config: pytest.Config) -> list[str]:
    from tinygrad_core import flags
    from tinygrad_core.devices import Device

    asked = config.getoption("--device") or ([flags.DEVICE.value] if flags.DEVICE.value else [])
    if asked:
        return [Device.canonicalize(name) for name in asked]
    return [spec.name for spec in Device.backends() if Device.why_unavailable(spec.name) is None]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "device" in metafunc.fixturenames:
        devices = _devices(metafunc.config)
        metafunc.parametrize(
            "device", devices or [pytest.param(None, marks=pytest.mark.skip(reason="no backend available"))], ids=str
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("requires")
    callspec: Any = getattr(item, "callspec", None)
    if marker is None or callspec is None or "device" not in callspec.params:
        return
    from tinygrad_core.devices import Device
    from tinygrad_core.dtype import to_dtype

    device = Device[callspec.params["device"]]
    for feature in marker.args:
        if to_dtype(feature) not in device.dtypes:
            pytest.skip(f"{device.name} lacks {feature}: {device.missing_dtype_reason}")
