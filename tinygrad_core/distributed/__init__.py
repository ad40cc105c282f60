"""Data-parallel training over MPI (mpi4py, imported on first use): `pip install "tinygrad-core[mpi]"`.

    from tinygrad_core import distributed
    distributed.init()                                   # rank and world size from mpirun; 1 rank without it
    distributed.broadcast_parameters(model)              # every rank starts from rank 0's weights
    opt = distributed.DistributedOptimizer(optim.Adam([model]))   # step(): mean of the gradients, then Adam

See docs/distributed.md. Importing this package is cheap and never imports mpi4py.
"""

from tinygrad_core.distributed.comm import DistributedError, barrier, init, rank, world_size
from tinygrad_core.distributed.optimizer import DistributedOptimizer
from tinygrad_core.distributed.reduce import allreduce_gradients, broadcast_parameters, sync_buffers
from tinygrad_core.distributed.sampler import DistributedSampler

__all__ = [
    "DistributedError",
    "DistributedOptimizer",
    "DistributedSampler",
    "allreduce_gradients",
    "barrier",
    "broadcast_parameters",
    "init",
    "rank",
    "sync_buffers",
    "world_size",
]
