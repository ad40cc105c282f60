"""The device registry with fake in-test plugins: names, DEFAULT, each error message, lazy imports, the table."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from typing import Any

import pytest

from tinygrad_core import flags, runtime
from tinygrad_core.devices import CPU_PIP, NO_BACKEND, BackendSpec, Device, _Devices, main
from tinygrad_core.errors import DeviceError, PluginError
from tinygrad_core.hookspecs import hookimpl
from tinygrad_core.ops import PLUGIN_API

NO_PLATFORM = "no OpenCL platform found (install an ICD such as PoCL)"


class FakeAllocator(runtime.Allocator):
    def alloc(self, nbytes: int) -> bytearray:
        return bytearray(nbytes)


class FakeDevice(runtime.Device):
    def make_allocator(self) -> runtime.Allocator:
        return FakeAllocator()

    @classmethod
    def describe(cls) -> str:
        return "a fake device for tests"


class BrokenDevice(runtime.Device):
    def __init__(self, name: str):
        raise OSError("the driver said no")


def _raise() -> None:
    raise RuntimeError("probe crashed")


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Devices]:
    """An empty registry, and a module "tg_fake" that specs name as their device class and checks."""
    fake = types.ModuleType("tg_fake")
    fake.FakeDevice, fake.BrokenDevice = FakeDevice, BrokenDevice  # type: ignore[attr-defined]
    fake.available = lambda: None  # type: ignore[attr-defined]
    fake.no_platform = lambda: NO_PLATFORM  # type: ignore[attr-defined]
    fake.crashes = _raise  # type: ignore[attr-defined]
    fake.one = lambda: 1  # type: ignore[attr-defined]
    fake.three = lambda: 3  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tg_fake", fake)
    monkeypatch.delenv("DEVICE", raising=False)
    with Device.isolated():
        yield Device


def spec(name: str, **kw: Any) -> BackendSpec:
    return BackendSpec(name=name, device=kw.pop("device", "tg_fake:FakeDevice"), **kw)


def opencl(**kw: Any) -> BackendSpec:
    return spec("OPENCL", aliases=("CL",), priority=30, **kw)


def message(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    return str(excinfo.value)


# --- names ---
def test_canonicalize(registry: _Devices) -> None:
    registry.register(spec("CPU", priority=10))
    registry.register(opencl())
    assert registry.canonicalize("cpu") == "CPU"
    assert registry.canonicalize("CPU:0") == "CPU"
    assert registry.canonicalize("opencl:1") == "OPENCL:1"
    assert registry.canonicalize("OpenCL:0") == "OPENCL"
    assert registry.canonicalize(" cl:02 ") == "OPENCL:2"
    assert registry.canonicalize("Cl") == "OPENCL"


@pytest.mark.parametrize("bad", ["opencl:x", "opencl:-1", "opencl:", "opencl:1.5", "opencl:1:2"])
def test_bad_index_syntax(registry: _Devices, bad: str) -> None:
    registry.register(opencl())
    with pytest.raises(DeviceError, match="non-negative integer") as excinfo:
        registry.canonicalize(bad)
    assert repr(bad) in message(excinfo)


def test_not_a_string(registry: _Devices) -> None:
    with pytest.raises(DeviceError, match="a device is a string"):
        registry.canonicalize(3)  # type: ignore[arg-type]


def test_device_objects_are_cached_per_canonical_name(registry: _Devices) -> None:
    registry.register(opencl())
    dev = registry["cl:1"]
    assert isinstance(dev, FakeDevice)
    assert dev.name == "OPENCL:1"
    assert registry["OPENCL:1"] is dev
    assert registry["opencl:0"] is registry["OPENCL"]
    assert registry["opencl"] is not dev


def test_spec_normalisation() -> None:
    # ("cl") without a comma is a str, the classic slip: it means ("CL",)
    s = BackendSpec(name="opencl", aliases="cl", api_version="1.0", device="tg_fake:FakeDevice")  # type: ignore[arg-type]
    assert (s.name, s.aliases, s.api_version) == ("OPENCL", ("CL",), (1, 0))
    assert s.pip == 'pip install "tinygrad-core[opencl]"'
    assert s.distribution == "<registered programmatically>"
    assert BackendSpec(name="X", api_version=1, device="m:C").api == (1, 0)
    with pytest.raises(PluginError, match="bad api_version"):
        BackendSpec(name="X", api_version="one", device="m:C")
    with pytest.raises(PluginError, match="bad device name 'OPEN CL'"):
        BackendSpec(name="open cl", device="m:C")


# --- Device.DEFAULT ---
def test_default_is_highest_priority_available(registry: _Devices) -> None:
    registry.register(spec("CPU", priority=10))
    registry.register(spec("CLANG", priority=20))
    registry.register(opencl(availability="tg_fake:no_platform"))
    assert registry.DEFAULT == "CLANG"


def test_default_from_environment(registry: _Devices, monkeypatch: pytest.MonkeyPatch) -> None:
    registry.register(spec("CPU", priority=10))
    registry.register(opencl())
    monkeypatch.setenv("DEVICE", "cl:1")
    assert registry.DEFAULT == "OPENCL:1"
    monkeypatch.setenv("DEVICE", "cpu")
    assert registry.DEFAULT == "CPU"
    with flags.Context(DEVICE="opencl"):
        assert registry.DEFAULT == "OPENCL"


def test_default_from_environment_is_validated(registry: _Devices, monkeypatch: pytest.MonkeyPatch) -> None:
    registry.register(spec("CPU", priority=10))
    registry.register(opencl(availability="tg_fake:no_platform"))
    monkeypatch.setenv("DEVICE", "NOPE")
    with pytest.raises(DeviceError, match=r"^DEVICE=NOPE \(from the environment\): unknown device 'NOPE'"):
        registry.DEFAULT  # noqa: B018
    monkeypatch.setenv("DEVICE", "OPENCL")
    with pytest.raises(DeviceError, match="DEVICE=OPENCL") as excinfo:
        registry.DEFAULT  # noqa: B018
    assert NO_PLATFORM in message(excinfo)


def test_default_assignment(registry: _Devices, monkeypatch: pytest.MonkeyPatch) -> None:
    registry.register(spec("CPU", priority=10))
    registry.register(opencl())
    monkeypatch.setenv("DEVICE", "CPU")
    registry.DEFAULT = "cl:1"
    assert registry.DEFAULT == "OPENCL:1"  # an assignment wins over the environment, as in tinygrad
    registry.DEFAULT = None
    assert registry.DEFAULT == "CPU"
    with pytest.raises(DeviceError, match="unknown device"):
        registry.DEFAULT = "NOPE"


# --- errors ---
def test_unknown_device(registry: _Devices) -> None:
    registry.register(spec("CPU", priority=10))
    with pytest.raises(DeviceError) as excinfo:
        registry["nope"]
    text = message(excinfo)
    assert text.startswith("unknown device 'nope'; installed: CPU")
    assert "known backends you could install" in text
    for line in ['CLANG: pip install "tinygrad-core[clang]"', 'OPENCL: pip install "tinygrad-core[opencl]"', "METAL:"]:
        assert line in text
    assert "CPU: pip" not in text  # installed already


def test_unknown_device_when_every_known_backend_is_installed(registry: _Devices) -> None:
    for name in ("CPU", "CLANG", "OPENCL", "METAL", "TORCH"):
        registry.register(spec(name))
    with pytest.raises(DeviceError, match=r"unknown device 'nope'; .*; every known backend is installed$"):
        registry["nope"]


@pytest.mark.parametrize("name", ["CUDA", "cuda:0", "GPU", "nv", "HIP"])
def test_gpu_names(registry: _Devices, name: str) -> None:
    """A GPU name nobody claims names the backends that reach a GPU: installed ones with what they are here, the
    others with their install command."""
    registry.register(spec("CPU", priority=10))
    registry.register(spec("TORCH", priority=5))
    with pytest.raises(DeviceError) as excinfo:
        registry[name]
    text = message(excinfo)
    assert text.startswith(f"no installed backend is called {name!r}; for a GPU: TORCH (NVIDIA GPUs through PyTorch")
    assert "installed, here: a fake device for tests" in text
    assert 'OPENCL (any GPU with an OpenCL driver; pip install "tinygrad-core[opencl]")' in text
    assert text.endswith("installed: CPU, TORCH; available here: CPU, TORCH")


def test_a_backend_may_claim_a_gpu_name(registry: _Devices) -> None:
    registry.register(spec("TORCH", aliases=("CUDA",)))
    assert registry.canonicalize("cuda:0") == "TORCH"
    assert registry.canonicalize("CUDA:1") == "TORCH:1"


def test_describe(registry: _Devices) -> None:
    registry.register(spec("CPU", priority=10))
    registry.register(opencl(availability="tg_fake:no_platform"))
    assert registry.describe("cpu") == "a fake device for tests"
    assert registry.describe("CL:1") == f"unavailable: {NO_PLATFORM}"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("OPENCL", "device 'OPENCL' is not installed; install it with: pip install \"tinygrad-core[opencl]\""),
        ("cl", "device 'CL' (OPENCL) is not installed; install it with: pip install \"tinygrad-core[opencl]\""),
        ("clang:1", 'install it with: pip install "tinygrad-core[clang]"'),
        ("metal", 'pip install "tinygrad-core[metal]" (macOS only)'),
        ("torch", "pip install tinygrad-torch (an out-of-tree example backend)"),
    ],
)
def test_known_but_not_installed(registry: _Devices, name: str, expected: str) -> None:
    registry.register(spec("CPU", priority=10))
    with pytest.raises(DeviceError) as excinfo:
        registry.canonicalize(name)
    assert expected in message(excinfo)
    assert "installed: CPU" in message(excinfo)


def test_unavailable_backend(registry: _Devices) -> None:
    registry.register(spec("CPU", priority=10))
    registry.register(opencl(availability="tg_fake:no_platform", distribution="tinygrad-opencl", version="0.1.0"))
    assert registry.why_unavailable("cl:1") == NO_PLATFORM
    assert registry.why_unavailable("cpu") is None
    with pytest.raises(DeviceError) as excinfo:
        registry["OPENCL"]
    assert message(excinfo) == (
        f"OPENCL (tinygrad-opencl 0.1.0) is installed but can't run here: {NO_PLATFORM}; "
        "installed: CPU, OPENCL; available here: CPU"
    )


def test_crashing_availability_check_is_a_reason(registry: _Devices) -> None:
    registry.register(opencl(availability="tg_fake:crashes"))
    assert "RuntimeError: probe crashed" in str(registry.why_unavailable("OPENCL"))


def test_device_that_fails_to_open(registry: _Devices) -> None:
    registry.register(opencl(device="tg_fake:BrokenDevice"))
    with pytest.raises(DeviceError, match=r"opening OPENCL:2 .* failed: OSError: the driver said no"):
        registry["cl:2"]


def test_bad_index(registry: _Devices) -> None:
    registry.register(opencl(device_count="tg_fake:one"))
    registry.register(spec("CLANG", device_count="tg_fake:three"))
    with pytest.raises(
        DeviceError, match=r"^OPENCL:7 does not exist: OPENCL has 1 device \(OPENCL:0\) \(a fake device for tests\)$"
    ):
        registry["OPENCL:7"]
    with pytest.raises(DeviceError, match=r"CLANG has 3 devices \(CLANG:0 to 2\)"):
        registry["CLANG:3"]
    assert registry["CLANG:2"].name == "CLANG:2"


def test_no_backend_installed(registry: _Devices) -> None:
    with pytest.raises(DeviceError) as excinfo:
        registry.DEFAULT  # noqa: B018
    assert message(excinfo) == NO_BACKEND
    assert CPU_PIP == 'pip install "tinygrad-core[cpu]"'


def test_no_backend_available(registry: _Devices) -> None:
    registry.register(opencl(availability="tg_fake:no_platform"))
    with pytest.raises(DeviceError) as excinfo:
        registry.DEFAULT  # noqa: B018
    assert f"OPENCL: {NO_PLATFORM}" in message(excinfo)
    assert message(excinfo).endswith(CPU_PIP)


# --- plugin checks ---
@pytest.mark.parametrize(
    ("api", "fix"),
    [
        ((PLUGIN_API[0] + 1, 0), "pip install -U tinygrad-core"),
        ((PLUGIN_API[0], PLUGIN_API[1] + 1), "pip install -U tinygrad-core"),
        ((PLUGIN_API[0] - 1, 5), "pip install -U tinygrad-fake"),
    ],
)
def test_api_version_mismatch(registry: _Devices, api: tuple[int, int], fix: str) -> None:
    with pytest.raises(PluginError) as excinfo:
        registry.register(spec("FAKE", api_version=api, distribution="tinygrad-fake", version="0.3.0"))
    text = message(excinfo)
    assert f"FAKE from tinygrad-fake 0.3.0 implements plugin API {api[0]}.{api[1]}" in text
    assert f"this tinygrad-core speaks {PLUGIN_API[0]}.{PLUGIN_API[1]}" in text
    assert text.endswith(f"fix: {fix}")


def test_older_minor_api_is_accepted(registry: _Devices) -> None:
    registry.register(spec("FAKE", api_version=(PLUGIN_API[0], 0)))
    registry.register(spec("FAKE2", api_version=f"{PLUGIN_API[0]}.{PLUGIN_API[1]}"))
    assert {s.name for s in registry.backends()} == {"FAKE", "FAKE2"}


@pytest.mark.parametrize("second", [spec("OPENCL", distribution="other-opencl"), spec("GPU", aliases=("CL",))])
def test_duplicate_names(registry: _Devices, second: BackendSpec) -> None:
    registry.register(opencl(distribution="tinygrad-opencl", version="0.1.0"))
    with pytest.raises(PluginError, match=r"is claimed by both tinygrad-opencl 0\.1\.0 and ") as excinfo:
        registry.register(second)
    assert second.label in message(excinfo)


def test_register_module_with_hookimpls(registry: _Devices) -> None:
    class Plugin:
        @hookimpl
        def register_backend(self) -> list[BackendSpec]:
            return [spec("ONE"), spec("TWO", priority=5)]

    assert [s.name for s in registry.register(Plugin())] == ["ONE", "TWO"]
    assert registry.DEFAULT == "TWO"
    with pytest.raises(PluginError, match="no @hookimpl register_backend"):
        registry.register(types.ModuleType("empty_plugin"))


def test_registered_context_restores(registry: _Devices) -> None:
    registry.register(spec("CPU", priority=10))
    with registry.registered(opencl()) as specs:
        assert [s.name for s in specs] == ["OPENCL"]
        assert registry.DEFAULT == "OPENCL"
        registry["cl"]
    assert registry.DEFAULT == "CPU"
    with pytest.raises(DeviceError, match="not installed"):
        registry.canonicalize("cl")


def test_unregister(registry: _Devices) -> None:
    registry.register(opencl())
    registry.DEFAULT = "opencl"
    registry.unregister("CL")
    assert registry.backends() == []
    with pytest.raises(DeviceError, match="no tinygrad backend is installed"):
        registry.DEFAULT  # noqa: B018


# --- loading entry points ---
def entry_point(name: str, plugin: object | Exception, dist: str = "tinygrad-fake") -> types.SimpleNamespace:
    def load() -> object:
        if isinstance(plugin, Exception):
            raise plugin
        return plugin

    value = f"tinygrad_{name}.plugin"
    return types.SimpleNamespace(
        name=name, value=value, dist=types.SimpleNamespace(name=dist, version="0.2.0"), load=load
    )


def plugin_of(*specs: BackendSpec) -> object:
    class Plugin:
        @hookimpl
        def register_backend(self) -> list[BackendSpec]:
            return list(specs)

    return Plugin()


def test_entry_points_stamp_their_distribution(registry: _Devices) -> None:
    registry._load([entry_point("opencl", plugin_of(opencl()), dist="tinygrad-opencl")])
    (loaded,) = registry.backends()
    assert (loaded.distribution, loaded.version, loaded.label) == ("tinygrad-opencl", "0.2.0", "tinygrad-opencl 0.2.0")


def test_broken_plugin_does_not_break_others(registry: _Devices) -> None:
    registry._load(
        [
            entry_point("metal", ModuleNotFoundError("No module named 'objc'")),
            entry_point("cpu", plugin_of(spec("CPU"))),
        ]
    )
    assert registry.DEFAULT == "CPU"
    reason = registry.why_unavailable("metal")
    assert reason == "its plugin tinygrad_metal.plugin failed to import: ModuleNotFoundError: No module named 'objc'"
    with pytest.raises(DeviceError, match=r"^METAL \(tinygrad-fake 0.2.0\) can't be used: its plugin"):
        registry["METAL"]


def test_duplicates_between_installed_plugins(registry: _Devices) -> None:
    registry._load(
        [
            entry_point("opencl", plugin_of(opencl()), dist="tinygrad-opencl"),
            entry_point("opencl2", plugin_of(spec("OPENCL")), dist="pocl-backend"),
            entry_point("cpu", plugin_of(spec("CPU"))),
        ]
    )
    assert registry.DEFAULT == "CPU"
    with pytest.raises(PluginError, match=r"claimed by both tinygrad-opencl 0\.2\.0 and pocl-backend 0\.2\.0"):
        registry["OPENCL"]


def test_api_mismatch_between_installed_plugins(registry: _Devices) -> None:
    old = spec("OLD", api_version=(PLUGIN_API[0] - 1, 0))
    registry._load([entry_point("old", plugin_of(old), dist="tinygrad-old")])
    with pytest.raises(PluginError, match="pip install -U tinygrad-old"):
        registry["OLD"]


def test_allow_and_deny_lists(registry: _Devices) -> None:
    never_loaded = ImportError("must not be imported: disabled by name")
    eps = [
        entry_point("opencl", plugin_of(opencl())),
        entry_point("cpu", plugin_of(spec("CPU"))),
        entry_point("metal", never_loaded),
    ]
    with flags.Context(TINYGRAD_PLUGINS="cl,metal", TINYGRAD_DISABLE_PLUGINS=["METAL"]):
        registry._load(eps)
    assert [s.name for s in registry.backends()] == ["OPENCL"]
    assert registry.why_unavailable("cpu") == "not in TINYGRAD_PLUGINS=CL,METAL"
    assert registry.why_unavailable("metal") == "disabled by TINYGRAD_DISABLE_PLUGINS"


def test_trace_plugins(registry: _Devices, capsys: pytest.CaptureFixture[str]) -> None:
    with flags.Context(TINYGRAD_TRACE_PLUGINS=1):
        registry._load([entry_point("cpu", plugin_of(spec("CPU")))])
        registry.DEFAULT  # noqa: B018
    err = capsys.readouterr().err
    assert "entry point cpu = tinygrad_cpu.plugin from tinygrad-fake 0.2.0" in err
    assert "registered CPU" in err
    assert "CPU is available" in err


def test_device_class_is_imported_lazily(registry: _Devices, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    source = """
        from tinygrad_core import runtime
        class LazyDevice(runtime.Device):
            def make_allocator(self):
                return runtime.Allocator()
        def available():
            return None
    """
    (tmp_path / "tg_lazy_backend.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tg_lazy_backend", raising=False)
    registry.register(spec("LAZY", device="tg_lazy_backend:LazyDevice", availability="tg_lazy_backend:available"))
    assert registry.canonicalize("lazy:1") == "LAZY:1"
    assert [s.name for s in registry.backends()] == ["LAZY"]
    assert "tg_lazy_backend" not in sys.modules  # registering and naming it imported nothing
    assert registry.DEFAULT == "LAZY"  # the availability check imports the module, not the device
    assert type(registry["lazy"]).__name__ == "LazyDevice"
    assert "tg_lazy_backend" in sys.modules
    monkeypatch.delitem(sys.modules, "tg_lazy_backend")


# --- `python -m tinygrad_core.devices` ---
def test_table(registry: _Devices, capsys: pytest.CaptureFixture[str]) -> None:
    registry.register(spec("CPU", priority=10, distribution="tinygrad-fake-cpu", version="0.1.0"))
    registry.register(opencl(availability="tg_fake:no_platform"))
    registry.register(spec("CLANG", priority=20))
    main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "aliases", "distribution", "priority", "status"]
    opencl_row = next(line for line in lines if " OPENCL " in line)
    assert "CL" in opencl_row.split()
    assert opencl_row.endswith(f"unavailable: {NO_PLATFORM}")
    clang_row = next(line for line in lines if " CLANG " in line)
    assert clang_row.startswith("*")
    assert clang_row.endswith("available (a fake device for tests)")
    cpu_row = next(line for line in lines if " CPU " in line)
    assert "tinygrad-fake-cpu 0.1.0" in cpu_row
    assert not cpu_row.startswith("*")
    assert "default: CLANG (set DEVICE=NAME[:INDEX] to choose another)" in lines
    assert any(" METAL " in line and line.endswith('pip install "tinygrad-core[metal]" (macOS only)') for line in lines)
    assert not any(" OPENCL " in line and "pip install" in line for line in lines)  # installed, so not offered


def test_table_without_backends(registry: _Devices, capsys: pytest.CaptureFixture[str]) -> None:
    main()
    out = capsys.readouterr().out
    assert out.startswith(f"no default device: {NO_BACKEND}\n")
    assert "  CPU     " + CPU_PIP in out


def test_module_runs() -> None:
    env = {key: value for key, value in os.environ.items() if key != "TINYGRAD_TRACE_PLUGINS"}
    proc = subprocess.run(
        [sys.executable, "-m", "tinygrad_core.devices"], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[:5] == ["name", "aliases", "distribution", "priority", "status"]
    assert proc.stderr == ""  # in particular, no runpy RuntimeWarning


# --- flags the registry reads ---
def test_flags_parse_and_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYGRAD_PLUGINS", " cpu, opencl ,")
    monkeypatch.setenv("DEBUG", "3")
    assert flags.TINYGRAD_PLUGINS.value == ("cpu", "opencl")
    assert flags.get("DEBUG") == 3
    with flags.Context(DEBUG=1):
        assert flags.DEBUG.value == 1
        with flags.Context(DEBUG="2"):
            assert flags.DEBUG.value == 2
        assert flags.DEBUG.value == 1
    assert flags.DEBUG.value == 3
    monkeypatch.delenv("DEBUG")
    assert flags.DEBUG.value == 0
    monkeypatch.setenv("DEBUG", "lots")
    with pytest.raises(ValueError, match="flag DEBUG='lots': expected an integer"):
        flags.DEBUG.value  # noqa: B018
    with pytest.raises(KeyError, match="unknown flag 'DEBUGG'"):
        flags.Context(DEBUGG=2)
    assert {"DEVICE", "DEBUG", "CACHEDIR", "TINYGRAD_FULL_TRACEBACK"} <= set(flags.declared())


def test_cachedir_expands_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.delenv("CACHEDIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert flags.CACHEDIR.value == str(tmp_path / ".cache" / "tinygrad_core")


def test_discovery_finds_what_importlib_metadata_finds() -> None:
    """_discover reads entry_points.txt itself (importing importlib.metadata costs a quarter of a first result)."""
    import importlib.metadata

    from tinygrad_core.devices import GROUP, _discover

    def described(points: Any) -> set[tuple[str, str, str, str]]:
        return {(ep.name, ep.value, ep.dist.name, ep.dist.version) for ep in points}

    assert described(_discover()) == described(importlib.metadata.entry_points(group=GROUP))


def test_discovery_reads_dist_and_egg_info_first_distribution_wins(tmp_path: Any, monkeypatch: Any) -> None:
    from tinygrad_core.devices import GROUP, _discover

    def install(root: Any, folder: str, meta: str, name: str, version: str, points: str) -> None:
        (root / folder).mkdir(parents=True)
        (root / folder / meta).write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody: x\n")
        (root / folder / "entry_points.txt").write_text(points)

    first, second = tmp_path / "a", tmp_path / "b"
    install(
        first, "my_backend-1.0.dist-info", "METADATA", "my-backend", "1.0", f"[{GROUP}]\nmine = my_backend.plugin\n"
    )
    install(second, "my_backend-0.9.dist-info", "METADATA", "my-backend", "0.9", f"[{GROUP}]\nmine = old.plugin\n")
    points = f"# comment\n[console_scripts]\nx = y:z\n[{GROUP}]\n; also a comment\nlegacy = legacy.plugin\n"
    install(second, "legacy-2.0.egg-info", "PKG-INFO", "legacy", "2.0", points)
    (second / "garbled-1.0.dist-info").mkdir()
    (second / "garbled-1.0.dist-info" / "entry_points.txt").write_bytes(b"\xff\xfe not text")
    monkeypatch.setattr(sys, "path", [str(first), str(tmp_path / "missing"), str(second)])
    found = {(ep.name, ep.value, ep.dist.name, ep.dist.version) for ep in _discover()}
    assert found == {("mine", "my_backend.plugin", "my-backend", "1.0"), ("legacy", "legacy.plugin", "legacy", "2.0")}
