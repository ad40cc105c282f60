"""Entry point of tinygrad-tiny: describes the backend to the core. Cheap to import."""

from tinygrad_core import hookimpl
from tinygrad_core.devices import BackendSpec


@hookimpl
def register_backend() -> BackendSpec:
    return BackendSpec(
        name="TINY",
        api_version=(2, 2),  # the plugin API this code was written against
        priority=-1,  # negative: opt-in, never the default device and never tested unless named
        device="tinygrad_tiny.runtime:TinyDevice",  # imported on first use only
        pip="pip install ./tinygrad-tiny",
    )
