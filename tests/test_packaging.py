"""Every distribution builds into a wheel and an sdist that `twine check --strict` accepts, with its license, project
URLs, classifiers, a README whose links work on a package index, and py.typed; user code type-checks against Tensor."""

from __future__ import annotations

import email
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTIONS = {
    "tinygrad-core": (ROOT, "tinygrad_core"),
    "tinygrad-cpu": (ROOT / "backends/cpu", "tinygrad_cpu"),
    "tinygrad-clang": (ROOT / "backends/clang", "tinygrad_clang"),
    "tinygrad-opencl": (ROOT / "backends/opencl", "tinygrad_opencl"),
    "tinygrad-metal": (ROOT / "backends/metal", "tinygrad_metal"),
    "tinygrad-metal-testing": (ROOT / "backends/metal-testing", "tinygrad_metal_testing"),
    "tinygrad-torch": (ROOT / "examples/tinygrad-torch", "tinygrad_torch"),
    "tinygrad-tiny": (ROOT / "examples/tinygrad-tiny", "tinygrad_tiny"),
}
TOOLS = Path(sys.executable).parent


def test_every_distribution_is_listed() -> None:
    found = {path.parent for path in ROOT.glob("*/*/pyproject.toml") if ".venv" not in path.parts}
    assert found | {ROOT} == {folder for folder, _ in DISTRIBUTIONS.values()}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    for folder, _ in DISTRIBUTIONS.values():
        subprocess.run([str(TOOLS / "hatchling"), "build", "-d", str(out)], cwd=folder, check=True, capture_output=True)
    return out


def test_twine_check_strict(built: Path) -> None:
    files = sorted(built.iterdir())
    assert len(files) == 2 * len(DISTRIBUTIONS)  # a wheel and an sdist each
    proc = subprocess.run(
        [str(TOOLS / "twine"), "check", "--strict", *map(str, files)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_wheel_metadata(built: Path, name: str) -> None:
    module = DISTRIBUTIONS[name][1]
    (wheel,) = built.glob(f"{module}-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(archive.read(info))
    assert f"{module}/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert meta["License-Expression"] == "MIT"
    urls = dict(url.split(", ", 1) for url in meta.get_all("Project-URL"))
    assert set(urls) == {"Homepage", "Documentation", "Source", "Issues"}
    if name == "tinygrad-metal":  # the emulator, fake pyobjc and lint live in tinygrad-metal-testing
        assert not [n for n in names if "testing" in n or n.endswith((".cpp", ".h"))]
    assert all(url.startswith("https://") for url in urls.values())
    assert "Typing :: Typed" in meta.get_all("Classifier")
    assert meta["Keywords"]
    readme = meta.get_payload()
    assert meta["Description-Content-Type"] == "text/markdown"
    assert len(readme) > 200
    relative = [link for link in re.findall(r"\]\(([^)\s]+)\)", readme) if not link.startswith(("https://", "#"))]
    assert relative == [], f"{name}'s README has links that break on a package index"


USER_SCRIPT = """
    from tinygrad_core import Tensor
    from tinygrad_core.nn import Linear, optim

    model = Linear(3, 1)
    x: Tensor = Tensor.randn(4, 3)
    loss: Tensor = model(x).relu().mean()
    loss.backward()
    optim.SGD([model.weight], lr=0.1).step()
    value: float = loss.item()
"""


def test_user_code_type_checks(tmp_path: Path) -> None:
    """With mypy --strict and with pyright (PyPI's pyright runs the npm package on the machine's node)."""
    good = tmp_path / "good.py"
    good.write_text(textwrap.dedent(USER_SCRIPT))
    bad = tmp_path / "bad.py"
    bad.write_text("from tinygrad_core import Tensor\nTensor([1.0]).relu().no_such_method()\n")
    mypy = [str(TOOLS / "mypy"), "--strict", "--no-incremental", "--follow-imports=silent"]
    proc = subprocess.run([*mypy, str(good)], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stdout
    proc = subprocess.run([*mypy, str(bad)], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert '"Tensor" has no attribute "no_such_method"' in proc.stdout
    if shutil.which("node") is None:
        pytest.skip("pyright needs Node.js (node) on the PATH; mypy passed")
    pyright = [str(TOOLS / "pyright"), "--pythonpath", sys.executable]
    proc = subprocess.run([*pyright, str(good)], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stdout
    proc = subprocess.run([*pyright, str(bad)], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert 'Cannot access attribute "no_such_method" for class "Tensor"' in proc.stdout
