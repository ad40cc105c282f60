"""Entry point of tinygrad-opencl: describes the backend to the core. Cheap to import (pyopencl is not imported)."""

from tinygrad_core import hookimpl
from tinygrad_core.devices import BackendSpec


@hookimpl
def register_backend() -> BackendSpec:
    return BackendSpec(
        name="OPENCL",
        aliases=("CL",),
        api_version=(2, 1),  # the plugin API this backend implements (tinygrad_core.ops.PLUGIN_API when written)
        priority=15,  # above CPU (10), below CLANG (20): on a CPU-only box PoCL runs our kernels slower than clang
        availability="tinygrad_opencl.runtime:why_unavailable",  # None, or "no OpenCL platform found (...)"
        device="tinygrad_opencl.runtime:OpenCLDevice",  # imported on first use only
        device_count="tinygrad_opencl.runtime:device_count",  # OPENCL:i past the last device is a clear error
    )
