"""Every code block of docs/writing-a-backend.md works as written: files, commands and snippets.

Blocks whose first line is a comment naming a path (`# tinygrad-tiny/pyproject.toml`) are files; several blocks
naming one path are its consecutive parts. The guide's tinygrad-tiny must be examples/tinygrad-tiny, byte for byte.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "writing-a-backend.md"
EXAMPLE = ROOT / "examples" / "tinygrad-tiny"
FILE_MARKER = re.compile(r"# ([\w.-]+/[\w./-]+)\n")


def _blocks() -> list[tuple[str, str]]:
    """(language, code) of every fenced block."""
    return re.findall(r"^```(\w*)\n(.*?)^```$", GUIDE.read_text(), flags=re.MULTILINE | re.DOTALL)


def _files() -> dict[str, str]:
    """Every file the guide writes, its parts joined as ruff formats top-level definitions (two blank lines)."""
    parts: dict[str, list[str]] = {}
    for _, code in _blocks():
        marker = FILE_MARKER.match(code)
        if marker:
            parts.setdefault(marker.group(1), []).append(code[marker.end() :].strip("\n"))
    return {path: "\n\n\n".join(chunks) + "\n" for path, chunks in parts.items()}


def _snippets(language: str) -> list[str]:
    return [code for lang, code in _blocks() if lang == language and not FILE_MARKER.match(code)]


def _write(root: Path, prefix: str) -> Path:
    for path, text in _files().items():
        if path.startswith(prefix + "/"):
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text)
    return root / prefix


def _env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("DEVICE", "TINYGRAD_PLUGINS")}
    return env | extra


def test_every_block_is_checked() -> None:
    """Each block is a file, the layout, the try-it snippet, the capabilities snippet or the install commands."""
    kinds = [("file" if FILE_MARKER.match(code) else lang) for lang, code in _blocks()]
    assert kinds.count("text") == 1
    assert kinds.count("sh") == 1
    assert kinds.count("python") == 2
    assert len(kinds) == kinds.count("file") + 4, f"a block no test checks: {kinds}"


def test_layout_lists_the_files() -> None:
    (layout,) = [code for lang, code in _blocks() if lang == "text"]
    listed, folders = set(), []
    for line in layout.splitlines():
        name = line.lstrip("│├└─ ")
        depth = (len(line) - len(name)) // 4
        folders[depth:] = [name.rstrip("/")]
        if not name.endswith("/"):
            listed.add("/".join(folders))
    assert listed == {path for path in _files() if path.startswith("tinygrad-tiny/")}


def test_example_is_the_guide() -> None:
    written = {
        path.removeprefix("tinygrad-tiny/"): text
        for path, text in _files().items()
        if path.startswith("tinygrad-tiny/")
    }
    on_disk = {
        str(p.relative_to(EXAMPLE)): p.read_text()
        for p in EXAMPLE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    on_disk = {path: text for path, text in on_disk.items() if not path.endswith((".pyc", ".egg-info"))}
    assert sorted(written) == sorted(on_disk), "examples/tinygrad-tiny holds other files than the guide writes"
    for path, text in written.items():
        assert on_disk[path] == text, f"examples/tinygrad-tiny/{path} differs from docs/writing-a-backend.md"


def test_pyproject_declares_the_entry_point() -> None:
    project = tomllib.loads(_files()["tinygrad-tiny/pyproject.toml"])["project"]
    assert project["entry-points"]["tinygrad_core.backends"] == {"tiny": "tinygrad_tiny.plugin"}
    assert "tinygrad-core==0.1.*" in project["dependencies"]


def test_try_it_snippet(tmp_path: Path) -> None:
    """The snippet run from the folder holding tinygrad-tiny/ prints what its comment says."""
    _write(tmp_path, "tinygrad-tiny")
    code = next(code for code in _snippets("python") if "Device.registered" in code)
    expected = re.search(r"# prints (.*)$", code, flags=re.MULTILINE).group(1)  # type: ignore[union-attr]
    # a fresh interpreter: the module names must not clash with an installed tinygrad-tiny
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_env(TINYGRAD_DISABLE_PLUGINS="tiny"),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == expected


def test_capabilities_snippet() -> None:
    from tinygrad_core import runtime
    from tinygrad_core.testing.plugin import _glob
    from tinygrad_core.testing.suite import test_ops

    code = next(code for code in _snippets("python") if "known_failures" in code)
    namespace: dict[str, object] = {}
    exec(compile(code, str(GUIDE), "exec"), namespace)
    device = namespace["MyDevice"]
    assert issubclass(device, runtime.Device)  # type: ignore[arg-type]
    ieee_ids = [f"ops::test_ieee[{op.name}-{test_ops.dtype_name(dtype)}]" for op, dtype in test_ops.IEEE]
    for pattern in device.known_failures:
        assert any(_glob(pattern).fullmatch(test_id) for test_id in ieee_ids), f"{pattern} names no kit test"


def test_install_and_run_the_kit(tmp_path: Path) -> None:
    """The commands of section 5, with `pip install -e` turned into an install into a scratch folder."""
    pytest.importorskip("hatchling", reason="building the package offline needs hatchling (in tinygrad-core[test])")
    (commands,) = [code for lang, code in _blocks() if lang == "sh"]
    _write(tmp_path, "tinygrad-tiny")
    site = tmp_path / "site"
    env = _env(PYTHONPATH=str(site), TINYGRAD_TRACE_PLUGINS="0")
    for command in commands.strip().splitlines():
        args = command.split()
        if args[:3] == ["pip", "install", "-e"]:
            args = [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-build-isolation",
                "--no-deps",
                "--target",
                str(site),
                args[3],
            ]
        else:
            assert args[0] == "python", command
            args[0] = sys.executable
        proc = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, env=env)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        if "tinygrad_core.devices" in args:
            (row,) = [line for line in proc.stdout.splitlines() if " TINY " in f" {line} "]
            assert "tinygrad-tiny 0.1.0" in row
            assert row.rstrip().endswith("available")
    report = json.loads((tmp_path / "tiny-report.json").read_text())["devices"]["TINY"]
    assert report["conforms"]
    assert list(report["levels"]) == ["registration", "buffers", "ops", "reduce"]
    assert report["backend"]["distribution"] == "tinygrad-tiny"


def test_compiled_backend(tmp_path: Path) -> None:
    """tinygrad-cc from section 7 passes the kit's view tests, which build loads of every kind of view."""
    if shutil.which("cc") is None:
        pytest.skip("no C compiler named cc here")
    _write(tmp_path, "tinygrad-cc")
    (tmp_path / "tinygrad-cc" / "tinygrad_cc" / "__init__.py").write_text("")
    kit = [sys.executable, "-m", "tinygrad_core.testing", "--plugin", "tinygrad_cc.plugin", "--device", "CC"]
    proc = subprocess.run(
        [*kit, "--level", "ops", "--json", "cc.json", "--", "-k", "test_view or test_tensor_program"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_env(PYTHONPATH=str(tmp_path / "tinygrad-cc"), CACHEDIR=str(tmp_path / "cache")),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    levels = json.loads((tmp_path / "cc.json").read_text())["devices"]["CC"]["levels"]
    assert levels["ops"]["passed"] >= 30
