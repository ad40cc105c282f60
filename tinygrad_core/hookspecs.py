"""The pluggy hook specs: the whole contract between the core and a backend's plugin module, each documented in full.

A backend package points an entry point of the group `tinygrad_core.backends` at a module of `@hookimpl`
functions (`from tinygrad_core import hookimpl`); tinygrad_core.devices loads it on first use of Device.
Every hook section below reads: Called (when), Args (each argument), Returns (what to return), Results (how the
results of several plugins combine). tests/unit/test_hookspecs.py keeps these sections in step with the signatures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from tinygrad_core.devices import BackendSpec

PROJECT = "tinygrad_core"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_backend() -> BackendSpec | list[BackendSpec] | None:
    """Describe the backend(s) this plugin provides.

    Called:
        Once per plugin, the first time the process uses the device registry (`Device[...]`, `Device.DEFAULT`, a
        Tensor's device, `python -m tinygrad_core.devices`), or when a test or notebook passes the plugin to
        `Device.register(...)`. Never at `import tinygrad_core`. The plugin module must stay cheap to import, and
        this hook must not import the backend's heavy dependencies (pyopencl, cffi, pyobjc) or touch hardware:
        the spec names its device class and availability check as "module:attribute" strings, imported only when
        needed.

    Args:
        None.

    Returns:
        BackendSpec | list[BackendSpec] | None: one `tinygrad_core.devices.BackendSpec` per device name the plugin
        provides (a list for several), or None to provide nothing in this process. Its `name` is the upper-case
        device name ("OPENCL"), `aliases` other names ("CL",), `api_version` the plugin API implemented
        (`tinygrad_core.ops.PLUGIN_API`: the major must equal the core's and the minor be at most the core's),
        `priority` ranks it for `Device.DEFAULT`, `availability` is "module:function" returning None when the
        backend can run here or else the reason, `device` is "module:Class" of the `runtime.Device` subclass,
        `device_count` optionally "module:function" returning how many devices exist. The registry fills in
        `distribution` and `version` from the package the entry point belongs to.

    Results:
        All collected, not firstresult: every plugin's spec(s) are registered. A device name or alias claimed by
        two plugins, or an incompatible `api_version`, raises PluginError naming both sides; a plugin that fails
        to import is listed as unavailable with the import error as its reason, and the others still load.
    """
