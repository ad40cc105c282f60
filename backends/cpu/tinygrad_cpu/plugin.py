"""Entry point of tinygrad-cpu: describes the backend to the core. Cheap to import."""

from tinygrad_core import hookimpl
from tinygrad_core.devices import BackendSpec


@hookimpl
def register_backend() -> BackendSpec:
    return BackendSpec(
        name="CPU",
        aliases=("NUMPY",),
        api_version=(2, 2),  # the plugin API this backend implements (tinygrad_core.ops.PLUGIN_API when written)
        priority=10,  # the fallback: every other backend ranks above it
        availability=None,  # numpy runs anywhere
        device="tinygrad_cpu.runtime:CPUDevice",  # imported on first use only
    )
