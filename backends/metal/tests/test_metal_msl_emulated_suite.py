"""Our generated MSL, run on the CPU by the emulator (the METAL_EMU device) and checked against the CPU backend at
every launch: a Linear+ReLU forward and backward, reductions through threadgroup memory, and the conformance kit's
core levels plus the core's op tests in a child pytest. These prove what the MSL computes, not that Apple's compiler
accepts it (lint.py and a Mac do that)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tinygrad_metal_testing.device import STATS
from tinygrad_metal_testing.emulator import why_no_emulator
from tinygrad_metal_testing.pytest_plugin import REPORT

from tinygrad_core import Tensor, dtypes
from tinygrad_core.ops import ALU

ROOT = Path(__file__).resolve().parents[3]


def _same_params(device: str, w: np.ndarray, b: np.ndarray) -> tuple[Tensor, Tensor]:
    return Tensor(w, device=device, requires_grad=True), Tensor(b, device=device, requires_grad=True)


def test_metal_msl_emulated_linear_relu_forward_backward(emu: str) -> None:
    from tinygrad_core.nn import Linear

    rng = np.random.default_rng(0)
    x_host = rng.standard_normal((8, 64)).astype(np.float32)
    weight = rng.standard_normal((32, 64)).astype(np.float32) / 8
    bias = rng.standard_normal(32).astype(np.float32)
    upstream = rng.standard_normal((8, 32)).astype(np.float32)
    barrier_kernels = len(STATS.barrier_sources)
    results = {}
    for device in ("CPU", emu):
        layer = Linear(64, 32)
        layer.weight, layer.bias = _same_params(device, weight, bias)
        x = Tensor(x_host, device=device, requires_grad=True)
        out = layer(x).relu()
        loss = (out * Tensor(upstream, device=device)).sum()
        loss.backward()
        assert x.grad is not None
        assert layer.weight.grad is not None
        assert layer.bias.grad is not None
        results[device] = [t.numpy() for t in (out, loss, x.grad, layer.weight.grad, layer.bias.grad)]
    for name, got, want in zip(("out", "loss", "dx", "dW", "db"), results[emu], results["CPU"]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=name)
    # the 64-long forward reduction and the 32-long dx reduction go through threadgroup memory
    assert len(STATS.barrier_sources) > barrier_kernels


@pytest.mark.parametrize(
    ("shape", "axis", "dtype"),
    [
        ((4, 256), 1, dtypes.float32),
        ((3, 5, 128), 2, dtypes.float32),
        ((2, 64, 3), 1, dtypes.float32),
        ((512,), 0, dtypes.float32),
        ((6, 64), 1, dtypes.float16),
        ((6, 96), 1, dtypes.int32),
    ],
)
def test_metal_msl_emulated_threadgroup_reductions(emu: str, shape: tuple[int, ...], axis: int, dtype: object) -> None:
    rng = np.random.default_rng(1)
    host = rng.uniform(-3, 3, shape).astype(dtype.np)  # type: ignore[attr-defined]
    before = len(STATS.barrier_sources)
    x = Tensor(host, device=emu)
    total, top = (x * 2).sum(axis=axis).numpy(), (x.max(axis=axis) + 1).numpy()
    tol = 1e-2 if dtype == dtypes.float16 else 1e-5
    np.testing.assert_allclose(
        total, (host * 2).sum(axis=axis, dtype=np.float64).astype(host.dtype), rtol=tol, atol=tol
    )
    np.testing.assert_array_equal(top, host.max(axis=axis) + 1)
    assert len(STATS.barrier_sources) > before, "expected a group reduction through threadgroup memory"


def _child_pytest(tmp_path: Path, args: list[str]) -> dict:
    report = tmp_path / "emulation.json"
    env = {**os.environ, REPORT: str(report), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "tinygrad_metal_testing.pytest_plugin", "-p", "no:cacheprovider"]
    cmd += ["--device", "METAL_EMU", *args]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    stats = json.loads(report.read_text())
    print(
        f"emulated: {stats['launches']} launches of {stats['distinct_kernels']} distinct MSL kernels "
        f"({stats['barrier_kernels']} with threadgroup barriers), {stats['matched']} matched the CPU backend"
    )
    assert stats["launches"] > 0
    assert stats["matched"] == stats["launches"]
    return stats


@pytest.mark.skipif(why_no_emulator() is not None, reason=str(why_no_emulator()))
@pytest.mark.parametrize("levels", ["ops", "registration,buffers,reduce"])  # two children: xdist runs both at once
def test_metal_msl_emulated_conformance_kit(tmp_path: Path, levels: str) -> None:
    """The kit's core levels: every primitive op on every dtype Metal declares, LOADs through views, reductions."""
    stats = _child_pytest(tmp_path, ["--pyargs", "tinygrad_core.testing.suite", "--kit-level", levels])
    if levels == "ops":
        every_op = {op.name for op in ALU} | {"LOAD", "STORE", "CONST"}
        assert every_op <= set(stats["ops"]), f"not emulated: {sorted(every_op - set(stats['ops']))}"
        dtypes_seen = set(stats["dtypes"])
        assert {
            "bool",
            "char",
            "uchar",
            "short",
            "ushort",
            "int",
            "uint",
            "long",
            "ulong",
            "half",
            "float",
        } <= dtypes_seen
    else:
        assert {"REDUCE_SUM", "REDUCE_MAX"} <= set(stats["ops"])
        assert stats["barrier_kernels"] > 0  # long reductions went through threadgroup memory


@pytest.mark.skipif(not (ROOT / "tests" / "test_ops.py").exists(), reason="needs the tinygrad-core checkout's tests/")
@pytest.mark.skipif(why_no_emulator() is not None, reason=str(why_no_emulator()))
def test_metal_msl_emulated_core_op_tests(tmp_path: Path) -> None:
    """The core's Tensor op tests (values vs numpy, gradients vs PyTorch) with every kernel run as emulated MSL."""
    _child_pytest(tmp_path, ["tests/test_ops.py"])
