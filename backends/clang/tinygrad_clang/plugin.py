"""Entry point of tinygrad-clang: describes the backend to the core. Cheap to import."""

from tinygrad_core import hookimpl
from tinygrad_core.devices import BackendSpec


@hookimpl
def register_backend() -> BackendSpec:
    return BackendSpec(
        name="CLANG",
        api_version=(2, 2),
        priority=20,  # above the numpy CPU backend: compiled kernels are much faster
        availability="tinygrad_clang.runtime:why_unavailable",  # None, or "no C compiler found ..."
        device="tinygrad_clang.runtime:ClangDevice",  # imported on first use only
        device_count="tinygrad_clang.runtime:device_count",  # one: the whole CPU (kernels use every core)
    )
