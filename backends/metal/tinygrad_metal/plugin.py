"""Entry point of tinygrad-metal: describes the backend to the core. Cheap to import (no pyobjc here)."""

from tinygrad_core import hookimpl
from tinygrad_core.devices import BackendSpec


@hookimpl
def register_backend() -> BackendSpec:
    return BackendSpec(
        name="METAL",
        api_version=(2, 1),
        priority=40,  # a GPU: above CLANG and CPU wherever it can run
        availability="tinygrad_metal.runtime:why_unavailable",  # None, or "Metal needs macOS", ...
        device="tinygrad_metal.runtime:MetalDevice",  # imported on first use only
    )
