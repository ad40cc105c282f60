"""The kernel cache's place (CACHEDIR, else the platform's user cache folder), its size limit with least-recently-used
eviction, and `python -m tinygrad_core.cache`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_core import cache, flags


def test_default_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CACHEDIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert flags.CACHEDIR.value == str(tmp_path / "xdg" / "tinygrad_core")
    monkeypatch.setenv("CACHEDIR", str(tmp_path / "mine"))
    assert flags.CACHEDIR.value == str(tmp_path / "mine")


def _fill(root: Path, count: int, size: int) -> list[Path]:
    paths = []
    for i in range(count):
        path = root / "kernels" / f"{i:02x}" / f"entry{i}"
        cache.write_entry(path, bytes(size))
        os.utime(path, (1_000_000 + i, 1_000_000 + i))  # entry i was last used at second i
        paths.append(path)
    return paths


def test_eviction_deletes_least_recently_used_first(tmp_path: Path) -> None:
    with flags.Context(CACHEDIR=str(tmp_path), CACHE_MB=1000):
        paths = _fill(tmp_path, 10, 100_000)
        assert cache.read_entry(paths[0]) == bytes(100_000)  # a hit: entry 0 is now the most recently used
        files, freed = cache.evict(tmp_path, 600_000)
    assert files == 6  # down to 80% of the limit (480 kB): 4 entries of 100 kB (+ headers) stay
    assert freed > 500_000
    kept = [path for path in paths if path.exists()]
    assert kept == [paths[0], *paths[7:]]
    assert cache.evict(tmp_path, 600_000) == (0, 0)  # under the limit: nothing to do


def test_writes_keep_the_cache_under_its_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache._Limit, "writes", 0)
    monkeypatch.setattr(cache, "CHECK_EVERY", 4)
    with flags.Context(CACHEDIR=str(tmp_path), CACHE_MB=1):
        _fill(tmp_path, 40, 100_000)
        assert sum(info.st_size for _, info in cache.entries(tmp_path)) <= (1 << 20) + 4 * 100_100


def test_command_line(tmp_path: Path) -> None:
    env = {**os.environ, "CACHEDIR": str(tmp_path), "CACHE_MB": "50"}
    with flags.Context(CACHEDIR=str(tmp_path)):
        _fill(tmp_path, 3, 1 << 20)
    show = [sys.executable, "-m", "tinygrad_core.cache"]
    out = subprocess.run(show, env=env, capture_output=True, text=True, check=True).stdout
    assert f"kernel cache: {tmp_path}" in out
    assert "3 entries, 3.0 MB of at most 50 MB (CACHE_MB)" in out
    out = subprocess.run([*show, "--clear"], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"cleared {tmp_path}"
    assert not (tmp_path / "kernels").exists()
    out = subprocess.run(show, env=env, capture_output=True, text=True, check=True).stdout
    assert "0 entries, 0.0 MB" in out
