#!/usr/bin/env bash
# Installs everything tinygrad-core needs into ./.venv: the core, every in-tree backend, and the test tools.
# As root it also installs the system pieces with apt: a C compiler (clang), an OpenCL runtime (PoCL) and the
# Fashion-MNIST data set. As a normal user those steps are skipped and the backends that need them report why.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  missing=""
  for pkg in clang-15 pocl-opencl-icd ocl-icd-libopencl1 dataset-fashion-mnist openmpi-bin libopenmpi-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
  done
  if [ -n "$missing" ]; then
    apt-get update -qq
    apt-get install -y -qq $missing >/dev/null
  fi
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
packages=(-e ".[test,mpi,examples]")
for backend in backends/*/; do
  if [ -f "$backend/pyproject.toml" ]; then
    packages+=(-e "$backend")
  fi
done
# The out-of-tree example backends (tinygrad-torch, tinygrad-tiny) install like any third party's: built from
# their folders, not editable, through nothing but their own pyproject.toml and entry point.
for example in examples/*/; do
  if [ -f "$example/pyproject.toml" ]; then
    packages+=("./$example")
  fi
done
.venv/bin/python -m pip install -q "${packages[@]}"
