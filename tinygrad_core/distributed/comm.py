"""The MPI world: init(), rank(), world_size(), barrier(), and waits that end in an error instead of a hang.

mpi4py is imported by init(), never at import time. Every collective here is non-blocking and waited on with a
deadline (init(timeout=...)): a rank that stops answering makes the others raise DistributedError, and the
excepthook init() installs turns any uncaught exception on any rank into MPI_Abort, which ends every rank.
"""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import Any

from tinygrad_core.errors import TinygradError

_INSTALL_HINT = 'pip install "tinygrad-core[mpi]" (and an MPI: apt install openmpi-bin libopenmpi-dev)'


class DistributedError(TinygradError, RuntimeError):
    """A collective failed: another rank stopped answering within the timeout, or the ranks disagree (different
    models). The job can't continue; left uncaught, init()'s excepthook aborts every rank."""


class _World:
    """What init() found: the communicator, this rank, the number of ranks and the wait limit."""

    def __init__(self, comm: Any, timeout: float):
        self.comm, self.timeout = comm, timeout
        self.rank, self.size = comm.Get_rank(), comm.Get_size()


_world: _World | None = None


def mpi() -> Any:
    """The mpi4py.MPI module; importing it initializes MPI (a 1-rank world when not started by mpirun)."""
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError) as e:  # RuntimeError: mpi4py's wheel found no MPI library to load
        raise DistributedError(f"tinygrad_core.distributed can't load MPI ({e}): {_INSTALL_HINT}") from e
    return MPI


def init(timeout: float = 300.0, abort_on_error: bool = True) -> None:
    """Join the MPI world (idempotent; a later call only changes the timeout).

    timeout: seconds any collective waits for the other ranks before raising DistributedError (the first step of a
    compiled backend includes compiling its kernels: leave room for that). abort_on_error: install an excepthook that,
    after printing an uncaught exception, calls MPI_Abort so that every other rank ends too instead of waiting."""
    global _world
    if timeout <= 0:
        raise ValueError(f"distributed.init: timeout must be positive seconds, got {timeout}")
    if _world is not None:
        _world.timeout = timeout
        return
    _world = _World(mpi().COMM_WORLD, timeout)
    if abort_on_error:
        _install_excepthook(_world)


def world() -> _World:
    if _world is None:
        raise DistributedError("tinygrad_core.distributed: call distributed.init() first")
    return _world


def rank() -> int:
    """This process's rank, 0 to world_size() - 1."""
    return world().rank


def world_size() -> int:
    """The number of ranks (mpirun -n N); 1 without mpirun."""
    return world().size


def barrier(timeout: float | None = None) -> None:
    """Wait until every rank has reached this point (DistributedError after `timeout`, default init's)."""
    wait([world().comm.Ibarrier()], "barrier", timeout)


def wait(requests: list[Any], what: str, timeout: float | None = None) -> None:
    """Wait for non-blocking MPI requests; DistributedError naming `what` and this rank when the deadline passes.

    Open MPI advances non-blocking collectives only inside MPI calls, so this polls, every poll moving the
    reduction on: for 1 ms in a tight loop (a reduction of a few MB takes about that once every rank has arrived),
    then yielding the core to any other process between polls for up to 0.1 s (ranks sharing cores: the rank we
    wait for may be the one that gets it), then with sleeps growing to 1 ms (a rank still compiling its kernels)."""
    state = world()
    limit = state.timeout if timeout is None else timeout
    testall = mpi().Request.Testall
    started = time.monotonic()
    pause = 0.0
    while not testall(requests):
        waited = time.monotonic() - started
        if waited > limit:
            raise DistributedError(
                f"{what}: rank {state.rank} of {state.size} waited {limit:g} s for the other ranks; one of them is "
                "stuck, slower than the limit or gone (distributed.init(timeout=...) sets the limit)"
            )
        if waited > 0.1:
            time.sleep(pause)
            pause = min(max(pause * 2, 1e-5), 1e-3)
        elif waited > 1e-3:
            os.sched_yield()


def _install_excepthook(state: _World) -> None:
    """Print an uncaught exception as usual (through the previous hook), then abort the whole job: the other ranks
    would otherwise wait for this one in their next collective."""
    previous = sys.excepthook

    def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        previous(exc_type, exc, tb)
        if state.size == 1:
            return
        sys.stderr.write(
            f"tinygrad_core.distributed: rank {state.rank} of {state.size} stopped on an uncaught "
            f"{exc_type.__name__}; aborting every rank (MPI_Abort)\n"
        )
        sys.stdout.flush()
        sys.stderr.flush()
        state.comm.Abort(1)

    sys.excepthook = excepthook
