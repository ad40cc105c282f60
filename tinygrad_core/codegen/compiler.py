"""Compiler: turns a kernel's source into a binary, cached on disk under CACHEDIR (tinygrad_core/cache.py: written
atomically, checked on read, kept under a size limit)."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

from tinygrad_core.cache import cache_root, read_entry, write_entry


class Compiler:
    """Turns source into a binary. `compile_cached` keeps every result on disk under CACHEDIR, keyed by a hash of the
    source, the compiler's `identity` (name, version, flags), so a changed compiler or flag never reuses a binary.

    Entries are written to a temporary file and renamed into place (atomic on POSIX and Windows), so processes that
    compile the same kernel at once each produce a whole entry and the last rename wins. Each entry starts with a
    header holding its own key, the payload's length and SHA-256: a truncated or corrupted entry, or one moved to
    another key's place, is detected and rebuilt.
    """

    identity: str = ""  # e.g. "clang 15.0.6 -O3 -march=native"; part of every cache key

    def compile(self, src: str) -> bytes:
        raise NotImplementedError

    def cache_path(self, src: str) -> Path:
        digest = hashlib.sha256(f"{self.identity}\0{src}".encode()).hexdigest()
        return cache_root() / "kernels" / digest[:2] / digest

    def compile_cached(self, src: str) -> bytes:
        path = self.cache_path(src)
        cached = read_entry(path)
        if cached is not None:
            return cached
        return self.recompile(src)

    def recompile(self, src: str) -> bytes:
        """Compile again and replace the cache entry (a cached binary that failed to load is rebuilt once)."""
        binary = self.compile(src)
        with contextlib.suppress(OSError):  # a read-only or full cache costs speed, never correctness
            write_entry(self.cache_path(src), binary)
        return binary
