"""What is specific to tinygrad-torch: the device mapping and its errors. Everything else is the conformance kit."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_core import Device, Tensor
from tinygrad_core.errors import DeviceError

torch = pytest.importorskip("torch")
pytest.importorskip("tinygrad_torch")
if Device.why_unavailable("TORCH") is not None:
    pytest.skip(f"TORCH can't run here: {Device.why_unavailable('TORCH')}", allow_module_level=True)


def test_device_follows_pytorch() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert Device["TORCH"].device.type == expected
    assert Device["TORCH"].allocator.alloc(8).device.type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_second_device_without_cuda_is_a_clear_error() -> None:
    from tinygrad_torch.runtime import TorchDevice

    with pytest.raises(
        DeviceError, match=r"TORCH:1 does not exist: TORCH has 1 device \(TORCH:0\) \(PyTorch .* on the CPU"
    ):
        Device["TORCH:1"]
    with pytest.raises(DeviceError, match=r"TORCH:1 would be cuda:1, but PyTorch .* sees no CUDA device"):
        TorchDevice("TORCH:1")


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_index_selects_cuda_device() -> None:
    assert Device["TORCH:1"].device == torch.device("cuda", 1)
    x = Tensor(np.arange(6, dtype=np.float32), device="TORCH:1")
    np.testing.assert_array_equal((x * 2).to("TORCH").numpy(), np.arange(6) * 2)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cpu_fallback_is_said(tmp_path: pytest.TempPathFactory) -> None:
    """Without a GPU, TORCH says once that it runs on the CPU, claims no CUDA name, and describes itself so."""
    import subprocess
    import sys

    from tinygrad_torch.plugin import cuda_visible

    assert not cuda_visible()
    assert "CUDA" not in Device.backends()[[s.name for s in Device.backends()].index("TORCH")].aliases
    assert "on the CPU: no CUDA device" in Device.describe("TORCH")
    code = "from tinygrad_core import Tensor\nfor _ in range(3): Tensor([1.0], device='TORCH:0').numpy()\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr.count("TORCH runs on the CPU: PyTorch") == 1


def test_a_real_program() -> None:
    x = np.random.default_rng(0).standard_normal((32, 64)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((64, 10)).astype(np.float32)
    out = (Tensor(x, device="TORCH") @ Tensor(w, device="TORCH")).relu().softmax().numpy()
    logits = np.maximum(x @ w, 0)
    expected = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(out, expected / expected.sum(1, keepdims=True), atol=1e-5)
