#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the whole test suite on every available backend.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m tinygrad_core.devices
# pytest -n auto already keeps every core busy: BLAS/OpenMP threads inside each worker would only oversubscribe them.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# Every test, the conformance kit included, on every available backend except opt-in ones (negative priority)...
.venv/bin/python -m pytest -n auto "$@"
# ...and the kit's core levels on the pure-Python TINY example, which is far too slow for the rest.
exec .venv/bin/python -m tinygrad_core.testing --device TINY --level core -- -n auto
