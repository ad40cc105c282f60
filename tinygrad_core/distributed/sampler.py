"""DistributedSampler: each rank's share of an epoch's shuffled sample indices, as PyTorch's sampler splits them."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tinygrad_core.distributed.comm import rank as world_rank
from tinygrad_core.distributed.comm import world_size as world_ranks


class DistributedSampler:
    """The indices of `num_samples` samples that this rank trains on in the current epoch.

    Every rank shuffles with the same seed (seed + epoch: call set_epoch(epoch) at the start of each epoch) and takes
    every world_size-th index starting at its rank, so the ranks' shares are disjoint and together cover the epoch.
    When num_samples is not a multiple of world_size, drop_last=True leaves the last few samples out of the epoch;
    drop_last=False (the default, as in PyTorch) repeats the first ones so every rank gets the same count.
    rank and world_size default to distributed.init()'s."""

    def __init__(
        self,
        num_samples: int,
        rank: int | None = None,
        world_size: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ):
        self.world_size = world_ranks() if world_size is None else world_size
        self.rank = world_rank() if rank is None else rank
        if num_samples < 0 or self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(
                f"DistributedSampler: needs num_samples >= 0 and 0 <= rank < world_size, got num_samples={num_samples}"
                f", rank={self.rank}, world_size={self.world_size}"
            )
        self.num_samples, self.shuffle, self.seed, self.drop_last = num_samples, shuffle, seed, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Shuffle differently (and identically on every rank) for this epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        """The number of indices each rank gets per epoch."""
        if self.drop_last:
            return self.num_samples // self.world_size
        return -(-self.num_samples // self.world_size)

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, in training order."""
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(self.num_samples)
        else:
            order = np.arange(self.num_samples)
        total = len(self) * self.world_size
        if total > self.num_samples and self.num_samples:
            order = np.resize(order, total)  # repeats the order from its start to fill the last round
        return order[self.rank : total : self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())
