"""The device registry: backend plugins, "NAME[:INDEX]" parsing and Device.DEFAULT.

`python -m tinygrad_core.devices` prints every backend, where it comes from and whether it can run here.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import importlib
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pluggy

from tinygrad_core import flags, hookspecs
from tinygrad_core.errors import DeviceError, PluginError, TinygradError, install_excepthook
from tinygrad_core.ops import PLUGIN_API

if TYPE_CHECKING:
    from tinygrad_core.runtime import Device as RuntimeDevice

GROUP = "tinygrad_core.backends"
PROGRAMMATIC = "<registered programmatically>"
CPU_PIP = 'pip install "tinygrad-core[cpu]"'
NO_BACKEND = (  # README.md quotes it
    'no tinygrad backend is installed; pip install "tinygrad-core[cpu]" adds the numpy backend, '
    '"tinygrad-core[all]" every backend for this platform'
)
# Backends a user may name before installing them, and how to get each.
KNOWN_BACKENDS = {
    "CPU": CPU_PIP,
    "CLANG": 'pip install "tinygrad-core[clang]"',
    "OPENCL": 'pip install "tinygrad-core[opencl]"',
    "METAL": 'pip install "tinygrad-core[metal]" (macOS only)',
    "TORCH": "pip install tinygrad-torch (an out-of-tree example backend)",
}
KNOWN_ALIASES = {"CL": "OPENCL", "NUMPY": "CPU"}
# names users try for a GPU, and the backends that reach one (a backend may claim a name: TORCH takes CUDA with a GPU)
GPU_NAMES = ("CUDA", "GPU", "NV", "AMD", "HIP", "ROCM")
GPU_BACKENDS = {
    "TORCH": "NVIDIA GPUs through PyTorch's CUDA build",
    "OPENCL": "any GPU with an OpenCL driver",
    "METAL": "Apple GPUs",
}
_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
if sys.argv[:1] == ["-m"]:
    # `python -m tinygrad_core.devices` runs this module after tinygrad_core/__init__ imported it: expected here.
    warnings.filterwarnings("ignore", "'tinygrad_core.devices' found in sys.modules", RuntimeWarning)


def _parse_api(version: tuple[int, int] | str | int) -> tuple[int, int]:
    try:
        if isinstance(version, int):
            return version, 0
        major, minor = (int(part) for part in (version.split(".") if isinstance(version, str) else version))
        return major, minor
    except (TypeError, ValueError):
        raise PluginError(f"bad api_version {version!r}: use (major, minor) such as {PLUGIN_API} or '1.0'") from None


@dataclasses.dataclass(frozen=True, kw_only=True)
class BackendSpec:
    """What a backend tells the core about itself, returned by its `register_backend` hook (see hookspecs.py)."""

    name: str  # device name, upper case: "OPENCL"
    device: str  # "module:Class" of its runtime.Device subclass; imported on first use only
    aliases: tuple[str, ...] = ()  # other names for the same device: ("CL",)
    api_version: tuple[int, int] | str | int = PLUGIN_API  # the plugin API it implements; "1.0" works too
    priority: int = 0  # the highest-priority backend that can run here is Device.DEFAULT
    availability: str | None = None  # "module:function" -> None when it can run here, else why not; None: always
    device_count: str | None = None  # "module:function" -> how many devices exist; None: any index is accepted
    pip: str = ""  # the command that installs it; default 'pip install "tinygrad-core[<name>]"'
    distribution: str = PROGRAMMATIC  # filled in by the registry from the entry point's distribution
    version: str = ""

    def __post_init__(self) -> None:
        # NOTE: normalised in place, so a spec always holds upper-case names and a (major, minor) tuple.
        aliases = (self.aliases,) if isinstance(self.aliases, str) else self.aliases
        object.__setattr__(self, "name", self.name.upper())
        object.__setattr__(self, "aliases", tuple(alias.upper() for alias in aliases))
        object.__setattr__(self, "api_version", _parse_api(self.api_version))
        for name in (self.name, *self.aliases):
            if not _NAME.fullmatch(name):
                raise PluginError(f"bad device name {name!r} from {self.label}: use letters, digits and '_'")
        if not self.pip:
            object.__setattr__(self, "pip", f'pip install "tinygrad-core[{self.name.lower()}]"')

    @property
    def api(self) -> tuple[int, int]:
        return _parse_api(self.api_version)

    @property
    def label(self) -> str:
        return f"{self.distribution} {self.version}".strip()


@dataclasses.dataclass
class _Failure:
    """A backend that can't be used in this process at all: its plugin failed to load, was refused, or disabled."""

    label: str  # its distribution and version
    reason: str
    kind: type[TinygradError] = DeviceError


@dataclasses.dataclass(frozen=True)
class _Distribution:
    name: str
    version: str


@dataclasses.dataclass(frozen=True)
class _EntryPoint:
    """One installed `tinygrad_core.backends` entry point, as importlib.metadata would describe it."""

    name: str
    value: str
    dist: _Distribution

    def load(self) -> Any:
        return _load_target(self.value)


def _discover() -> list[_EntryPoint]:
    """Every installed entry point of GROUP. It reads what importlib.metadata reads (entry_points.txt in each
    *.dist-info or *.egg-info directory on sys.path, the first distribution of a name winning) without importing
    importlib.metadata, which alone costs about a quarter of a new process's first result."""
    found: list[_EntryPoint] = []
    seen: set[str] = set()
    for path in sys.path:
        try:
            entries = sorted(os.listdir(path or "."))
        except OSError:  # a zip file, or a directory that is gone
            continue
        for entry in entries:
            if not entry.endswith((".dist-info", ".egg-info")):
                continue
            key = re.sub(r"[-_.]+", "_", entry.rsplit(".", 1)[0].split("-")[0]).lower()
            if key in seen:
                continue
            seen.add(key)
            folder = os.path.join(path or ".", entry)
            points = _read_entry_points(os.path.join(folder, "entry_points.txt"))
            if points:
                headers = _read_headers(
                    os.path.join(folder, "METADATA" if entry.endswith(".dist-info") else "PKG-INFO")
                )
                dist = _Distribution(headers.get("Name", key), headers.get("Version", ""))
                found += [_EntryPoint(name, value, dist) for name, value in points]
    return found


def _read_entry_points(file: str) -> list[tuple[str, str]]:
    """The (name, value) pairs of GROUP's section in an entry_points.txt (an INI file); none if it is unreadable."""
    try:
        with open(file, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    section, points = None, []
    for line in (raw.strip() for raw in lines):
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == GROUP and "=" in line and not line.startswith(("#", ";")):
            name, _, value = line.partition("=")
            points.append((name.strip(), value.strip()))
    return points


def _read_headers(file: str) -> dict[str, str]:
    """The Name and Version headers of a distribution's METADATA (or PKG-INFO)."""
    headers: dict[str, str] = {}
    try:
        with open(file, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    break  # the body starts after the headers
                key, _, value = line.partition(":")
                if key in ("Name", "Version"):
                    headers[key] = value.strip()
    except (OSError, UnicodeDecodeError):
        pass
    return headers


def _load_target(target: str) -> Any:
    """Import "module:attribute" (the attribute may be dotted)."""
    module_name, _, attribute = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split(".") if attribute else []:
        obj = getattr(obj, part)
    return obj


def _trace(message: str) -> None:
    if flags.TINYGRAD_TRACE_PLUGINS.value:
        print(f"tinygrad_core.devices: {message}", file=sys.stderr)


def _specs_from_plugin(plugin: object, distribution: tuple[str, str] | None) -> list[BackendSpec]:
    """Call the plugin's register_backend hook through pluggy; stamp `distribution` (name, version) on each spec."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    try:
        manager.register(plugin)
        manager.check_pending()
    except pluggy.PluginValidationError as e:
        raise PluginError(f"malformed backend plugin {plugin!r}: {e}") from None
    if not manager.hook.register_backend.get_hookimpls():
        raise PluginError(f"{plugin!r} has no @hookimpl register_backend function")
    specs = []
    for result in manager.hook.register_backend():
        for spec in result if isinstance(result, (list, tuple)) else [result]:
            if not isinstance(spec, BackendSpec):
                raise PluginError(f"register_backend of {plugin!r} returned {spec!r}, expected a BackendSpec")
            if distribution is not None:
                spec = dataclasses.replace(spec, distribution=distribution[0], version=distribution[1])
            specs.append(spec)
    return specs


class _Devices:
    """The registry behind `Device`: `Device["OPENCL:1"]`, `Device.DEFAULT`, `Device.canonicalize("cl")`."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._reset(loaded=False)

    def _reset(self, loaded: bool) -> None:
        self._loaded = loaded  # entry points are read on first use, never at import
        self._specs: dict[str, BackendSpec] = {}
        self._names: dict[str, str] = {}  # name or alias -> name
        self._failed: dict[str, _Failure] = {}
        self._reasons: dict[str, str | None] = {}  # availability, checked once per backend
        self._instances: dict[str, RuntimeDevice] = {}
        self._default: str | None = None  # set by `Device.DEFAULT = ...`

    # --- loading and registering ---
    def _ensure_loaded(self) -> None:
        with self._lock:
            if not self._loaded:
                self._loaded = True
                self._load(_discover())

    def _load(self, entry_points: Iterable[Any]) -> None:
        """Register every installed plugin's backends; a broken plugin is recorded, never fatal to the others."""
        allow = {name.upper() for name in flags.TINYGRAD_PLUGINS.value}
        deny = {name.upper() for name in flags.TINYGRAD_DISABLE_PLUGINS.value}
        for ep in entry_points:
            dist = (ep.dist.name, ep.dist.version) if ep.dist is not None else ("<unknown distribution>", "")
            label = " ".join(dist).strip()
            fallback = ep.name.upper()  # entry points are named after their device (STYLE.md section 3)
            _trace(f"entry point {ep.name} = {ep.value} from {label}")
            if fallback in deny:
                self._fail(fallback, _Failure(label, "disabled by TINYGRAD_DISABLE_PLUGINS"))
                continue
            try:
                specs = _specs_from_plugin(ep.load(), dist)
            except PluginError as e:
                self._fail(fallback, _Failure(label, str(e), PluginError))
                continue
            except Exception as e:
                reason = f"its plugin {ep.value} failed to import: {type(e).__name__}: {e}"
                self._fail(fallback, _Failure(label, reason))
                continue
            for spec in specs:
                names = {fallback, spec.name, *spec.aliases}
                if names & deny:
                    self._fail(spec.name, _Failure(label, "disabled by TINYGRAD_DISABLE_PLUGINS"))
                elif allow and not names & allow:
                    self._fail(spec.name, _Failure(label, f"not in TINYGRAD_PLUGINS={','.join(sorted(allow))}"))
                else:
                    try:
                        self._add(spec)
                    except PluginError as e:
                        self._fail(spec.name, _Failure(label, str(e), PluginError))

    def _fail(self, name: str, failure: _Failure) -> None:
        _trace(f"{name} can't be used: {failure.reason}")
        self._failed[name] = failure

    def _add(self, spec: BackendSpec) -> None:
        major, minor = spec.api
        if major != PLUGIN_API[0] or minor > PLUGIN_API[1]:
            upgrade = "tinygrad-core" if (major, minor) > PLUGIN_API else spec.distribution
            fix = "update the backend" if upgrade == PROGRAMMATIC else f"pip install -U {upgrade}"
            ours = f"{PLUGIN_API[0]}.{PLUGIN_API[1]}"
            raise PluginError(
                f"{spec.name} from {spec.label} implements plugin API {major}.{minor}, but this tinygrad-core speaks "
                f"{ours} (it loads {PLUGIN_API[0]}.0 to {ours}); fix: {fix}"
            )
        for name in (spec.name, *spec.aliases):
            other = self._specs.get(self._names.get(name, ""))
            if other is not None and other != spec:
                raise PluginError(
                    f"device name {name!r} is claimed by both {other.label} and {spec.label}; uninstall one of them"
                )
        _trace(f"registered {spec.name} from {spec.label}")
        self._specs[spec.name] = spec
        self._names.update(dict.fromkeys((spec.name, *spec.aliases), spec.name))
        self._failed.pop(spec.name, None)

    def register(self, plugin: BackendSpec | object) -> list[BackendSpec]:
        """Add backends without installing a package: a BackendSpec, or a module/object with @hookimpl functions."""
        self._ensure_loaded()
        specs = [plugin] if isinstance(plugin, BackendSpec) else _specs_from_plugin(plugin, None)
        for spec in specs:
            self._add(spec)
        return specs

    def unregister(self, name: str) -> None:
        """Forget the backend called `name` (or one of its aliases), its cached devices and its availability."""
        base = self.canonicalize(name).partition(":")[0]
        self._specs.pop(base, None)
        self._failed.pop(base, None)
        self._reasons.pop(base, None)
        self._names = {alias: target for alias, target in self._names.items() if target != base}
        self._instances = {key: dev for key, dev in self._instances.items() if key.partition(":")[0] != base}
        if self._default is not None and self._default.partition(":")[0] == base:
            self._default = None

    @contextlib.contextmanager
    def registered(self, *plugins: BackendSpec | object) -> Iterator[list[BackendSpec]]:
        """Register plugins for a `with` block (tests, notebooks); the registry is restored afterwards."""
        self._ensure_loaded()
        with self._restoring():
            yield [spec for plugin in plugins for spec in self.register(plugin)]

    @contextlib.contextmanager
    def isolated(self) -> Iterator[None]:
        """An empty registry that loads no installed plugin, for a `with` block; the real one is restored afterwards."""
        with self._restoring():
            self._reset(loaded=True)
            yield

    @contextlib.contextmanager
    def _restoring(self) -> Iterator[None]:
        saved = {key: copy.copy(value) for key, value in vars(self).items() if key != "_lock"}
        try:
            yield
        finally:
            vars(self).update(saved)

    # --- names ---
    def canonicalize(self, name: str) -> str:
        """ "opencl:1" -> "OPENCL:1", "cl" -> "OPENCL", "cpu:0" -> "CPU". Raises DeviceError for an unknown name."""
        self._ensure_loaded()
        if not isinstance(name, str):
            raise DeviceError(f"a device is a string such as 'CPU' or 'OPENCL:1', not {name!r}")
        base, colon, index = name.strip().upper().partition(":")
        resolved = self._names.get(base, base if base in self._failed else None)
        if resolved is None:
            raise DeviceError(self._unknown_message(name, base))
        if not colon:
            return resolved
        if not (index.isascii() and index.isdigit()):
            raise DeviceError(
                f"bad device {name!r}: the index after ':' must be a non-negative integer, as in {resolved}:1"
            )
        return resolved if int(index) == 0 else f"{resolved}:{int(index)}"

    def _unknown_message(self, given: str, base: str) -> str:
        target = KNOWN_ALIASES.get(base, base)
        if target in KNOWN_BACKENDS:
            shown = repr(base) if target == base else f"{base!r} ({target})"
            return f"device {shown} is not installed; install it with: {KNOWN_BACKENDS[target]}; {self._installed()}"
        if target in GPU_NAMES:
            return f"no installed backend is called {given!r}; {self._gpu_backends()}; {self._installed()}"
        missing = ", ".join(f"{name}: {KNOWN_BACKENDS[name]}" for name in self._not_installed())
        known = f"known backends you could install: {missing}" if missing else "every known backend is installed"
        return f"unknown device {given!r}; {self._installed()}; {known}"

    def _gpu_backends(self) -> str:
        """Which backends reach a GPU, and for each: what it does here, or how to install it."""
        parts = []
        for name, reach in GPU_BACKENDS.items():
            if name in self._specs:
                parts.append(f"{name} ({reach}; installed, here: {self.describe(name)})")
            else:
                parts.append(f"{name} ({reach}; {KNOWN_BACKENDS[name]})")
        return "for a GPU: " + ", ".join(parts)

    def describe(self, name: str) -> str:
        """What device `name` is, in the backend's words ("PyTorch 2.13 on the CPU: no CUDA device"), or its status.

        Examples print it in their banner, `python -m tinygrad_core.devices` in its table."""
        base = self.canonicalize(name).partition(":")[0]
        reason = self._why(base)
        if reason is not None:
            return f"unavailable: {reason}"
        try:
            describe = getattr(_load_target(self._specs[base].device), "describe", None)
            text = describe() if callable(describe) else describe
        except Exception as e:  # describe() only decorates: a failure in it is shown, not raised
            return f"available (describe() failed: {type(e).__name__}: {e})"
        return str(text) if text else "available"

    def _not_installed(self) -> list[str]:
        return [name for name in KNOWN_BACKENDS if name not in self._names and name not in self._failed]

    def _installed(self) -> str:
        names = sorted(set(self._specs) | set(self._failed))
        available = [name for name in names if self._why(name) is None]
        return f"installed: {', '.join(names) or 'none'}; available here: {', '.join(available) or 'none'}"

    # --- availability ---
    def why_unavailable(self, name: str) -> str | None:
        """None when the backend of `name` can run here, else the reason (checked once per process)."""
        return self._why(self.canonicalize(name).partition(":")[0])

    def _why(self, base: str) -> str | None:
        if base in self._failed:
            return self._failed[base].reason
        if base not in self._reasons:
            spec = self._specs[base]
            try:
                reason = _load_target(spec.availability)() if spec.availability else None
            except Exception as e:
                reason = f"its availability check {spec.availability} failed: {type(e).__name__}: {e}"
            _trace(f"{base} is {'available' if reason is None else 'unavailable: ' + reason}")
            self._reasons[base] = reason
        return self._reasons[base]

    def _check(self, name: str) -> str:
        """`name` canonicalized, after checking that it is usable here and that its index exists."""
        canonical = self.canonicalize(name)
        base, _, index = canonical.partition(":")
        failure = self._failed.get(base)
        if failure is not None:
            raise failure.kind(f"{base} ({failure.label}) can't be used: {failure.reason}; {self._installed()}")
        spec = self._specs[base]
        reason = self._why(base)
        if reason is not None:
            raise DeviceError(f"{base} ({spec.label}) is installed but can't run here: {reason}; {self._installed()}")
        if spec.device_count is not None and int(index or 0) > 0:
            try:
                count = int(_load_target(spec.device_count)())
            except Exception as e:
                raise DeviceError(f"counting {base} devices failed: {type(e).__name__}: {e}") from e
            if int(index) >= count:
                have = {0: "no devices", 1: f"1 device ({base}:0)"}.get(
                    count, f"{count} devices ({base}:0 to {count - 1})"
                )
                raise DeviceError(f"{canonical} does not exist: {base} has {have} ({self.describe(base)})")
        return canonical

    def api_of(self, name: str) -> tuple[int, int]:
        """The plugin API the backend of device `name` declares: what the core may send it (kernel.py)."""
        return self._specs[self.canonicalize(name).partition(":")[0]].api

    def backends(self) -> list[BackendSpec]:
        """Every registered backend, highest priority first."""
        self._ensure_loaded()
        return sorted(self._specs.values(), key=lambda spec: (-spec.priority, spec.name))

    # --- devices ---
    def __getitem__(self, name: str) -> RuntimeDevice:
        """The device object for `name`, opened on first use and cached: `Device["OPENCL:1"]`."""
        opened = self._instances.get(name)  # the scheduler asks by canonical name for every kernel it runs
        if opened is not None:
            return opened
        canonical = self.canonicalize(name)
        with self._lock:
            if canonical not in self._instances:
                spec = self._specs[self._check(canonical).partition(":")[0]]
                try:
                    self._instances[canonical] = _load_target(spec.device)(canonical)
                except TinygradError:
                    raise
                except Exception as e:
                    raise DeviceError(f"opening {canonical} ({spec.label}) failed: {type(e).__name__}: {e}") from e
            return self._instances[canonical]

    @property
    def DEFAULT(self) -> str:
        """The device used when none is given: as assigned, else env DEVICE, else the best backend that runs here."""
        self._ensure_loaded()
        if self._default is not None:
            return self._default
        wanted = flags.DEVICE.value
        if wanted:
            try:
                return self._check(wanted)
            except TinygradError as e:
                raise type(e)(f"DEVICE={wanted} (from the environment): {e}") from None
        for spec in self.backends():
            if self._why(spec.name) is None:
                return spec.name
        if not self._specs and not self._failed:
            raise DeviceError(NO_BACKEND)
        why = "; ".join(f"{name}: {self._why(name)}" for name in sorted(set(self._specs) | set(self._failed)))
        fix = "" if "CPU" in self._specs else f"; the reference CPU backend runs anywhere: {CPU_PIP}"
        raise DeviceError(f"no installed backend can run here ({why}){fix}")

    @DEFAULT.setter
    def DEFAULT(self, name: str | None) -> None:
        self._default = None if name is None else self._check(name)


Device = _Devices()


def main() -> None:
    """Print a table of every backend; '*' marks Device.DEFAULT."""
    install_excepthook()
    try:
        default: str | None = Device.DEFAULT.partition(":")[0]
        footer = f"default: {Device.DEFAULT} (set DEVICE=NAME[:INDEX] to choose another)"
    except TinygradError as e:
        default, footer = None, f"no default device: {e}"
    rows = [("", "name", "aliases", "distribution", "priority", "status")]
    for spec in Device.backends():
        reason = Device._why(spec.name)
        status = Device.describe(spec.name)
        if reason is None and status != "available":
            status = f"available ({status})"
        marker = "*" if spec.name == default else ""
        rows.append((marker, spec.name, ",".join(spec.aliases), spec.label, str(spec.priority), status))
    for name, failure in sorted(Device._failed.items()):
        if name not in Device._specs:
            rows.append(("", name, "", failure.label, "", f"unavailable: {failure.reason}"))
    widths = [max(len(row[col]) for row in rows) for col in range(len(rows[0]) - 1)]
    for row in rows if len(rows) > 1 else []:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    print(footer)
    for i, name in enumerate(Device._not_installed()):
        print(f"{'not installed:' if i == 0 else '':14}  {name:6}  {KNOWN_BACKENDS[name]}")


if __name__ == "__main__":
    # NOTE: under `python -m` this file runs a second time as __main__, beside the copy tinygrad_core imported;
    # the plugins register into that copy's Device, so the table must come from it.
    from tinygrad_core.devices import main as _package_main

    _package_main()
