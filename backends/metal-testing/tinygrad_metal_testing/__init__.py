"""Tools that check tinygrad-metal without a Mac: the MSL emulator (emulator.py), the MSL lint (lint.py) and the
METAL_EMU device that runs our generated MSL on the CPU and checks every launch (device.py, pytest_plugin.py).
Used by the tests; never imported by the backend itself."""
