"""No silent wrong answers: NaN in arg-reductions, bad arguments that name themselves, threads that train exactly as
they would one after the other, bounded program memory, a safetensors loader that can't be stalled, and a kernel
cache treated as the trust boundary it is."""

from __future__ import annotations

import gc
import math
import os
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from tinygrad_core import Context, Device, Tensor, TinyJit, nn
from tinygrad_core.errors import ArgumentError
from tinygrad_core.nn import optim

NAN = math.nan


# --- NaN ---
@pytest.mark.parametrize(
    "values", [[1.0, NAN, 3.0], [NAN, 1.0, NAN], [2.0, 7.0, 7.0], [NAN], [-math.inf, 0.0, NAN, math.inf]], ids=str
)
def test_arg_reductions_point_at_the_first_nan_like_numpy(device, values):
    x = Tensor(values, device=device)
    assert x.argmax().item() == int(np.argmax(values)) == int(torch.tensor(values).argmax())
    assert x.argmin().item() == int(np.argmin(values))


def test_max_and_min_rows_propagate_nan(device):
    rows = [[1.0, NAN, 3.0], [4.0, 5.0, 6.0]]
    got = Tensor(rows, device=device)
    np.testing.assert_array_equal(got.max(1).numpy(), torch.tensor(rows).max(1).values.numpy())
    np.testing.assert_array_equal(got.min(1).numpy(), torch.tensor(rows).min(1).values.numpy())
    np.testing.assert_array_equal(got.argmax(1).numpy(), [1, 2])


# --- arguments ---
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: nn.Linear(-1, 3), "Linear: in_features must be a non-negative int, got -1"),
        (lambda: nn.Conv2d(3, 4, 0), "Conv2d: kernel_size must be a positive int, got 0"),
        (lambda: nn.Conv2d(3, 4, 3, stride=-1), "Conv2d: stride must be a positive int, got -1"),
        (lambda: nn.Embedding(-5, 3), "Embedding: vocab_size must be a non-negative int, got -5"),
        (lambda: nn.GroupNorm(0, 4), "GroupNorm: num_groups must be a positive int, got 0"),
        (lambda: nn.BatchNorm2d(2.5), "BatchNorm: sz must be a non-negative int, got 2.5"),
        (lambda: Tensor([1, 2], requires_grad=True), "requires_grad=True needs a floating-point tensor"),
        (lambda: Tensor([1, 2]).requires_grad_(), "requires_grad=True needs a floating-point tensor"),
    ],
)
def test_bad_arguments_raise_one_line_naming_them(make, message):
    with pytest.raises(ArgumentError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        make()
    assert "\n" not in str(info.value)


def test_layers_without_inputs_are_allowed_as_in_pytorch():
    assert nn.Linear(0, 3)(Tensor.ones(2, 0)).tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]


SHORT_TRACEBACKS = "import tinygrad_core.errors; tinygrad_core.errors.install_excepthook(); "  # the user's opt-in


@pytest.mark.parametrize(("flag", "value", "says"), [("DEBUG", "abc", "an integer"), ("THREADS", "-4", "non-negative")])
def test_bad_flags_are_one_line_errors(flag, value, says):
    run = subprocess.run(
        [sys.executable, "-c", f"{SHORT_TRACEBACKS}from tinygrad_core import Tensor; (Tensor([1.0]) + 1).tolist()"],
        env={**os.environ, flag: value},
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ArgumentError: flag {flag}={value!r}")
    assert says in last
    assert len(run.stderr.strip().splitlines()) <= 4  # the short traceback: no frames of ours


# --- threads ---
def _train(device: str, seed: int, jit: bool, steps: int = 12) -> list[float]:
    """A two-layer classifier trained with Adam from weights fixed by `seed`: the losses of every step."""
    rng = np.random.default_rng(seed)
    hidden = 16 + 8 * (seed % 3)  # different seeds: different shapes too
    arrays = [rng.standard_normal(s).astype(np.float32) * 0.3 for s in ((12, hidden), (hidden,), (hidden, 4), (4,))]
    params = [Tensor(a, device=device, requires_grad=True) for a in arrays]
    opt = optim.Adam(params, lr=0.02)
    x = Tensor(rng.standard_normal((32, 12)).astype(np.float32), device=device)
    y = Tensor(rng.integers(0, 4, 32).astype(np.int32), device=device)

    def step(x: Tensor, y: Tensor) -> Tensor:
        with Tensor.train():
            opt.zero_grad()
            logits = (x @ params[0] + params[1]).relu() @ params[2] + params[3]
            loss = logits.sparse_categorical_crossentropy(y)
            loss.backward()
            opt.step()
            return loss.realize()

    run = TinyJit(step) if jit else step
    return [run(x, y).item() for _ in range(steps)]


@pytest.mark.parametrize("jit", [False, True], ids=["plain", "tinyjit"])
@pytest.mark.parametrize("seeds", [(0, 0), (1, 2, 3, 4)], ids=["2-identical", "4-different"])
def test_threads_train_exactly_as_one_after_the_other(device, jit, seeds):
    if device not in ("CLANG", "CPU", "OPENCL"):
        pytest.skip("the issue's backends: CLANG, CPU and OPENCL")
    alone = [_train(device, seed, jit) for seed in seeds]
    start = threading.Barrier(len(seeds))
    together: list[list[float] | BaseException] = [[] for _ in seeds]

    def worker(index: int, seed: int) -> None:
        start.wait()
        try:
            together[index] = _train(device, seed, jit)
        except BaseException as e:  # reported below, not lost in the thread
            together[index] = e

    threads = [threading.Thread(target=worker, args=(i, s)) for i, s in enumerate(seeds)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got in together:
        if isinstance(got, BaseException):
            raise got
    assert together == alone  # bit-exact: the same floats, step by step


# --- indices, labels and integer division: checked on the device, raised at the next read ---
BAD_INDEX = {
    "gather": lambda d: Tensor([[1.0, 2.0], [3.0, 4.0]], device=d).gather(1, Tensor([[2], [0]], device=d)),
    "index tensor": lambda d: Tensor([1.0, 2.0, 3.0], device=d)[Tensor([0, 3], device=d)],
    "negative index tensor": lambda d: Tensor([1.0, 2.0, 3.0], device=d)[Tensor([-4], device=d)],
    "Embedding": lambda d: nn.Embedding(3, 2)(Tensor([[0, 3]], device=d)),
    "one_hot": lambda d: Tensor([0, 5], device=d).one_hot(3),
    "scatter": lambda d: Tensor([0, 0, 0], device=d).scatter(0, Tensor([3], device=d), Tensor([7], device=d)),
    "sparse_categorical_crossentropy": lambda d: Tensor([[0.0, 1.0]], device=d).sparse_categorical_crossentropy(
        Tensor([2], device=d)
    ),
    "cross_entropy": lambda d: Tensor([[0.0, 1.0]], device=d).cross_entropy(Tensor([-3], device=d)),
}


@pytest.mark.parametrize("op", list(BAD_INDEX))
def test_out_of_range_indices_raise_index_errors_at_the_next_read(default_device, op):
    result = BAD_INDEX[op](default_device)
    with pytest.raises(IndexError, match=r"out of (range|bounds)"):
        result.numpy()


def test_ignored_labels_and_in_range_indices_raise_nothing(default_device):
    d = default_device
    loss = Tensor([[0.0, 1.0], [1.0, 0.0]], device=d).sparse_categorical_crossentropy(Tensor([1, -1], device=d))
    assert loss.item() == pytest.approx(float(np.log1p(np.exp(-1.0))), rel=1e-5)
    assert Tensor([1.0, 2.0, 3.0], device=d)[Tensor([-3, 2], device=d)].tolist() == [1.0, 3.0]


def test_integer_division_by_zero_raises(default_device):
    with pytest.raises(ZeroDivisionError):
        Tensor([4, 5], device=default_device) // 0
    with pytest.raises(ZeroDivisionError):
        (Tensor([4, 5], device=default_device) % Tensor([0, 1], device=default_device)).tolist()
    assert (Tensor([4.0], device=default_device) / 0).tolist() == [math.inf]  # floats: IEEE, as in PyTorch


def test_a_dropped_result_takes_its_check_with_it(default_device):
    Tensor([1.0, 2.0], device=default_device)[Tensor([9], device=default_device)]  # never read, dropped at once
    assert (Tensor([1.0], device=default_device) + 1).tolist() == [2.0]


def test_checks_are_off_with_check_oob_0(default_device):
    with Context(CHECK_OOB=0):
        picked = Tensor([1.0, 2.0], device=default_device)[Tensor([5], device=default_device)]
        assert picked.tolist() == [0.0]  # what the arithmetic gives, as in tinygrad


def test_tinyjit_replays_raise_too(default_device):
    table = Tensor([[1.0, 2.0], [3.0, 4.0]], device=default_device)

    @TinyJit
    def pick(index: Tensor) -> Tensor:
        return table.gather(1, index).realize()

    for _ in range(3):  # run, capture, replay: all in range
        assert pick(Tensor([[1], [0]], device=default_device)).tolist() == [[2.0], [3.0]]
    with pytest.raises(IndexError, match="gather"):
        pick(Tensor([[1], [2]], device=default_device)).numpy()


# --- program memory ---
def _loaded_kernel_libraries() -> int:
    with open("/proc/self/maps") as f:
        return len(
            {line.split()[-2] for line in f if "/tinygrad_clang_" in line and line.rstrip().endswith("(deleted)")}
        )


def test_programs_are_bounded_and_unloaded():
    """PROGRAM_CACHE bounds the programs a device keeps; CLANG unloads (dlclose) the libraries it drops."""
    device = Device["CLANG"]
    if not hasattr(device, "_programs") or not sys.platform.startswith("linux"):
        pytest.skip("CLANG's program cache on Linux")
    with Context(PROGRAM_CACHE=16):
        before = _loaded_kernel_libraries()
        for n in range(1, 61):  # 60 distinct kernels: (n, 7).sum(0) for each n
            assert Tensor.ones(n, 7, device="CLANG").contiguous().sum(0).tolist() == [float(n)] * 7
        gc.collect()
        assert len(device._programs) <= 16
        assert _loaded_kernel_libraries() - before <= 16 + 8  # the kept ones, and a few held by live launches


# --- the kernel cache: a trust boundary ---
def _run_clang(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "from tinygrad_core import Tensor; print((Tensor([1.0, 2.0], device='CLANG') * 3 + 1).tolist())"
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True)


def test_a_new_cache_directory_is_private(tmp_path):
    run = _run_clang({"CACHEDIR": str(tmp_path / "cache")})
    assert run.stdout.strip() == "[4.0, 7.0]", run.stderr
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700


def test_a_cache_others_can_write_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    run = _run_clang({"CACHEDIR": str(shared)})
    assert run.returncode != 0
    assert f"CacheError: CACHEDIR {shared} is writable by others" in run.stderr
    assert "chmod 700" in run.stderr


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="making another user's directory needs root"
)
def test_a_cache_of_another_user_is_refused(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 12345, 12345)
    run = _run_clang({"CACHEDIR": str(theirs)})
    assert "belongs to another user (uid 12345)" in run.stderr


def test_an_unwritable_cache_costs_speed_only():
    run = _run_clang({"CACHEDIR": "/dev/null/cache"})  # can never be created
    assert run.stdout.strip() == "[4.0, 7.0]", run.stderr


def test_garbage_and_swapped_cache_entries_are_rebuilt(tmp_path):
    cache = tmp_path / "cache"
    first = _run_clang({"CACHEDIR": str(cache)})
    assert first.stdout.strip() == "[4.0, 7.0]", first.stderr
    entries = sorted(p for p in (cache / "kernels").rglob("*") if p.is_file())
    assert len(entries) >= 2
    a, b = entries[0], entries[1]
    a_bytes, b_bytes = a.read_bytes(), b.read_bytes()
    a.write_bytes(b_bytes)  # swapped between keys
    b.write_bytes(a_bytes)
    for entry in entries[2:]:  # garbage behind a valid-looking header
        entry.write_bytes(entry.read_bytes()[:48] + os.urandom(64))
    again = _run_clang({"CACHEDIR": str(cache)})
    assert again.stdout.strip() == "[4.0, 7.0]", again.stderr


def test_temporary_directories_of_killed_processes_are_removed(tmp_path):
    stale = Path(tempfile.gettempdir()) / "tinygrad_clang_999999999_leftover"
    stale.mkdir(exist_ok=True)
    (stale / "kernel.so").write_bytes(b"half written")
    run = _run_clang({"CACHEDIR": str(tmp_path / "cache")})
    assert run.stdout.strip() == "[4.0, 7.0]", run.stderr
    assert not stale.exists()
