"""Which samples go into which shard, in which order: a pure function of the seed.

Groups (class, group) are dealt in one seeded global order, so every shard
mixes many classes; a `val_fraction` of each class's groups goes to a
`validation` split. Inside a shard the samples are shuffled once more, seeded by
(seed, split, shard), so that even a small shuffle buffer sees many classes.
"""
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from fdsl_gen import options
from fdsl_gen.configs import DatasetOptions
from fdsl_gen.errors import UserError
from fdsl_gen.recipe import derive_seed, generator

_ORDER, _VAL, _SHUFFLE = 1, 2, 3
SPLITS = ("train", "validation")
# The plan holds a few integers per (class, group) pair: this bound keeps it under a few GiB.
MAX_SAMPLES = 100_000_000


def check_plan_options(seed, samples_per_shard, val_fraction):
    """The plan's own options, checked before a recipe's set-up (an inline search) takes minutes."""
    options.check_values(DatasetOptions, {"seed": seed, "samples_per_shard": samples_per_shard,
                                          "val_fraction": val_fraction})


@dataclass(frozen=True)
class Piece:
    """Samples [lo, hi) of group `group` of class `cls`."""
    cls: int
    group: int
    lo: int
    hi: int


@dataclass(frozen=True)
class Plan:
    num_classes: int
    samples_per_class: int
    group_size: int
    seed: int
    samples_per_shard: int
    val_fraction: float = 0.0

    def __post_init__(self):
        check_plan_options(self.seed, self.samples_per_shard, self.val_fraction)
        total = self.num_classes * self.samples_per_class
        if total > MAX_SAMPLES:
            raise UserError(f"{self.num_classes} classes x {self.samples_per_class} images is {total} images; "
                            f"one dataset holds at most {MAX_SAMPLES}")
        if self.val_fraction and self.val_groups_per_class == 0:
            raise UserError(
                f"val_fraction {self.val_fraction} leaves no validation group: "
                f"each class has {self.groups_per_class} groups of {self.group_size}", options="val_fraction")
        if self.val_fraction and self.val_groups_per_class == self.groups_per_class:
            raise UserError(
                f"val_fraction {self.val_fraction} leaves no training group: "
                f"each class has {self.groups_per_class} groups of {self.group_size}", options="val_fraction")

    @classmethod
    def of(cls, recipe, seed, samples_per_shard, val_fraction=0.0):
        """The plan of a built recipe's samples."""
        return cls(recipe.num_classes, recipe.samples_per_class, recipe.group_size, seed, samples_per_shard,
                   val_fraction)

    @property
    def groups_per_class(self):
        return -(-self.samples_per_class // self.group_size)

    @property
    def val_groups_per_class(self):
        return int(round(self.val_fraction * self.groups_per_class))

    def group_sizes(self, groups):
        return np.minimum(self.group_size, self.samples_per_class - groups * self.group_size)

    @cached_property
    def _order(self):
        total = self.num_classes * self.groups_per_class
        rng = generator(derive_seed(self.seed, _ORDER))
        units = rng.permutation(total)
        is_val = self._val_mask()[units // self.groups_per_class, units % self.groups_per_class]
        return {"train": units[~is_val], "validation": units[is_val]}

    def _val_mask(self):
        shape = (self.num_classes, self.groups_per_class)
        if not self.val_groups_per_class:
            return np.zeros(shape, bool)
        rng = generator(derive_seed(self.seed, _VAL))
        ranks = np.argsort(np.argsort(rng.random(shape), axis=1), axis=1)
        return ranks < self.val_groups_per_class

    def splits(self):
        return [s for s in SPLITS if self._order[s].size]

    @cached_property
    def _ends(self):
        return {s: np.cumsum(self.group_sizes(u % self.groups_per_class)) for s, u in self._order.items()}

    def num_samples(self, split):
        ends = self._ends[split]
        return int(ends[-1]) if ends.size else 0

    def num_shards(self, split):
        return -(-self.num_samples(split) // self.samples_per_shard)

    def first_position(self, split):
        """The dataset-wide position of the split's first sample: train first, then validation."""
        return sum(self.num_samples(s) for s in SPLITS[:SPLITS.index(split)])

    def shard_range(self, split, shard):
        start = shard * self.samples_per_shard
        return start, min(start + self.samples_per_shard, self.num_samples(split))

    def pieces(self, split, shard):
        """The group slices that make up a shard, in global order."""
        start, stop = self.shard_range(split, shard)
        units, ends = self._order[split], self._ends[split]
        first = int(np.searchsorted(ends, start, side="right"))
        last = int(np.searchsorted(ends, stop - 1, side="right"))
        pieces = []
        for k in range(first, last + 1):
            unit = int(units[k])
            begin = int(ends[k - 1]) if k else 0
            pieces.append(Piece(unit // self.groups_per_class, unit % self.groups_per_class,
                                max(start - begin, 0), min(stop, int(ends[k])) - begin))
        return pieces

    def shard_order(self, split, shard):
        """The permutation applied to a shard's samples before writing."""
        start, stop = self.shard_range(split, shard)
        rng = generator(derive_seed(self.seed, _SHUFFLE, SPLITS.index(split), shard))
        return rng.permutation(stop - start)
