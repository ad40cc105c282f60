"""The examples run end to end on the default device with tiny limits, write their files, and learn something.

Each runs as a subprocess, the way a reader runs it; the checks are on what it prints and writes, never on time.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in:\n{text}"
    return float(found.group(1))


@pytest.mark.parametrize("script", ["xor.py", "mnist.py", "resnet.py", "denoise.py", "cartpole.py"])
def test_help_names_the_common_flags(script):
    if script == "cartpole.py":
        pytest.importorskip("gymnasium")
    if script in ("denoise.py", "cartpole.py"):
        pytest.importorskip("matplotlib")
    usage = run(script, "--help")
    assert "--device" in usage
    assert "--seed" in usage


def test_train_sh_help_answers_without_setup():
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "train.sh"), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout
    assert "--epochs" in result.stdout


def test_mnist_plot_and_resume(tmp_path):
    pytest.importorskip("matplotlib")
    weights, resumed = tmp_path / "mnist.safetensors", tmp_path / "resumed.safetensors"
    common = ["--digits", "--limit", "512", "--seed", "1"]
    run("mnist.py", *common, "--epochs", "1", "--save", str(weights), "--plot", str(tmp_path / "one.png"))
    out = run("mnist.py", *common, "--epochs", "2", "--resume", str(weights), "--save", str(resumed))
    assert "resumed from" in out
    assert "after 1 epoch(s)" in out
    assert number(r"mnist: test accuracy ([\d.]+)%", out) > 50  # 10 classes: chance is 10%
    assert (tmp_path / "one.png").stat().st_size > 0
    assert resumed.stat().st_size > 0


def test_resnet_learns_saves_and_resumes(tmp_path):
    common = ["--digits", "--limit", "512", "--batch-size", "16", "--width", "8", "--out", str(tmp_path)]
    first = run("resnet.py", *common, "--epochs", "1")
    checkpoint = tmp_path / "resnet.safetensors"
    assert checkpoint.stat().st_size > 0
    out = run("resnet.py", *common, "--epochs", "2", "--resume", str(checkpoint))
    assert "after 1 epoch(s)" in out
    before = number(r"test accuracy ([\d.]+)%", first)
    after = number(r"test accuracy ([\d.]+)%", out)
    assert after > 25  # 10 classes: chance is 10%; this run reaches about 50%
    assert after > before - 5  # one more epoch at a lower learning rate does not undo the first


def test_denoise_gains_psnr_and_writes_the_grid(tmp_path):
    pytest.importorskip("matplotlib")
    out = run("denoise.py", "--digits", "--limit", "512", "--batch-size", "32", "--epochs", "2", "--out", str(tmp_path))
    assert number(r"gain (-?[\d.]+) dB", out) > 0
    assert (tmp_path / "denoise.png").stat().st_size > 0
    assert (tmp_path / "denoise.safetensors").stat().st_size > 0


def test_cartpole_beats_a_random_policy(tmp_path):
    gym = pytest.importorskip("gymnasium")
    pytest.importorskip("matplotlib")
    env = gym.make("CartPole-v1")
    env.action_space.seed(0)
    random_returns = []
    for episode in range(20):
        env.reset(seed=episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total, done = total + float(reward), terminated or truncated
        random_returns.append(total)
    out = run("cartpole.py", "--steps", "10240", "--eval-episodes", "10", "--out", str(tmp_path))
    greedy = number(r"greedy mean return ([\d.]+)", out)
    assert greedy > 2 * sum(random_returns) / len(random_returns)  # random: about 22
    assert (tmp_path / "cartpole.png").stat().st_size > 0
    assert (tmp_path / "cartpole.safetensors").stat().st_size > 0
