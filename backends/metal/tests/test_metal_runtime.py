"""runtime.py without a Mac: availability on Linux, and every code path of the device against a fake Metal module
(fake_metal.py) whose kernels run through the MSL emulator. The real-GPU tests are in test_metal_device.py."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from tinygrad_metal import runtime
from tinygrad_metal.runtime import MetalDevice, MetalProgram, describe_error, launch_size, why_unavailable
from tinygrad_metal_testing.emulator import why_no_emulator
from tinygrad_metal_testing.fake_metal import FakeMetal, NSError

from tinygrad_core.dtype import dtypes
from tinygrad_core.errors import CompileError, DeviceError
from tinygrad_core.ops import Ops
from tinygrad_core.testing.kernels import alu, kernel, load, tracker

F32 = dtypes.float32
needs_emulator = pytest.mark.skipif(why_no_emulator() is not None, reason=str(why_no_emulator()))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeMetal:
    metal = FakeMetal()
    monkeypatch.setattr(runtime, "_metal", lambda: metal)
    return metal


@pytest.fixture
def metal_device(fake: FakeMetal) -> MetalDevice:
    return MetalDevice("METAL")


def run_add(metal_device: MetalDevice, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = a.size
    k = kernel(alu(Ops.ADD, F32, load(1, F32, tracker((n,))), load(2, F32, tracker((n,)))), (n,), [(F32, n), (F32, n)])
    handles = [metal_device.allocator.alloc(n * 4) for _ in range(3)]
    metal_device.allocator.copyin(handles[1], a.data)
    metal_device.allocator.copyin(handles[2], b.data)
    metal_device.run(k, handles)
    out = np.empty(n, np.float32)
    metal_device.allocator.copyout(out.data, handles[0])
    return out


# --- availability: what Linux users see ---
@pytest.mark.skipif(sys.platform == "darwin", reason="checks what non-macOS systems report")
def test_metal_unavailable_off_macos() -> None:
    assert why_unavailable() == "Metal needs macOS"


@pytest.mark.skipif(sys.platform == "darwin", reason="checks what non-macOS systems report")
def test_metal_device_env_fails_with_one_clear_error() -> None:
    env = {**os.environ, "DEVICE": "METAL", "TINYGRAD_PLUGINS": "metal,cpu"}  # the others only cost time here
    # with the short tracebacks a program opts into (importing tinygrad_core changes no excepthook)
    code = "import tinygrad_core; tinygrad_core.errors.install_excepthook(); tinygrad_core.Tensor([1]).numpy()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("DeviceError: "), result.stderr
    assert "Metal needs macOS" in last
    assert "ImportError" not in result.stderr
    assert "ModuleNotFoundError" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 4, result.stderr  # no wall of internal frames


@pytest.mark.skipif(sys.platform == "darwin", reason="checks what non-macOS systems report")
def test_metal_listed_as_unavailable() -> None:
    env = {**os.environ, "TINYGRAD_PLUGINS": "metal,cpu"}
    result = subprocess.run(
        [sys.executable, "-m", "tinygrad_core.devices"], capture_output=True, text=True, env=env, timeout=120
    )
    line = next(line for line in result.stdout.splitlines() if " METAL " in f" {line} ")
    assert "tinygrad-metal" in line
    assert "unavailable: Metal needs macOS" in line


def test_metal_import_is_cheap() -> None:
    imports = "import sys, tinygrad_metal.plugin, tinygrad_metal.runtime"
    code = f"{imports}; print('Metal' in sys.modules, 'objc' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["False", "False"], result.stderr


def test_metal_availability_on_a_mac(monkeypatch: pytest.MonkeyPatch, fake: FakeMetal) -> None:
    monkeypatch.setattr(runtime.sys, "platform", "darwin")
    assert why_unavailable() is None
    fake.gpu = False
    assert "no Metal GPU" in str(why_unavailable())

    def missing() -> None:
        raise ImportError("No module named 'Metal'")

    monkeypatch.setattr(runtime, "_metal", missing)
    assert "pip install pyobjc-framework-Metal" in str(why_unavailable())


# --- launch sizes and error text: plain Python ---
@pytest.mark.parametrize(
    ("global_size", "max_threads", "width", "group"),
    [
        (1, 1024, 32, 1),
        (20, 1024, 32, 20),
        (100, 1024, 32, 96),
        (5000, 1024, 32, 1024),
        (5000, 768, 32, 768),
        (70, 64, 32, 64),
    ],
)
def test_metal_launch_size(global_size: int, max_threads: int, width: int, group: int) -> None:
    threads, threadgroup = launch_size(global_size, 1, max_threads, width)
    assert threads == (global_size, 1, 1)
    assert threadgroup == (group, 1, 1)


def test_metal_launch_size_of_a_group_reduction() -> None:
    assert launch_size(10, 64, 1024, 32) == ((640, 1, 1), (64, 1, 1))  # exactly one group of 64 per global iteration
    with pytest.raises(DeviceError, match="written for 512 threads per threadgroup; this pipeline allows 256"):
        launch_size(10, 512, 256, 32)


def test_metal_describe_error() -> None:
    assert describe_error(NSError("Compilation failed: bad")) == "Compilation failed: bad"
    assert describe_error(NSError("", 7)) == "error code 7"
    assert "unknown" in describe_error(None)


# --- the device, on the fake ---
@needs_emulator
def test_metal_fake_runs_a_kernel_with_shared_buffers(fake: FakeMetal, metal_device: MetalDevice) -> None:
    a, b = np.arange(40, dtype=np.float32), np.full(40, 0.5, np.float32)
    np.testing.assert_array_equal(run_add(metal_device, a, b), a + b)
    assert ("buffer", 160, fake.MTLResourceStorageModeShared) in fake.calls
    assert ("library", False, None) in fake.calls  # fast math off: NaN comparisons keep their meaning


@needs_emulator
def test_metal_binds_every_buffer_in_order_and_dispatches_threads(fake: FakeMetal, metal_device: MetalDevice) -> None:
    run_add(metal_device, np.ones(40, np.float32), np.ones(40, np.float32))
    (command_buffer,) = fake.command_buffers
    (_pipeline, buffers, threads, group) = command_buffer.dispatches[0]
    assert sorted(buffers) == [0, 1, 2]
    assert len({id(b) for b in buffers.values()}) == 3
    assert command_buffer.encoders[0].ended
    assert command_buffer.waited
    expected = launch_size(command_buffer.dispatches[0][2].width, 1, 1024, 32)
    assert (threads.width, threads.height, threads.depth) == expected[0]
    assert (group.width, group.height, group.depth) == expected[1]
    assert command_buffer.label().startswith("E_")


@needs_emulator
def test_metal_math_mode_on_newer_macos(monkeypatch: pytest.MonkeyPatch) -> None:
    metal = FakeMetal(math_mode=True)
    monkeypatch.setattr(runtime, "_metal", lambda: metal)
    run_add(MetalDevice("METAL"), np.ones(4, np.float32), np.ones(4, np.float32))
    assert ("library", True, metal.MTLMathModeSafe) in metal.calls


def test_metal_compile_error_carries_the_log_and_source(fake: FakeMetal, metal_device: MetalDevice) -> None:
    fake.fail_next = "compile"
    with pytest.raises(CompileError, match=r"(?s)undeclared identifier 'x'.*\n   1 #include <metal_stdlib>"):
        metal_device.compiler.compile("#include <metal_stdlib>\nkernel void k(device float* a [[buffer(0)]]) {}\n")


@needs_emulator
def test_metal_pipeline_error(fake: FakeMetal, metal_device: MetalDevice) -> None:
    """A program that fails to load is rebuilt once (a bad cache entry); one that fails again is reported."""
    fake.fail_next = "pipeline"
    np.testing.assert_array_equal(
        run_add(metal_device, np.ones(8, np.float32), np.ones(8, np.float32)), np.full(8, 2.0)
    )
    fake.fail_always = "pipeline"
    with pytest.raises(CompileError, match=r"compute pipeline for E_16.*internal error"):
        run_add(metal_device, np.ones(16, np.float32), np.ones(16, np.float32))


@needs_emulator
def test_metal_gpu_failure_is_a_device_error_naming_the_kernel(fake: FakeMetal, metal_device: MetalDevice) -> None:
    fake.fail_next = "gpu"
    with pytest.raises(DeviceError, match=r"METAL: E_8 failed on the GPU: .*page fault"):
        run_add(metal_device, np.ones(8, np.float32), np.ones(8, np.float32))
    assert metal_device.in_flight == []  # the failure is reported once, the queue is usable again
    np.testing.assert_array_equal(
        run_add(metal_device, np.ones(8, np.float32), np.ones(8, np.float32)), np.full(8, 2.0)
    )


def test_metal_allocator_limits(fake: FakeMetal, metal_device: MetalDevice) -> None:
    fake.max_buffer = 1000
    with pytest.raises(DeviceError, match="can't allocate 1001 bytes in one buffer"):
        metal_device.allocator.alloc(1001)
    fake.fail_next = "alloc"
    with pytest.raises(DeviceError, match="out of memory"):
        metal_device.allocator.alloc(16)
    assert metal_device.allocator.alloc(0).length() == 1  # Metal has no empty buffers


def test_metal_copy_roundtrip(fake: FakeMetal, metal_device: MetalDevice) -> None:
    handle = metal_device.allocator.alloc(12)
    metal_device.allocator.copyin(handle, np.array([1, 2, 3], np.int32).data)
    out = np.zeros(3, np.int32)
    metal_device.allocator.copyout(out.data, handle)
    assert out.tolist() == [1, 2, 3]


@needs_emulator
def test_metal_gpu_time_when_waiting(fake: FakeMetal, metal_device: MetalDevice) -> None:
    run_add(metal_device, np.ones(8, np.float32), np.ones(8, np.float32))  # builds the program
    program = next(iter(metal_device._programs.values())).steps[0].program
    assert isinstance(program, MetalProgram)
    handles = [metal_device.allocator.alloc(32) for _ in range(3)]
    program(handles, 8)
    assert len(metal_device.in_flight) == 1  # asynchronous until someone waits
    assert program.timed(handles, 8) == pytest.approx(0.25)
    assert metal_device.in_flight == []


@needs_emulator
def test_metal_tensor_program_on_the_fake(fake: FakeMetal) -> None:
    from tinygrad_core import Tensor
    from tinygrad_core.devices import BackendSpec, Device

    spec = BackendSpec(name="METAL", device="tinygrad_metal.runtime:MetalDevice", api_version=(2, 1))
    with Device.isolated():
        Device.register(spec)
        x = Tensor(np.arange(12, dtype=np.float32).reshape(3, 4), device="METAL")
        out = ((x * 2 + 1).relu().sum(axis=1) / 4).numpy()
        np.testing.assert_allclose(out, ((np.arange(12).reshape(3, 4) * 2 + 1).sum(axis=1) / 4))
        with pytest.raises(DeviceError, match="Metal has no float64"):
            Tensor([1.0], device="METAL").cast(dtypes.float64).numpy()
