"""Level 'registration': the plugin registers, the backend can run here, and what it declares is well formed."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import pytest

from tinygrad_core import runtime
from tinygrad_core.devices import GROUP, PROGRAMMATIC, BackendSpec, Device, _load_target
from tinygrad_core.dtype import ALL_DTYPES, dtypes
from tinygrad_core.errors import DeviceError
from tinygrad_core.ops import PLUGIN_API
from tinygrad_core.testing import dtype_name
from tinygrad_core.testing.plugin import LEVELS, _glob

pytestmark = pytest.mark.kit("registration")
# The Tensor API's defaults: float math, int32 indices (argmax, arange), bool comparisons.
REQUIRED_DTYPES = (dtypes.bool, dtypes.int32, dtypes.float32)


def _spec(device: str) -> BackendSpec:
    base = Device.canonicalize(device).partition(":")[0]
    return next(spec for spec in Device.backends() if spec.name == base)


def _require_available(device: str) -> runtime.Device:
    reason = Device.why_unavailable(device)
    if reason is not None:
        pytest.skip(f"{device} can't run here: {reason}")
    return Device[device]


def test_registered(device: str) -> None:
    """Listed by the registry (and so by `python -m tinygrad_core.devices`), its names resolving to it."""
    spec = _spec(device)
    assert Device.canonicalize(device.lower()) == Device.canonicalize(device)
    for alias in spec.aliases:
        assert Device.canonicalize(alias) == spec.name, f"alias {alias} of {spec.name}"
    major, minor = spec.api
    assert major == PLUGIN_API[0], f"plugin API {spec.api} vs the core's {PLUGIN_API}"
    assert minor <= PLUGIN_API[1], f"plugin API {spec.api} is newer than the core's {PLUGIN_API}"
    assert spec.device.count(":") == 1, f"device should be 'module:Class', got {spec.device!r}"


def test_available(device: str) -> None:
    """The kit runs against the devices it was given: one that can't run here is a failure with the reason, not a
    skip (a backend author would otherwise see a green run that tested nothing)."""
    reason = Device.why_unavailable(device)
    assert reason is None, f"{device} can't run here: {reason}"


def test_device_object(device: str) -> None:
    dev = _require_available(device)
    assert isinstance(dev, runtime.Device), f"{type(dev).__name__} should subclass tinygrad_core.runtime.Device"
    assert dev.name == Device.canonicalize(device)
    assert Device[device] is dev, "device objects are cached per name"
    assert isinstance(dev.allocator, runtime.Allocator)
    dev.synchronize()


def test_capabilities(device: str) -> None:
    dev = _require_available(device)
    assert set(dev.dtypes) <= set(ALL_DTYPES), f"unknown dtypes declared: {set(dev.dtypes) - set(ALL_DTYPES)}"
    lacking = [dtype_name(d) for d in REQUIRED_DTYPES if d not in dev.dtypes]
    assert not lacking, f"every backend must compute {', '.join(map(dtype_name, REQUIRED_DTYPES))}; lacks {lacking}"
    if set(dev.dtypes) != set(ALL_DTYPES):
        assert isinstance(dev.missing_dtype_reason, str), "missing_dtype_reason is a str"
        assert dev.missing_dtype_reason, "say why dtypes are missing in missing_dtype_reason"
    size = dev.max_buffer_size
    assert size is None or isinstance(size, int), f"max_buffer_size {size!r}: None or a number of bytes"
    assert size is None or size >= 1 << 20, f"max_buffer_size {size}: a backend must hold buffers of 1 MiB"
    for pattern, reason in dev.known_failures.items():
        assert "::" in str(pattern), f"known failure {pattern!r}: write 'level::test[params]'"
        assert isinstance(reason, str), f"known failure {pattern!r}: the reason is a str"
        assert reason, f"known failure {pattern!r} needs a reason"


def test_known_failures_name_kit_tests(device: str, request: pytest.FixtureRequest) -> None:
    dev = _require_available(device)
    collected = [dict(item.user_properties) for item in request.session.items]
    ids = [str(props["kit_id"]) for props in collected if props.get("kit_device") == device]
    levels = {test_id.partition("::")[0] for test_id in ids}
    stale = [
        pattern
        for pattern in dev.known_failures
        if pattern.partition("::")[0] in levels and not any(_glob(pattern).fullmatch(test_id) for test_id in ids)
    ]
    assert not stale, f"known_failures that name no kit test (levels: {', '.join(LEVELS)}): {stale}"


def test_device_count(device: str) -> None:
    _require_available(device)
    spec = _spec(device)
    if spec.device_count is None:
        pytest.skip(f"{spec.name} declares no device_count: any index is accepted")
    count = _load_target(spec.device_count)()
    assert isinstance(count, int), f"{spec.device_count} returned {count!r}, not an int"
    assert count >= 1, f"{spec.device_count} returned {count} on an available backend"
    with pytest.raises(DeviceError, match="does not exist"):
        Device[f"{spec.name}:{count}"]


def test_plugin_import_is_cheap(device: str) -> None:
    spec = _spec(device)
    if spec.distribution == PROGRAMMATIC:
        pytest.skip(f"{spec.name} was registered programmatically: it has no entry point to import")
    targets = [
        ep.value for ep in importlib.metadata.entry_points(group=GROUP) if ep.dist and ep.dist.name == spec.distribution
    ]
    assert targets, f"no {GROUP} entry point in {spec.distribution}"
    # Import the core, then the plugin module, in a fresh interpreter: the plugin may add only its own package.
    script = (
        "import importlib, json, sys, tinygrad_core.devices\n"
        "before = {name.partition('.')[0] for name in sys.modules}\n"
        f"for target in {targets!r}: importlib.import_module(target.partition(':')[0])\n"
        "added = sorted({name.partition('.')[0] for name in sys.modules} - before)\n"
        f"print(json.dumps([added, {spec.device.partition(':')[0]!r} in sys.modules]))"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    added, device_module_loaded = json.loads(proc.stdout)
    own = {target.partition(":")[0].partition(".")[0] for target in targets}
    heavy = sorted(set(added) - own)
    assert not heavy, f"importing {targets} also imported {heavy}: keep heavy imports out of the plugin module"
    assert not device_module_loaded, f"the plugin module imported its device module {spec.device}: name it as a string"
