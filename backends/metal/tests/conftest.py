"""Fixtures of the tinygrad-metal tests: `emu`, the METAL_EMU device (our MSL run on the CPU by the emulator)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def emu() -> Iterator[str]:
    """The name of the METAL_EMU device, registered for the test; skipped where the emulator can't run."""
    from tinygrad_metal_testing.device import SPEC
    from tinygrad_metal_testing.emulator import why_no_emulator

    from tinygrad_core.devices import Device

    reason = why_no_emulator()
    if reason is not None:
        pytest.skip(reason)
    if "METAL_EMU" in {spec.name for spec in Device.backends()}:
        yield "METAL_EMU"
        return
    with Device.registered(SPEC):
        yield "METAL_EMU"
