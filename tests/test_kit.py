"""The conformance kit as a backend author runs it: its report counts skips by reason, and a device that can't run
here fails the run instead of skipping through it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _kit(tmp_path, device: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "tinygrad_core.testing", "--device", device, "--level", "registration"]
    run = subprocess.run(
        [*cmd, "--json", str(report), "--", "-q", "-p", "no:cacheprovider"], capture_output=True, text=True
    )
    return run, json.loads(report.read_text())


def test_the_report_counts_skips_by_reason(tmp_path):
    run, report = _kit(tmp_path, "CPU")
    assert run.returncode == 0, run.stdout[-3000:]
    cpu = report["devices"]["CPU"]
    assert cpu["skipped_by_reason"] == {"CPU declares no device_count: any index is accepted": 1}
    assert cpu["levels"]["registration"]["skipped"] == sum(cpu["skipped_by_reason"].values())


@pytest.mark.skipif(sys.platform == "darwin", reason="METAL can run on macOS")
def test_a_device_that_cannot_run_here_fails_the_kit(tmp_path):
    run, report = _kit(tmp_path, "METAL")  # never runs on Linux
    assert run.returncode != 0
    metal = report["devices"]["METAL"]
    assert metal["conforms"] is False
    failed = [t for t in metal["tests"] if t["outcome"] == "failed"]
    assert [t["id"] for t in failed] == ["registration::test_available"]
    assert "METAL can't run here: Metal needs macOS" in failed[0]["message"]
