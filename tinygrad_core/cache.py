"""The on-disk cache of compiled kernels and small results (BEAM's winners) under CACHEDIR: entries written
atomically and checked on read, a size limit with least-recently-used eviction, and `python -m tinygrad_core.cache`
to show or clear it.

The cache is a trust boundary: a binary in it is loaded as native code, so CACHEDIR must be private to its user. It
is created with mode 0700, and one writable by group or others, or owned by another user, is refused (CacheError).
A cache that can't be created or written costs speed only: every kernel is then compiled again.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from tinygrad_core import flags
from tinygrad_core.errors import CacheError, install_excepthook

MAGIC = b"TGCC2\n"  # every entry: MAGIC, sha256 of its own name, payload length, sha256 of the payload, payload
EVICTED = ("kernels", "blobs")  # the folders the size limit applies to
CHECK_EVERY = 256  # writes between two measurements of the cache's size (a measurement lists every entry)


def cache_root() -> Path:
    """CACHEDIR, created private on first use and checked to be private (see the module docstring)."""
    return _checked_root(flags.CACHEDIR.value)


@functools.lru_cache(maxsize=16)
def _checked_root(name: str) -> Path:
    root = Path(name)
    with contextlib.suppress(OSError):  # unwritable parents: nothing is cached, nothing breaks
        root.parent.mkdir(parents=True, exist_ok=True)
        root.mkdir(mode=0o700, exist_ok=True)
    try:
        info = root.stat()
    except OSError:
        return root
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise CacheError(
            f"CACHEDIR {root} belongs to another user (uid {info.st_uid}): compiled kernels in it would run as native "
            "code in this process; set CACHEDIR to a directory of your own"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise CacheError(
            f"CACHEDIR {root} is writable by others (mode {stat.filemode(info.st_mode)}): compiled kernels in it would "
            f"run as native code in this process; chmod 700 {root}, or set CACHEDIR to a private directory"
        )
    return root


# --- entries ---
def read_entry(path: Path) -> bytes | None:
    """The payload of a whole, unaltered entry at `path`, or None (missing, truncated, corrupt, moved). A hit marks
    the entry as recently used."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    key = hashlib.sha256(path.name.encode()).digest()  # the entry's own key: an entry moved elsewhere won't match
    header = len(MAGIC) + 32 + 8 + 32
    if len(data) < header or not data.startswith(MAGIC) or data[len(MAGIC) : len(MAGIC) + 32] != key:
        return None
    length = int.from_bytes(data[len(MAGIC) + 32 : len(MAGIC) + 40], "little")
    payload = data[header:]
    if len(payload) != length or hashlib.sha256(payload).digest() != data[len(MAGIC) + 40 : header]:
        return None
    with contextlib.suppress(OSError):  # the modification time is the entry's last use: eviction goes oldest first
        os.utime(path)
    return payload


def write_entry(path: Path, payload: bytes) -> None:
    """Write an entry atomically (a temporary file renamed into place); now and then keep the cache under its limit."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = hashlib.sha256(path.name.encode()).digest()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:16]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + key + len(payload).to_bytes(8, "little") + hashlib.sha256(payload).digest() + payload)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _Limit.wrote(cache_root())


def cached_blob(name: str, make: Callable[[], bytes]) -> bytes:
    """A small on-disk cache entry under CACHEDIR (search results, ...), with the same integrity checks."""
    path = cache_root() / "blobs" / hashlib.sha256(name.encode()).hexdigest()
    cached = read_entry(path)
    if cached is None:
        cached = make()
        with contextlib.suppress(OSError):
            write_entry(path, cached)
    return cached


# --- size ---
def entries(root: Path) -> list[tuple[Path, os.stat_result]]:
    """Every entry under the evicted folders with its stat, oldest use first."""
    found = []
    for folder in EVICTED:
        for dirpath, _, names in os.walk(root / folder):
            for name in names:
                path = Path(dirpath) / name
                with contextlib.suppress(OSError):
                    found.append((path, path.stat()))
    return sorted(found, key=lambda entry: entry[1].st_mtime)


def evict(root: Path, limit: int) -> tuple[int, int]:
    """Delete the least recently used entries until the cache holds at most 80% of `limit` bytes (so eviction runs
    rarely, not at every write). Returns (files, bytes) deleted."""
    found = entries(root)
    total = sum(info.st_size for _, info in found)
    if total <= limit:
        return 0, 0
    files = freed = 0
    for path, info in found:
        if total - freed <= limit * 0.8:
            break
        with contextlib.suppress(OSError):  # another process may have deleted or replaced it already
            path.unlink()
            files, freed = files + 1, freed + info.st_size
    return files, freed


class _Limit:
    """Counts this process's writes; the first, and every CHECK_EVERY-th, measures the cache and evicts."""

    lock = threading.Lock()
    writes = 0

    @classmethod
    def wrote(cls, root: Path) -> None:
        with cls.lock:
            check = cls.writes % CHECK_EVERY == 0
            cls.writes += 1
        if check:
            evict(root, flags.CACHE_MB.value << 20)


# --- python -m tinygrad_core.cache ---
def main(argv: list[str] | None = None) -> None:
    install_excepthook()
    parser = argparse.ArgumentParser(prog="python -m tinygrad_core.cache", description="Show or clear the cache.")
    parser.add_argument("--clear", action="store_true", help="delete every cached kernel and result")
    args = parser.parse_args(argv)
    root = cache_root()
    if args.clear:
        removed = [root / folder for folder in (*EVICTED, "ffi") if (root / folder).exists()]
        for folder in removed:
            shutil.rmtree(folder, ignore_errors=True)
        print(f"cleared {root}" if removed else f"{root} holds nothing to clear")
        return
    found = entries(root)
    total = sum(info.st_size for _, info in found)
    print(f"kernel cache: {root} (CACHEDIR; default: the platform's user cache folder, XDG_CACHE_HOME on Linux)")
    print(f"{len(found)} entries, {total / 2**20:.1f} MB of at most {flags.CACHE_MB.value} MB (CACHE_MB)")
    print("least recently used entries are deleted beyond the limit; --clear deletes everything")


if __name__ == "__main__":
    main()
