"""The real METAL device: these run only on macOS with a Metal GPU and pyobjc-framework-Metal, and are skipped with
the backend's own reason (on Linux: "Metal needs macOS") everywhere else. On a Mac, also run the whole suite:
`pytest tests --device METAL` and `pytest --pyargs tinygrad_core.testing.suite --device METAL` (README.md)."""

from __future__ import annotations

import numpy as np
import pytest
from tinygrad_metal.runtime import why_unavailable

from tinygrad_core import Tensor, dtypes
from tinygrad_core.errors import CompileError, DeviceError

pytestmark = pytest.mark.skipif(why_unavailable() is not None, reason=f"METAL can't run here: {why_unavailable()}")


def test_metal_real_elementwise_and_reduce() -> None:
    host = np.arange(4096, dtype=np.float32).reshape(64, 64) / 100
    x = Tensor(host, device="METAL")
    np.testing.assert_allclose(((x * 2 + 1).relu()).numpy(), np.maximum(host * 2 + 1, 0), rtol=1e-6)
    np.testing.assert_allclose(x.sum(axis=1).numpy(), host.sum(axis=1), rtol=1e-5)  # a threadgroup reduction
    np.testing.assert_allclose(x.exp().log().numpy(), host, rtol=1e-5, atol=1e-5)


def test_metal_real_matmul_and_backward() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((32, 48)).astype(np.float32), rng.standard_normal((48, 16)).astype(np.float32)
    ta, tb = Tensor(a, device="METAL", requires_grad=True), Tensor(b, device="METAL", requires_grad=True)
    out = (ta @ tb).relu()
    out.sum().backward()
    np.testing.assert_allclose(out.numpy(), np.maximum(a @ b, 0), rtol=1e-4, atol=1e-4)
    assert ta.grad is not None
    mask = (a @ b > 0).astype(np.float32)
    np.testing.assert_allclose(ta.grad.numpy(), mask @ b.T, rtol=1e-4, atol=1e-4)


def test_metal_real_half_and_nan_semantics() -> None:
    x = Tensor(np.array([1.5, -2.0, 65504.0], np.float16), device="METAL")
    np.testing.assert_array_equal((x * 2).numpy(), np.array([3.0, -4.0, np.inf], np.float16))
    y = Tensor(np.array([np.nan, 1.0, -np.inf], np.float32), device="METAL")
    np.testing.assert_array_equal(np.isnan(y.maximum(0).numpy()), [True, False, False])  # fast math is off


def test_metal_real_float64_is_a_clear_error() -> None:
    with pytest.raises(DeviceError, match="Metal has no float64"):
        Tensor([1.0], device="METAL").cast(dtypes.float64).numpy()


def test_metal_real_compile_error_has_the_log() -> None:
    from tinygrad_metal.runtime import MetalDevice

    from tinygrad_core.devices import Device

    device = Device["METAL"]
    assert isinstance(device, MetalDevice)
    with pytest.raises(CompileError, match=r"(?s)Metal could not compile.*undeclared"):
        device.compiler.compile(
            "#include <metal_stdlib>\nkernel void broken(device float* a [[buffer(0)]]) { a[0] = nope; }\n"
        )


def test_metal_real_gpu_timing() -> None:
    from tinygrad_core.devices import Device

    device = Device["METAL"]
    Tensor.ones(1024, device="METAL").sum().numpy()
    compiled = next(iter(device._programs.values()))  # type: ignore[attr-defined]
    step = compiled.steps[0]
    handles = [device.allocator.alloc(1024 * 4), device.allocator.alloc(1024 * 4)]
    seconds = step.program.timed(handles, step.global_size)
    assert seconds is not None
    assert 0 <= seconds < 1
