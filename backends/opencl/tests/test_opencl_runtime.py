"""The OpenCL runtime on a real OpenCL platform (PoCL in CI): allocator, compile cache, launches, errors, capabilities,
device indices and the unavailable path. Skipped with the backend's own reason where OpenCL can't run."""

from __future__ import annotations

import dataclasses
import gc
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tinygrad_opencl import plugin, runtime

from tinygrad_core import Tensor, flags
from tinygrad_core.devices import Device
from tinygrad_core.dtype import dtypes
from tinygrad_core.errors import CompileError, DeviceError

REASON = runtime.why_unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"OpenCL can't run here: {REASON}")

SCALE = """__kernel void scale(__global float* restrict out, __global const float* restrict x) {
  int i = get_global_id(0);
  out[i] = x[i] * 3.0f;
}
"""


@pytest.fixture
def opencl() -> runtime.OpenCLDevice:
    dev = Device["OPENCL"]
    assert isinstance(dev, runtime.OpenCLDevice)
    return dev


# --- allocator ---
def test_copy_in_and_out(opencl):
    data = np.arange(1000, dtype=np.float32)
    handle = opencl.allocator.alloc(data.nbytes)
    opencl.allocator.copyin(handle, data.data.cast("B"))
    out = np.zeros_like(data)
    opencl.allocator.copyout(out.data.cast("B"), handle)
    np.testing.assert_array_equal(out, data)
    opencl.allocator.free(handle, data.nbytes)


def test_empty_buffer(opencl):
    handle = opencl.allocator.alloc(0)
    opencl.allocator.copyin(handle, memoryview(b""))
    opencl.allocator.copyout(memoryview(bytearray()), handle)
    opencl.allocator.free(handle, 0)
    assert Tensor.zeros(0, device="OPENCL").numpy().shape == (0,)


def test_freed_tensors_release_their_buffers(opencl):
    gc.collect()
    before = opencl.allocator.live_bytes
    for _ in range(20):
        t = (Tensor.ones(256, 256, device="OPENCL") * 2).realize()
        assert t.numpy()[0, 0] == 2
        del t
    gc.collect()
    assert opencl.allocator.live_bytes == before


# --- compiler, cache and launches ---
def test_program_launch_over_global_size(opencl):
    binary = opencl.compiler.compile(SCALE)
    program = opencl.make_program("scale", binary)
    x = np.arange(4096, dtype=np.float32)
    out_handle, x_handle = opencl.allocator.alloc(x.nbytes), opencl.allocator.alloc(x.nbytes)
    opencl.allocator.copyin(x_handle, x.data.cast("B"))
    program([out_handle, x_handle], x.size)
    opencl.synchronize()
    out = np.empty_like(x)
    opencl.allocator.copyout(out.data.cast("B"), out_handle)
    np.testing.assert_array_equal(out, x * 3)


def test_binaries_are_cached_on_disk(opencl, tmp_path, monkeypatch):
    with flags.Context(CACHEDIR=str(tmp_path)):
        binary = opencl.compiler.compile_cached(SCALE)
        assert list(tmp_path.rglob("*")), "nothing was written to the cache"

        def no_compiler(src: str) -> bytes:
            raise AssertionError("a cached kernel was compiled again")

        monkeypatch.setattr(opencl.compiler, "compile", no_compiler)
        assert opencl.compiler.compile_cached(SCALE) == binary
    opencl.make_program("scale", binary)  # a cached binary loads into a program


def test_cache_key_includes_the_driver(opencl):
    assert opencl.cl_device.driver_version in opencl.compiler.identity
    assert opencl.cl_device.name in opencl.compiler.identity


def test_build_error_shows_the_build_log_and_source(opencl):
    bad = "__kernel void broken(__global float* out) {\n  out[0] = undefined_name;\n}\n"
    with pytest.raises(CompileError) as info:
        opencl.compiler.compile(bad)
    message = str(info.value)
    assert "undefined_name" in message
    assert opencl.cl_device.name.strip() in message
    assert "   2   out[0] = undefined_name;" in message  # the numbered source


def test_kernels_run_in_parallel_work_items():
    x = np.random.default_rng(0).standard_normal((300, 70)).astype(np.float32)
    t = Tensor(x, device="OPENCL")
    np.testing.assert_allclose((t.exp() * 2).sum(1).numpy(), (np.exp(x) * 2).sum(1), rtol=1e-5)
    np.testing.assert_allclose(t.max().numpy(), x.max())
    np.testing.assert_allclose((t @ t.T).numpy(), x @ x.T, rtol=1e-4, atol=1e-4)


# --- device indices ---
def test_device_names_and_aliases():
    assert Device.canonicalize("cl") == "OPENCL"
    assert Device.canonicalize("opencl:0") == "OPENCL"
    assert Device["CL:0"] is Device["OPENCL"]
    assert runtime.device_count() == len(runtime._devices()) >= 1


def test_index_past_the_last_device_is_a_clear_error():
    count = runtime.device_count()
    with pytest.raises(DeviceError, match=rf"OPENCL:{count + 6} does not exist: OPENCL has {count} device"):
        Device[f"OPENCL:{count + 6}"]


def test_every_device_opens_in_enumeration_order():
    for i, cl_device in enumerate(runtime._devices()):
        dev = Device[f"OPENCL:{i}"]
        assert isinstance(dev, runtime.OpenCLDevice)
        assert dev.cl_device == cl_device
        np.testing.assert_array_equal((Tensor([1.0, 2.0], device=f"OPENCL:{i}") + 1).numpy(), [2.0, 3.0])


TWO_DEVICES = """
import numpy as np
from tinygrad_core import Tensor
from tinygrad_core.errors import DeviceError
from tinygrad_opencl import runtime

assert runtime.device_count() == 2, runtime.OpenCLDevice.describe()
on_1 = Tensor([1.0, 2.0], device="OPENCL:1") * 3
on_0 = on_1.to("OPENCL")
assert (on_1.device, on_0.device) == ("OPENCL:1", "OPENCL")
np.testing.assert_array_equal((on_0 + 1).numpy(), [4.0, 7.0])
np.testing.assert_array_equal(on_0.to("OPENCL:1").numpy(), [3.0, 6.0])
for bad in (lambda: (on_1 + on_0).numpy(), lambda: Tensor([1.0], device="OPENCL:2")):
    try:
        bad()
    except DeviceError as e:
        print(e)
    else:
        raise AssertionError("no error")
"""


def test_two_devices_from_pocl():
    """PoCL makes a second device on request (POCL_DEVICES): OPENCL:1 computes and copies to and from OPENCL:0."""
    if "Portable Computing Language" not in [device.platform.name for device in runtime._devices()]:
        pytest.skip("needs PoCL to make a second device")
    env = {**os.environ, "POCL_DEVICES": "pthread pthread"}
    result = subprocess.run([sys.executable, "-c", TWO_DEVICES], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "tensors on different devices (OPENCL:1 and OPENCL)" in result.stdout
    assert "OPENCL:2 does not exist: OPENCL has 2 devices" in result.stdout


def test_describe_names_each_device():
    text = runtime.OpenCLDevice.describe()
    assert text.startswith("OPENCL:0 ")
    assert runtime._devices()[0].name.strip() in text


def test_devices_listing_shows_the_device_name():
    out = subprocess.run([sys.executable, "-m", "tinygrad_core.devices"], capture_output=True, text=True, check=True)
    line = next(line for line in out.stdout.splitlines() if "OPENCL" in line.split())
    assert "available" in line
    assert runtime._devices()[0].name.strip() in line


# --- capabilities ---
def test_declared_dtypes_follow_the_extensions(opencl):
    extensions = opencl.cl_device.extensions.split()
    assert (dtypes.float64 in opencl.dtypes) == ("cl_khr_fp64" in extensions)
    assert (dtypes.float16 in opencl.dtypes) == ("cl_khr_fp16" in extensions)
    assert dtypes.bfloat16 not in opencl.dtypes


def test_float64_computes_in_double_where_declared(opencl):
    if dtypes.float64 not in opencl.dtypes:
        pytest.skip(f"{opencl.name} lacks float64: {opencl.missing_dtype_reason}")
    x = np.array([1 + 2**-40, 3.0, -1e300], dtype=np.float64)
    np.testing.assert_array_equal((Tensor(x, device="OPENCL") * 2).numpy(), x * 2)


def test_missing_half_is_a_clear_error_not_wrong_numbers(opencl):
    if dtypes.float16 in opencl.dtypes:
        pytest.skip(f"{opencl.name} has cl_khr_fp16")
    x = np.array([1.5, 2.25], dtype=np.float16)
    t = Tensor(x, device="OPENCL")  # stored as half: no kernel needed
    np.testing.assert_array_equal(t.numpy(), x)
    np.testing.assert_array_equal(t.to("CPU").numpy(), x)
    with pytest.raises(DeviceError, match=r"does not support half.*cl_khr_fp16"):
        (t * 2).numpy()


# --- cross-device ---
def test_to_opencl_and_back():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    on_cl = Tensor(x, device="CPU").to("OPENCL")
    assert on_cl.device == "OPENCL"
    back = (on_cl * 2).to("CPU")
    assert back.device == "CPU"
    np.testing.assert_array_equal(back.numpy(), x * 2)


def test_mixing_devices_is_an_error_naming_both():
    a, b = Tensor([1.0, 2.0], device="OPENCL"), Tensor([1.0, 2.0], device="CPU")
    with pytest.raises(Exception, match=r"(?s)(OPENCL.*CPU|CPU.*OPENCL)"):
        (a + b).numpy()


# --- availability ---
@pytest.fixture
def no_platform(monkeypatch):
    """pyopencl imports, but the ICD loader finds no platform."""
    import pyopencl as cl

    def none_found() -> list[object]:
        raise cl.LogicError("clGetPlatformIDs failed: PLATFORM_NOT_FOUND_KHR")

    runtime._devices.cache_clear()
    monkeypatch.setattr(cl, "get_platforms", none_found)
    yield
    monkeypatch.undo()
    runtime._devices.cache_clear()


def test_no_platform_makes_the_backend_unavailable(no_platform):
    assert runtime.why_unavailable() == "no OpenCL platform found (install an ICD such as PoCL)"
    assert runtime.device_count() == 0


def test_platform_without_devices_is_unavailable(monkeypatch):
    import pyopencl as cl

    class EmptyPlatform:
        def get_devices(self) -> list[object]:
            raise cl.RuntimeError("clGetDeviceIDs failed: DEVICE_NOT_FOUND")

    runtime._devices.cache_clear()
    monkeypatch.setattr(cl, "get_platforms", lambda: [EmptyPlatform()])
    try:
        assert runtime.why_unavailable() == runtime.NO_PLATFORM
    finally:
        monkeypatch.undo()
        runtime._devices.cache_clear()


def test_default_selection_skips_it_and_device_env_names_the_reason(no_platform):
    from tinygrad_core.devices import BackendSpec

    fallback = BackendSpec(name="FALLBACK", priority=1, device="tinygrad_opencl.runtime:OpenCLDevice")
    with Device.isolated():
        Device.register(plugin)
        Device.register(fallback)
        assert Device.why_unavailable("OPENCL") == runtime.NO_PLATFORM
        assert Device.DEFAULT == "FALLBACK"  # OPENCL outranks it, but can't run
        with flags.Context(DEVICE="OPENCL"), pytest.raises(DeviceError, match="no OpenCL platform found"):
            Device.DEFAULT  # noqa: B018


def test_missing_pyopencl_is_a_reason(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyopencl", None)  # makes `import pyopencl` raise ImportError
    assert "pip install pyopencl" in (runtime.why_unavailable() or "")


def test_plugin_module_is_cheap():
    code = "import sys, tinygrad_opencl.plugin; assert 'pyopencl' not in sys.modules, 'plugin imported pyopencl'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- training ---
@pytest.mark.slow
def test_mnist_example_trains():
    script = Path(__file__).parents[3] / "examples" / "mnist.py"
    if not script.exists():
        pytest.skip("examples/mnist.py is not in this checkout")
    args = [sys.executable, str(script), "--device", "OPENCL", "--digits", "--limit", "256", "--epochs", "1"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


# --- work groups ---
def test_large_private_arrays_launch_in_small_work_groups(opencl):
    src = SCALE.replace(
        "int i = get_global_id(0);", "int i = get_global_id(0);\n  float tile[32768];\n  tile[i] = x[i];"
    )
    src = src.replace("x[i] * 3.0f", "tile[i] * 3.0f")
    program = opencl.make_program("scale", opencl.compiler.compile(src))
    assert program.private == 32768 * 4
    (global_size,), local = program.launch_dims(128)
    assert global_size == 128
    assert local is not None
    assert local[0] * program.private <= runtime.PRIVATE_BUDGET


def test_cpu_devices_get_two_work_groups_per_core(opencl):
    if not opencl.is_cpu:
        pytest.skip(f"{opencl.name} is not a CPU device: its driver picks work groups")
    program = opencl.make_program("scale", opencl.compiler.compile(SCALE))
    (_,), local = program.launch_dims(4096)
    assert local is not None
    assert 4096 // local[0] >= 2 * opencl.cl_device.max_compute_units


def test_group_reductions_in_local_memory_are_correct(opencl, monkeypatch):
    """Off by default on CPU devices (slower there), on for GPUs: the __local path must be right wherever it runs."""
    monkeypatch.setattr(opencl, "_capabilities", dataclasses.replace(opencl.capabilities, group_reductions=True))
    x = np.random.default_rng(1).standard_normal((24, 2048)).astype(np.float32)
    t = Tensor(x, device="OPENCL")
    np.testing.assert_allclose(t.sum(1).numpy(), x.sum(1), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(t.max(1).numpy(), x.max(1))
    np.testing.assert_allclose((t * 3).exp().sum(1).numpy(), np.exp(x * 3).sum(1), rtol=1e-4)
