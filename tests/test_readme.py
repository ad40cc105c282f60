"""Every Python block in README.md runs as written (on the default device)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_block_runs(code, capsys):
    from tinygrad_core import Tensor

    training = Tensor.training
    try:
        exec(compile(code, str(README), "exec"), {})
    finally:
        Tensor.training = training
    assert capsys.readouterr().out.strip()  # every block prints what it shows


def test_missing_backend_error_is_the_one_quoted(tmp_path):
    """With only the core installed (no backend's entry point on the path), the first operation's error is the line
    README.md quotes."""
    import subprocess
    import sys

    import numpy
    import platformdirs
    import pluggy

    import tinygrad_core

    for module in (numpy, pluggy, platformdirs, tinygrad_core):
        (tmp_path / module.__name__).symlink_to(Path(module.__file__).parent)
    code = f"import sys; sys.path[:0] = [{str(tmp_path)!r}]; from tinygrad_core import Tensor; Tensor([1]).numpy()"
    run = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    quoted = re.search(r"```\n(tinygrad_core\.errors\.DeviceError: no tinygrad backend.*)\n```", README.read_text())
    assert quoted is not None
    assert last == quoted.group(1)


def test_readme_names_files_that_exist():
    root = README.parent
    pattern = r"`((?:examples|scripts|docs|bench|backends|tests)/[\w./-]+\.(?:py|sh|md))"
    named = set(re.findall(pattern, README.read_text()))
    assert named
    assert sorted(path for path in named if not (root / path).exists()) == []
