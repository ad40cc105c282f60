"""The compile cache, the pool, availability and compiler errors of tinygrad-clang."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest
from tinygrad_clang import runtime as clang_runtime

from tinygrad_core import Device, Tensor, flags
from tinygrad_core.codegen import Compiler
from tinygrad_core.codegen.lower import Plan
from tinygrad_core.errors import CompileError, CompilerCrash

pytestmark = pytest.mark.skipif(
    clang_runtime.why_unavailable() is not None, reason=str(clang_runtime.why_unavailable())
)

SOURCE = "int tg_answer(void) { return 42; }\n"


class CountingCompiler(clang_runtime.ClangCompiler):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def compile(self, src: str) -> bytes:
        self.calls += 1
        return super().compile(src)


def test_cache_hit_skips_the_compiler(tmp_path):
    compiler = CountingCompiler()
    with flags.Context(CACHEDIR=str(tmp_path)):
        first = compiler.compile_cached(SOURCE)
        second = compiler.compile_cached(SOURCE)
    assert first == second
    assert compiler.calls == 1


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupt_entry_is_rebuilt(tmp_path, damage):
    compiler = CountingCompiler()
    with flags.Context(CACHEDIR=str(tmp_path)):
        good = compiler.compile_cached(SOURCE)
        path = compiler.cache_path(SOURCE)
        data = path.read_bytes()
        if damage == "truncate":
            path.write_bytes(data[: len(data) // 2])
        elif damage == "flip":
            path.write_bytes(data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:])
        else:
            path.write_bytes(b"not a cache entry")
        assert compiler.compile_cached(SOURCE) == good
        assert compiler.calls == 2
        assert path.read_bytes() == data  # rewritten whole


def _compile_in_child(cachedir: str, queue) -> None:
    os.environ["CACHEDIR"] = cachedir
    binary = clang_runtime.ClangCompiler().compile_cached(SOURCE + "/* concurrent */\n")
    queue.put(len(binary))


def test_two_processes_compile_the_same_kernel(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    children = [ctx.Process(target=_compile_in_child, args=(str(tmp_path), queue)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
    assert [child.exitcode for child in children] == [0, 0]
    sizes = [queue.get(timeout=5) for _ in children]
    assert sizes[0] == sizes[1] > 0
    with flags.Context(CACHEDIR=str(tmp_path)):
        compiler = CountingCompiler()
        compiler.compile_cached(SOURCE + "/* concurrent */\n")
        assert compiler.calls == 0  # one whole entry is there
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_unavailable_without_a_compiler(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    clang_runtime.find_compiler.cache_clear()
    try:
        assert clang_runtime.why_unavailable() == "no C compiler found (install clang or gcc)"
    finally:
        monkeypatch.undo()
        clang_runtime.find_compiler.cache_clear()
    assert clang_runtime.why_unavailable() is None


def test_compile_error_carries_the_compilers_message(tmp_path):
    with flags.Context(CACHEDIR=str(tmp_path)), pytest.raises(CompileError, match=r"undeclared|error"):
        clang_runtime.ClangCompiler().compile_cached("void broken(void) { return nope; }\n")


def test_compiler_identity_is_in_the_key(tmp_path):
    first, second = clang_runtime.ClangCompiler(), clang_runtime.ClangCompiler()
    second.identity += " -DOTHER"
    assert first.cache_path(SOURCE) != second.cache_path(SOURCE)
    assert isinstance(first, Compiler)


def test_in_place_updates_run_each_chunk_once():
    # an in-place kernel run across threads many times: a chunk run twice, or skipped, shows in the total
    x = Tensor.zeros(1 << 16, device="CLANG").contiguous().realize()
    for _ in range(50):
        x.assign(x + 1).realize()
    np.testing.assert_array_equal(x.numpy(), np.full(1 << 16, 50, np.float32))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_results_do_not_depend_on_threads(threads):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((96, 80)).astype(np.float32), rng.standard_normal((80, 72)).astype(np.float32)
    with flags.Context(THREADS=threads):
        assert Device["CLANG"].threads == threads  # type: ignore[attr-defined]
        out = (Tensor(a, device="CLANG") @ Tensor(b, device="CLANG")).numpy()
    np.testing.assert_allclose(out, a @ b, rtol=1e-4, atol=1e-4)


def test_beam_search_picks_a_correct_plan_and_caches_it(tmp_path):
    from tinygrad_core.codegen import CompiledDevice, opt, search
    from tinygrad_core.codegen.lower import canonicalize
    from tinygrad_core.schedule import create_schedule

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((32, 48)).astype(np.float32), rng.standard_normal((48, 40)).astype(np.float32)
    out = Tensor(a, device="CLANG") @ Tensor(b, device="CLANG")
    kernel = canonicalize([item.kernel for item in create_schedule([out.lazydata]) if item.kernel is not None][-1])
    device = Device["CLANG"]
    assert isinstance(device, CompiledDevice)
    start = opt.choose_plan(kernel, device.renderer, device.capabilities)
    with flags.Context(CACHEDIR=str(tmp_path), BEAM=2):
        plan = search.best_plan(kernel, device, start, "test-key")
        assert list((tmp_path / "blobs").iterdir())  # the winner is on disk
        assert search.best_plan(kernel, device, Plan(), "test-key") == plan  # and read back, not searched again
        np.testing.assert_allclose(out.numpy(), a @ b, rtol=1e-4, atol=1e-4)


def test_a_compiler_that_fails_on_vectors_gets_plain_loops(tmp_path, monkeypatch):
    """clang 15 crashes on some wide-vector kernels: the kernel is rebuilt without vectors, not reported broken."""
    from tinygrad_core.schedule import create_schedule

    rejected = []

    class NoVectors(clang_runtime.ClangCompiler):
        def compile(self, src: str) -> bytes:
            if any(f"float{n} " in src for n in (4, 8, 16)):
                rejected.append(src)
                raise CompilerCrash("a compiler that crashes on vector code")
            return super().compile(src)

    device = clang_runtime.ClangDevice("CLANG")
    monkeypatch.setattr(device, "compiler", NoVectors())
    a = np.linspace(-3, 3, 256, dtype=np.float32)
    (item,) = create_schedule([(Tensor(a, device="CLANG").exp() * 3).lazydata])
    assert item.kernel is not None
    with flags.Context(CACHEDIR=str(tmp_path)):
        device.run(item.kernel, [buf.handle for buf in item.bufs])
    assert rejected  # the tuned plan used vectors...
    sources = [step.source for compiled in device._programs.values() for step in compiled.steps]
    assert not any("float16 " in src or "float8 " in src for src in sources)  # ...the kernel that ran has none
    np.testing.assert_allclose(item.bufs[0].numpy(), np.exp(a) * 3, rtol=1e-5)


def test_noopt_builds_plain_loops_with_the_same_results():
    a, b = np.random.default_rng(0).standard_normal((2, 48, 40)).astype(np.float32)
    expected = (Tensor(a, device="CLANG") @ Tensor(b.T, device="CLANG")).numpy()
    with flags.Context(NOOPT=1, DEBUG=0):
        plain = (Tensor(a, device="CLANG") @ Tensor(b.T, device="CLANG")).numpy()
    np.testing.assert_allclose(plain, expected, rtol=1e-5)
    clang = Device["CLANG"]
    assert isinstance(clang, clang_runtime.ClangDevice)
    programs = clang._programs
    plain_builds = [compiled for (_, (_, noopt)), compiled in programs.items() if noopt]
    assert plain_builds
    assert all(step.plan == Plan() for compiled in plain_builds for step in compiled.steps)
