"""The distributed sampler: each rank's share of a dataset, in an order fixed by (seed, epoch).

:class:`ShardedSampler` permutes ``range(n)`` with a generator seeded by ``seed + epoch``
(the same on every rank and on every attempt), pads the permutation by wrapping around so
that every rank gets the same number of indices (or drops the tail with ``drop_last``), and
hands rank ``r`` the indices ``r, r + world, r + 2·world, …``. Nothing else goes into the
order: not the attempt, not the process, not the wall clock — which is what makes a run
restarted from a checkpoint see exactly the batches an uninterrupted run would have seen.

Example:
    >>> from runyard.training.sampler import ShardedSampler
    >>> a = ShardedSampler(10, rank=0, world_size=2, seed=0, epoch=3)
    >>> b = ShardedSampler(10, rank=1, world_size=2, seed=0, epoch=3)
    >>> sorted(list(a) + list(b)) == list(range(10))
    True
    >>> list(a) == list(ShardedSampler(10, rank=0, world_size=2, seed=0, epoch=3))
    True
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

from runyard.errors import InvalidArgument

__all__ = ["ShardedSampler"]


class ShardedSampler:
    """One rank's indices of a dataset of ``n`` examples for one epoch.

    Args:
        n: the dataset's length.
        rank: this worker's rank, ``0 <= rank < world_size``.
        world_size: how many workers share the dataset.
        seed: the run's seed.
        epoch: the epoch; each epoch has its own order.
        shuffle: permute (True) or keep the dataset's order (False).
        drop_last: drop the tail that does not divide evenly instead of padding it.

    Raises:
        InvalidArgument: a negative size, or a rank outside the world.

    Example:
        >>> list(ShardedSampler(5, rank=1, world_size=2, seed=0, epoch=0, shuffle=False))
        [1, 3, 0]
    """

    def __init__(
        self,
        n: int,
        rank: int,
        world_size: int,
        seed: int = 0,
        epoch: int = 0,
        shuffle: bool = True,
        drop_last: bool = False,
    ) -> None:
        if n < 0:
            raise InvalidArgument(f"a dataset cannot have {n} examples")
        if world_size < 1 or not 0 <= rank < world_size:
            raise InvalidArgument(f"rank {rank} is outside a world of {world_size} workers")
        self.n = n
        self.rank = rank
        self.world_size = world_size
        self.seed = seed
        self.epoch = epoch
        self.shuffle = shuffle
        self.drop_last = drop_last
        if drop_last:
            self.per_rank = n // world_size
        else:
            self.per_rank = math.ceil(n / world_size) if n else 0

    def order(self) -> list[int]:
        """The whole epoch's order, before sharding (identical on every rank)."""
        indices = list(range(self.n))
        if self.shuffle:
            random.Random(f"runyard-sampler:{self.seed}:{self.epoch}").shuffle(indices)
        total = self.per_rank * self.world_size
        if total <= len(indices):
            return indices[:total]
        padded = list(indices)
        while len(padded) < total:
            padded.extend(indices[: total - len(padded)])
        return padded

    def indices(self) -> list[int]:
        """This rank's indices, in order."""
        return self.order()[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices())

    def __len__(self) -> int:
        return self.per_rank

    def state_dict(self) -> dict[str, int | bool]:
        """What determines the order (saved in checkpoints)."""
        return {
            "seed": self.seed,
            "epoch": self.epoch,
            "world_size": self.world_size,
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
        }
