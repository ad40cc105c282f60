#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the whole test suite on every available backend.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m tinygrad_core.devices
exec .venv/bin/python -m pytest -n auto "$@"
