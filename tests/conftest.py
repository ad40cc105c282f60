"""Fixtures shared by the suite's test files (the `device` fixture itself comes from tinygrad_core's pytest plugin)."""

import pytest

from tinygrad_core import Device


@pytest.fixture
def default_device(device):
    """Layers create their tensors on Device.DEFAULT: point it at the device under test for the test's duration."""
    previous = Device.DEFAULT
    Device.DEFAULT = device
    yield device
    Device.DEFAULT = previous
