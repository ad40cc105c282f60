"""Compiler: turns a kernel's source into a binary, cached on disk under CACHEDIR (content-addressed, written
atomically, checked on read); cached_blob keeps other small results (BEAM's winners) the same way."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from tinygrad_core import flags


class Compiler:
    """Turns source into a binary. `compile_cached` keeps every result on disk under CACHEDIR, keyed by a hash of the
    source, the compiler's `identity` (name, version, flags), so a changed compiler or flag never reuses a binary.

    Entries are written to a temporary file and renamed into place (atomic on POSIX and Windows), so processes that
    compile the same kernel at once each produce a whole entry and the last rename wins. Each entry starts with a
    header holding the payload's length and SHA-256: a truncated or corrupted entry is detected and rebuilt.
    """

    identity: str = ""  # e.g. "clang 15.0.6 -O3 -march=native"; part of every cache key
    _MAGIC = b"TGCC1\n"

    def compile(self, src: str) -> bytes:
        raise NotImplementedError

    def cache_path(self, src: str) -> Path:
        digest = hashlib.sha256(f"{self.identity}\0{src}".encode()).hexdigest()
        return Path(flags.CACHEDIR.value) / "kernels" / digest[:2] / digest

    def compile_cached(self, src: str) -> bytes:
        path = self.cache_path(src)
        cached = _read_entry(path, self._MAGIC)
        if cached is not None:
            return cached
        binary = self.compile(src)
        with contextlib.suppress(OSError):  # a read-only or full cache costs speed, never correctness
            _write_entry(path, self._MAGIC, binary)
        return binary


def _read_entry(path: Path, magic: bytes) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    header = len(magic) + 8 + 32
    if len(data) < header or not data.startswith(magic):
        return None
    length = int.from_bytes(data[len(magic) : len(magic) + 8], "little")
    payload = data[header:]
    if len(payload) != length or hashlib.sha256(payload).digest() != data[len(magic) + 8 : header]:
        return None
    return payload


def _write_entry(path: Path, magic: bytes, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:16]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(magic + len(payload).to_bytes(8, "little") + hashlib.sha256(payload).digest() + payload)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def cached_blob(name: str, make: Callable[[], bytes]) -> bytes:
    """A small on-disk cache entry under CACHEDIR (search results, ...), with the same integrity checks."""
    path = Path(flags.CACHEDIR.value) / "blobs" / hashlib.sha256(name.encode()).hexdigest()
    cached = _read_entry(path, Compiler._MAGIC)
    if cached is None:
        cached = make()
        with contextlib.suppress(OSError):
            _write_entry(path, Compiler._MAGIC, cached)
    return cached
