"""Compiler: turns a kernel's source into a binary, cached on disk under CACHEDIR (content-addressed, written
atomically, checked on read); cached_blob keeps other small results (BEAM's winners) the same way.

The cache is a trust boundary: a binary in it is loaded as native code, so CACHEDIR must be private to its user. It
is created with mode 0700, and one writable by group or others, or owned by another user, is refused (CacheError).
A cache that can't be created or written costs speed only: every kernel is then compiled again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from tinygrad_core import flags
from tinygrad_core.errors import CacheError


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


class Compiler:
    """Turns source into a binary. `compile_cached` keeps every result on disk under CACHEDIR, keyed by a hash of the
    source, the compiler's `identity` (name, version, flags), so a changed compiler or flag never reuses a binary.

    Entries are written to a temporary file and renamed into place (atomic on POSIX and Windows), so processes that
    compile the same kernel at once each produce a whole entry and the last rename wins. Each entry starts with a
    header holding its own key, the payload's length and SHA-256: a truncated or corrupted entry, or one moved to
    another key's place, is detected and rebuilt.
    """

    identity: str = ""  # e.g. "clang 15.0.6 -O3 -march=native"; part of every cache key
    _MAGIC = b"TGCC2\n"

    def compile(self, src: str) -> bytes:
        raise NotImplementedError

    def cache_path(self, src: str) -> Path:
        digest = hashlib.sha256(f"{self.identity}\0{src}".encode()).hexdigest()
        return cache_root() / "kernels" / digest[:2] / digest

    def compile_cached(self, src: str) -> bytes:
        path = self.cache_path(src)
        cached = _read_entry(path, self._MAGIC)
        if cached is not None:
            return cached
        return self.recompile(src)

    def recompile(self, src: str) -> bytes:
        """Compile again and replace the cache entry (a cached binary that failed to load is rebuilt once)."""
        binary = self.compile(src)
        with contextlib.suppress(OSError):  # a read-only or full cache costs speed, never correctness
            _write_entry(self.cache_path(src), self._MAGIC, binary)
        return binary


def _read_entry(path: Path, magic: bytes) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    key = hashlib.sha256(path.name.encode()).digest()  # the entry's own key: an entry moved elsewhere won't match
    header = len(magic) + 32 + 8 + 32
    if len(data) < header or not data.startswith(magic) or data[len(magic) : len(magic) + 32] != key:
        return None
    length = int.from_bytes(data[len(magic) + 32 : len(magic) + 40], "little")
    payload = data[header:]
    if len(payload) != length or hashlib.sha256(payload).digest() != data[len(magic) + 40 : header]:
        return None
    return payload


def _write_entry(path: Path, magic: bytes, payload: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = hashlib.sha256(path.name.encode()).digest()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:16]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(magic + key + len(payload).to_bytes(8, "little") + hashlib.sha256(payload).digest() + payload)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def cached_blob(name: str, make: Callable[[], bytes]) -> bytes:
    """A small on-disk cache entry under CACHEDIR (search results, ...), with the same integrity checks."""
    path = cache_root() / "blobs" / hashlib.sha256(name.encode()).hexdigest()
    cached = _read_entry(path, Compiler._MAGIC)
    if cached is None:
        cached = make()
        with contextlib.suppress(OSError):
            _write_entry(path, Compiler._MAGIC, cached)
    return cached
