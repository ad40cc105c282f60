#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and trains the example classifier on the default device.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m tinygrad_core.devices
exec .venv/bin/python examples/mnist.py "$@"
