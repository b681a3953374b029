"""The sample order of an epoch as a pure function of (seed, epoch, length, world_size, rank).

Nothing about the order lives in an iterator's hidden state, so a resumed run needs only the
checkpoint's epoch and the number of samples it had consumed in that epoch to continue with
exactly the samples that are left: none seen twice, none skipped.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

_SEED_STRIDE = 1_000_003  # a prime, so (seed, epoch) pairs do not collide for any realistic epoch count


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * _SEED_STRIDE + epoch) % (1 << 64)  # torch.Generator takes 64 bits


def shard_size(length: int, world_size: int = 1, *, drop_last: bool = False) -> int:
    """Samples each rank gets per epoch, as :class:`torch.utils.data.DistributedSampler` counts them:
    the tail is dropped (``drop_last``) or padded by wrapping, so every rank gets the same number."""
    if length < 0 or world_size < 1:
        raise ValueError(f"need length >= 0 and world_size >= 1, got {length} and {world_size}")
    return length // world_size if drop_last else math.ceil(length / world_size)


def epoch_order(
    length: int,
    seed: int,
    epoch: int,
    *,
    shuffle: bool = True,
    world_size: int = 1,
    rank: int = 0,
    drop_last: bool = False,
) -> list[int]:
    """The indices ``rank`` visits in ``epoch``, in order.

    A permutation of ``range(length)`` from a generator seeded with ``seed * 1_000_003 + epoch``
    (the identity if not ``shuffle``), cut or wrapped to ``shard_size * world_size`` and dealt
    round-robin to the ranks, exactly as DistributedSampler deals its own permutation.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
    per_rank = shard_size(length, world_size, drop_last=drop_last)
    total = per_rank * world_size
    if shuffle:
        order = torch.randperm(length, generator=torch.Generator().manual_seed(_epoch_seed(seed, epoch))).tolist()
    else:
        order = list(range(length))
    if total > length:  # padding wraps around, repeating the order as often as needed
        order = (order * math.ceil(total / length))[:total]
    else:
        order = order[:total]
    return order[rank:total:world_size]


def batches(indices: Sequence[int], batch_size: int, drop_last: bool = False) -> Iterator[list[int]]:
    """Consecutive batches of ``indices``; the short last one is dropped if ``drop_last``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    indices = list(indices)
    stop = len(indices) - len(indices) % batch_size if drop_last else len(indices)
    for start in range(0, stop, batch_size):
        yield indices[start:start + batch_size]


class ResumableSampler(Sampler[int]):
    """A DistributedSampler whose epoch can be resumed part way: ``set_epoch(e)`` then ``skip(n)``
    yields exactly the indices after the first ``n`` of this rank's epoch ``e``.

    ``n`` counts this rank's samples whose update is in the checkpoint (all ranks consume alike).
    ``len()`` is what is left of the epoch. With a :class:`torch.utils.data.DataLoader`, pass it a
    ``generator=`` of its own: creating a DataLoader iterator otherwise draws from the global torch
    RNG, at a point a resumed run does not reproduce.
    """

    def __init__(
        self,
        length: int,
        seed: int,
        *,
        shuffle: bool = True,
        world_size: int = 1,
        rank: int = 0,
        drop_last: bool = False,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
        self.length, self.seed, self.shuffle = length, seed, shuffle
        self.world_size, self.rank, self.drop_last = world_size, rank, drop_last
        self.epoch = 0
        self.skipped = 0

    @property
    def samples_per_epoch(self) -> int:
        """This rank's samples in a whole epoch (padding included)."""
        return shard_size(self.length, self.world_size, drop_last=self.drop_last)

    def set_epoch(self, epoch: int) -> None:
        """Start ``epoch`` from its beginning (forgets any :meth:`skip`)."""
        self.epoch, self.skipped = epoch, 0

    def skip(self, n_samples: int) -> None:
        """Leave out the first ``n_samples`` of this epoch: those a checkpoint already holds."""
        if not 0 <= n_samples <= self.samples_per_epoch:
            raise ValueError(f"can skip 0 to {self.samples_per_epoch} samples of an epoch, got {n_samples}")
        self.skipped = n_samples

    def order(self) -> list[int]:
        """The whole epoch's indices for this rank, skipped ones included."""
        return epoch_order(self.length, self.seed, self.epoch, shuffle=self.shuffle, world_size=self.world_size,
                           rank=self.rank, drop_last=self.drop_last)

    def __iter__(self) -> Iterator[int]:
        return iter(self.order()[self.skipped:])

    def __len__(self) -> int:
        return self.samples_per_epoch - self.skipped
