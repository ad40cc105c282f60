"""Entry point of tinygrad-metal: describes the backend to the core. Cheap to import (no pyobjc here)."""

import sys

from tinygrad_core import hookimpl
from tinygrad_core.devices import BackendSpec

NO_MACOS = "Metal needs macOS"


def why_unavailable() -> str | None:
    """The registry asks every process that picks a default device: off macOS, answer without importing the
    runtime (the renderer and the compiled-backend machinery); on a Mac, the runtime checks pyobjc and the GPU."""
    if sys.platform != "darwin":
        return NO_MACOS
    from tinygrad_metal.runtime import why_unavailable as runtime_check

    return runtime_check()


@hookimpl
def register_backend() -> BackendSpec:
    return BackendSpec(
        name="METAL",
        api_version=(2, 1),
        priority=40,  # a GPU: above CLANG and CPU wherever it can run
        availability="tinygrad_metal.plugin:why_unavailable",  # None, or "Metal needs macOS", ...
        device="tinygrad_metal.runtime:MetalDevice",  # imported on first use only
    )
