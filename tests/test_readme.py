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
