"""DistributedSampler: each rank's share of a dataset's indices, for DataLoader(sampler=...).

    sampler = dist.DistributedSampler(ds, shuffle=True, seed=0)
    loader = hy.data.DataLoader(ds, batch_size=32, sampler=sampler)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)          # a new permutation each epoch, the same one on every rank
        for batch in loader: ...
"""
import math

import numpy as np

from ..data.sampler import Sampler
from . import _group

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """Split ``range(len(dataset))`` into ``num_replicas`` equal shares; this rank iterates over share
    ``rank`` (rank r takes positions r, r + num_replicas, ... of the epoch's order, as in torch).

    ``num_replicas``/``rank`` default to the world size and rank of the process group. ``shuffle``
    orders the indices by a permutation seeded with ``seed + epoch`` (identical on every rank; call
    ``set_epoch`` before each epoch). Without ``drop_last`` the order is padded by repeating its first
    indices until it divides evenly; with it the tail that does not divide evenly is dropped.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None or rank is None:
            g = _group(None)
            num_replicas = g.size() if num_replicas is None else num_replicas
            rank = g.rank() if rank is None else rank
        if isinstance(num_replicas, bool) or not isinstance(num_replicas, int) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive int, got {num_replicas!r}")
        if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank!r}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch):
        """Select the permutation of this epoch (shuffle=True); call it before each epoch on every rank."""
        self.epoch = int(epoch)

    def __len__(self):
        return self.num_samples

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if not self.drop_last:
            pad = self.total_size - n
            if pad > 0 and n > 0:
                order = np.concatenate([order, np.resize(order, pad)])  # repeats the order as often as needed
        else:
            order = order[:self.total_size]
        assert len(order) == self.total_size
        share = order[self.rank:self.total_size:self.num_replicas]
        return iter(share.tolist())
