"""pytest plugin adding the METAL_EMU device: `pytest -p tinygrad_metal_testing.pytest_plugin --device METAL_EMU`.

With TINYGRAD_METAL_EMU_REPORT=path, the emulation counts (device.STATS) are written there as JSON at the end.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPORT = "TINYGRAD_METAL_EMU_REPORT"


def pytest_configure(config: pytest.Config) -> None:
    from tinygrad_core.devices import Device
    from tinygrad_metal_testing.device import SPEC

    if "METAL_EMU" not in {spec.name for spec in Device.backends()}:
        Device.register(SPEC)


def pytest_unconfigure(config: pytest.Config) -> None:
    path = os.environ.get(REPORT)
    if path:
        from tinygrad_metal_testing.device import STATS

        Path(path).write_text(json.dumps(STATS.as_dict()))
