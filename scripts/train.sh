#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and trains the example classifier on the default device.
set -euo pipefail
cd "$(dirname "$0")/.."
for arg in "$@"; do
  if [ "$arg" = -h ] || [ "$arg" = --help ]; then  # answer without setting anything up
    echo "usage: bash scripts/train.sh [OPTIONS]: set up .venv (scripts/setup.sh), then run examples/mnist.py [OPTIONS]"
    if [ -x .venv/bin/python ]; then
      exec .venv/bin/python examples/mnist.py --help
    fi
    awk 'NR > 1 && /^"""$/ { exit } { sub(/^"""/, ""); print }' examples/mnist.py  # not set up yet: its docstring
    exit 0
  fi
done
bash scripts/setup.sh
.venv/bin/python -m tinygrad_core.devices
exec .venv/bin/python examples/mnist.py "$@"
