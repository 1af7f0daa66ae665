"""Live sources: `--data live:...` renders samples in the loader workers instead of reading shards.

`live:RECIPE?option=value&...` is the dataset that `fdsl-gen render RECIPE
--option value ...` would write; `live:PATH_OR_URL` the dataset that a
finished folder's manifest describes, rendered again. The samples come from
`fdsl_gen.live`, the generator's public API, imported only here and only
when a live source is asked for (as timm's reader factory imports a back-end
by its prefix). `LiveShards` is one more reader of fdsl_train.data.loader's shard
stream (`read_shard`): virtual shard i stands where shard file i would, with
the same samples in the same order, so the stream's plan (ranks, workers,
seeded shuffles, top-up, mid-epoch resume) and the transforms apply
unchanged, and an image reaches the transform as the PIL image its decoded
PNG would be (fdsl_train.data.decode).

`--fresh-epochs` draws new instances of the same classes every epoch:
epoch e >= 1 appends e to every per-instance seed (`fdsl_gen.live`); epoch
0 is the written dataset.
"""
import functools
from dataclasses import dataclass, replace
from typing import Iterator

from fdsl_gen import contract
from fdsl_train.data.shards import ShardSet
from fdsl_train.data.tally import Tally
from fdsl_train.errors import UserError

PREFIX = contract.LIVE


@dataclass(frozen=True)
class LiveShardSet(ShardSet):
    """The virtual shards of one split of a live dataset."""

    dataset: object = None  # an fdsl_gen.live.LiveDataset
    split: str = "train"
    fresh: bool = False


@functools.lru_cache(maxsize=4)
def open_dataset(data: str):
    """The LiveDataset of a `live:` source, built once per process (recipe set-up can take seconds)."""
    from fdsl_gen import live  # the generator's kernels load with it: only live sources pay for them

    return live.open_live(data.strip())


def has_split(data: str, split: str) -> bool:
    return split in open_dataset(data).splits()


def resolve(data: str, split: str = "train") -> LiveShardSet:
    """The virtual shards of `split`; sample counts and, for a manifest, checksums as its shards'."""
    dataset = open_dataset(data)
    shards = contract.split(dataset.manifest["splits"], split, data)["shards"]
    split = contract.split_name(split, dataset.manifest["splits"])
    num_classes = contract.declared_classes(dataset.manifest, f"the manifest of {data}")
    return LiveShardSet(
        urls=tuple(f"{PREFIX}{shard['file']}" for shard in shards),
        sizes=dataset.shard_sizes(split),
        num_classes=num_classes,
        loss=dataset.loss,
        digests=tuple(shard.get("sha256", "") for shard in shards),
        dataset=dataset,
        split=split,
    )


def fresh(shardset: ShardSet) -> LiveShardSet:
    """The same virtual shards drawing new instances every epoch (`--fresh-epochs`)."""
    if not isinstance(shardset, LiveShardSet):
        raise UserError("--fresh-epochs renders new instances each epoch: it needs a live source (--data live:...)")
    return replace(shardset, fresh=True, digests=())  # no longer the data of any checksummed shards


@dataclass(frozen=True)
class LiveShards:
    """The read_shard of a live source: virtual shard `index` rendered, as an array per sample."""

    shardset: LiveShardSet

    def __call__(self, index: int, epoch: int, tally: Tally) -> Iterator[dict]:
        shardset = self.shardset
        for image, cls, _ in shardset.dataset.shard(shardset.split, index, epoch, shardset.fresh):
            yield {"image": image, "cls": cls, "__url__": shardset.urls[index]}
        return 0  # a rendered shard lacks nothing
