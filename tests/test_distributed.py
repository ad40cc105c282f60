"""tinygrad_core.distributed: N ranks under mpirun train exactly as one process with the whole batch; a rank that
fails makes the whole job end with a clear error; the sampler's shards. The MPI runs launch tests/distributed_worker.py
with mpirun and are skipped, with the reason, where mpirun or mpi4py is missing."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinygrad_core import Device
from tinygrad_core.distributed import DistributedOptimizer, DistributedSampler
from tinygrad_core.nn import Linear, optim

WORKER = Path(__file__).with_name("distributed_worker.py")
DEVICES = [name for name in ("CLANG", "CPU") if Device.why_unavailable(name) is None]


def _why_no_mpi() -> str | None:
    if shutil.which("mpirun") is None:
        return "mpirun not found: apt install openmpi-bin libopenmpi-dev (scripts/setup.sh does, as root)"
    if importlib.util.find_spec("mpi4py") is None:
        return 'mpi4py not installed: pip install "tinygrad-core[mpi]"'
    if not DEVICES:
        return "neither CLANG nor CPU can run here"
    return None


needs_mpi = pytest.mark.skipif(_why_no_mpi() is not None, reason=_why_no_mpi() or "")


def _run(ranks: int | None, out: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The worker under `mpirun -n ranks`, or as a plain process when ranks is None."""
    env = {
        **os.environ,
        # Open MPI refuses root unless told twice; one thread per rank, the two cores being shared
        "OMPI_ALLOW_RUN_AS_ROOT": "1",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMP_NUM_THREADS": "1",
        "THREADS": "1",
    }
    command = [sys.executable, str(WORKER), str(out), "--devices", ",".join(DEVICES), *args]
    if ranks is not None:
        # --bind-to none: parallel test workers each running mpirun would otherwise pin all their rank 0s to one core
        command = ["mpirun", "-n", str(ranks), "--oversubscribe", "--bind-to", "none", *command]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    out = tmp_path_factory.mktemp("reference") / "params.npz"
    done = _run(None, out, "--plain")
    assert done.returncode == 0, done.stderr
    return dict(np.load(out))


@needs_mpi
@pytest.mark.parametrize("ranks", [1, 2, 4])
def test_ranks_train_as_one_process(ranks: int, reference: dict[str, np.ndarray], tmp_path: Path):
    """20 steps of SGD and Adam, the global batch of 16 split over the ranks: the same weights as one process (1 rank:
    without mpirun, a world of one)."""
    out = tmp_path / "params.npz"
    done = _run(None if ranks == 1 else ranks, out)
    assert done.returncode == 0, done.stderr
    trained = dict(np.load(out))
    assert sorted(trained) == sorted(reference)
    for key, expected in reference.items():
        np.testing.assert_allclose(trained[key], expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max(), err_msg=key)


@needs_mpi
def test_batchnorm_statistics_per_rank_unless_synced(tmp_path: Path):
    out = tmp_path / "stats.npz"
    done = _run(2, out, "--batchnorm")
    assert done.returncode == 0, done.stderr
    stats = dict(np.load(out))
    np.testing.assert_array_equal(stats["synced each step/0"], stats["synced each step/1"])
    assert not np.allclose(stats["per rank/0"], stats["per rank/1"])  # each rank saw other samples
    mean = (stats["per rank/0"] + stats["per rank/1"]) / 2
    for rank in (0, 1):
        np.testing.assert_allclose(stats[f"synced once/{rank}"], mean, rtol=1e-6)


def _fails(tmp_path: Path, how: str, timeout: float = 60) -> tuple[str, float]:
    started = time.monotonic()
    done = _run(2, tmp_path / "unused.npz", "--fail", how, "--timeout", "3", timeout=timeout)
    elapsed = time.monotonic() - started
    assert done.returncode != 0, done.stdout + done.stderr
    return done.stdout + done.stderr, elapsed


@needs_mpi
def test_a_rank_that_raises_aborts_the_job(tmp_path: Path):
    output, _ = _fails(tmp_path, "raise")
    assert "RuntimeError: distributed_worker: rank 1 fails on purpose at step 3" in output
    assert "rank 1 of 2 stopped on an uncaught RuntimeError; aborting every rank (MPI_Abort)" in output


@needs_mpi
def test_a_killed_rank_ends_the_job(tmp_path: Path):
    output, _ = _fails(tmp_path, "kill")
    assert "rank 1" in output
    assert "signal 9" in output


@needs_mpi
def test_a_stuck_rank_times_out_the_others(tmp_path: Path):
    """Rank 1 sleeps in step 3; rank 0 gives up after --timeout 3 s, naming the operation, and aborts the job."""
    output, elapsed = _fails(tmp_path, "hang")
    assert "DistributedError: DistributedOptimizer.step: bucket 1 of 1" in output
    assert "rank 0 of 2 waited 3 s for the other ranks" in output
    assert elapsed < 50  # far from rank 1's 600 s sleep


@needs_mpi
def test_different_models_are_named(tmp_path: Path):
    output, _ = _fails(tmp_path, "mismatch")
    assert (
        "the first differing parameter is 'layers.2.weight' (tensor 2 in state-dict order): rank 0 has "
        "'layers.2.weight' of shape (3, 16)" in output
    )
    assert "rank 1 has 'layers.2.weight' of shape (4, 16)" in output


def test_model_differences_name_the_first_differing_tensor():
    """What broadcast_parameters reports from the ranks' [name, shape, dtype] lists (no MPI needed)."""
    from tinygrad_core.distributed.reduce import _first_difference

    a, b = ["a", [2, 3], "dtypes.float"], ["b", [3], "dtypes.float"]
    assert _first_difference([[a, b], [a, b], [a, b]], 0) is None
    half = ["b", [3], "dtypes.half"]
    assert _first_difference([[a, b], [a, half]], 0) == (
        "the first differing parameter is 'b' (tensor 1 in state-dict order): rank 0 has 'b' of shape (3,), "
        "dtypes.float, rank 1 has 'b' of shape (3,), dtypes.half"
    )
    shorter = _first_difference([[a, b], [a, b], [a]], 0)
    assert shorter is not None
    assert shorter.endswith("rank 0 has 'b' of shape (3,), dtypes.float, rank 2 has no tensor 1 (it has 1)")
    longer = _first_difference([[a], [a, b]], 1)
    assert longer is not None
    assert longer.startswith("the first differing parameter is 'b' (tensor 1 in state-dict order): rank 1 has 'b'")


def test_distributed_optimizer_is_the_wrapped_one_but_for_the_gradients():
    """No MPI until a step: the wrapper's lr, state and parameters are the wrapped optimizer's own."""
    model = Linear(2, 1)
    adam = optim.Adam([model], lr=0.01)
    opt = DistributedOptimizer(adam)
    assert opt.lr is adam.lr
    assert opt.m is adam.m
    assert opt.params == adam.params
    optim.StepLR(opt, step_size=1, gamma=0.5).step()
    assert adam.lr.numpy()[0] == pytest.approx(0.005)
    with pytest.raises(TypeError, match="wraps an optimizer"):
        DistributedOptimizer(model)  # type: ignore[arg-type]


def test_importing_distributed_does_not_import_mpi4py():
    check = "import sys, tinygrad_core.distributed; assert 'mpi4py' not in sys.modules, 'mpi4py imported'"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# --- the sampler needs no MPI: rank and world_size given ---
@pytest.mark.parametrize(
    ("samples", "ranks", "drop_last"), [(10, 3, False), (10, 3, True), (12, 4, False), (2, 4, False)]
)
def test_sampler_shards_are_disjoint_and_cover_the_epoch(samples: int, ranks: int, drop_last: bool):
    shards = [list(DistributedSampler(samples, rank, ranks, seed=5, drop_last=drop_last)) for rank in range(ranks)]
    per_rank = samples // ranks if drop_last else -(-samples // ranks)
    assert all(len(shard) == per_rank for shard in shards)
    merged = [index for shard in shards for index in shard]
    if drop_last or samples % ranks == 0:
        assert len(set(merged)) == len(merged) == per_rank * ranks  # disjoint
    else:
        assert set(merged) == set(range(samples))  # padded by repeating: every sample is seen, a few twice
    assert set(merged) <= set(range(samples))


def test_sampler_epochs_reshuffle_identically_on_every_rank():
    sampler = DistributedSampler(100, rank=1, world_size=2, seed=3)
    twin = DistributedSampler(100, rank=1, world_size=2, seed=3)
    first = sampler.indices()
    sampler.set_epoch(1)
    twin.set_epoch(1)
    assert not np.array_equal(first, sampler.indices())
    assert np.array_equal(sampler.indices(), twin.indices())
    unshuffled = DistributedSampler(6, rank=1, world_size=2, shuffle=False)
    assert list(unshuffled) == [1, 3, 5]


def test_sampler_rejects_a_rank_outside_the_world():
    with pytest.raises(ValueError, match="rank=2, world_size=2"):
        DistributedSampler(10, rank=2, world_size=2)
