"""DistributedOptimizer: any optimizer of nn.optim, stepping with the mean of every rank's gradients."""

from __future__ import annotations

from typing import Any

from tinygrad_core.distributed.comm import world_size
from tinygrad_core.distributed.reduce import DEFAULT_BUCKET_MB, _allreduce, _contiguous
from tinygrad_core.dtype import dtypes
from tinygrad_core.nn.optim import Optimizer
from tinygrad_core.tensor import Tensor


class DistributedOptimizer(Optimizer):
    """Wraps an optimizer: step() (and schedule_step()) first replaces each parameter's .grad by its mean over all
    ranks, bucketed (a few MPI calls per step), then runs the wrapped optimizer's update, which is the same on every
    rank, so the ranks' weights stay equal. Everything else (zero_grad, lr, schedulers, the state) is the wrapped
    optimizer's: `CosineAnnealingLR(DistributedOptimizer(Adam([model])), T_max=100)` works.

    sync_buffers=True also replaces the buffers (BatchNorm's running_mean and running_var) by their mean over the
    ranks at each step, in the gradients' buckets; by default each rank keeps the running statistics of its own
    batches (distributed.sync_buffers(model) averages them once, e.g. before evaluating)."""

    def __init__(
        self, optimizer: Optimizer, op: str = "mean", bucket_mb: float = DEFAULT_BUCKET_MB, sync_buffers: bool = False
    ):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"DistributedOptimizer wraps an optimizer such as optim.Adam([model]), got {optimizer!r}")
        self.optimizer, self.op, self.bucket_mb, self.sync_buffers = optimizer, op, bucket_mb, sync_buffers
        self.params, self.buffers = optimizer.params, optimizer.buffers

    @property  # type: ignore[override]
    def lr(self) -> Tensor:
        return self.optimizer.lr

    @lr.setter
    def lr(self, value: Tensor) -> None:
        self.optimizer.lr = value

    def __getattr__(self, name: str) -> Any:
        # only reached for attributes this wrapper lacks (the state m, v, b, device, ...): the wrapped optimizer's
        if name == "optimizer":
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def schedule_step(self) -> list[Tensor]:
        """Average the gradients over the ranks now (this realizes them), then return the wrapped optimizer's
        schedule_step(): `Tensor.realize(loss, *opt.schedule_step())` works as with any optimizer."""
        for index, param in enumerate(self.params):
            if param.grad is None:
                raise RuntimeError(
                    f"{type(self.optimizer).__name__}.step(): parameter {index} (shape {param.shape}) has no .grad; "
                    "call loss.backward() first, and check that the loss depends on this parameter"
                )
        buffers = [buffer for buffer in self.buffers if dtypes.is_float(buffer.dtype)] if self.sync_buffers else []
        # the whole backward pass (and the statistics' updates) in one schedule
        grads = _contiguous([param.grad for param in self.params if param.grad is not None], *buffers)
        reduced = _allreduce([*grads, *buffers], self.op, self.bucket_mb, "DistributedOptimizer.step")
        for param, grad in zip(self.params, reduced):
            param.grad = grad
        for buffer, total in zip(buffers, reduced[len(grads) :]):
            buffer.assign(total if self.op == "mean" else total * (1.0 / world_size()))
        return self.optimizer.schedule_step()
