"""Labelled data for fine-tuning and probing: an ImageFolder tree or a shard dataset.

An ImageFolder tree is DIR/<split>/<class>/<image>; a shard dataset is any
`--data` form that fdsl_train.shards accepts. Both give per-epoch loaders of
(images, labels, skipped) batches and the number of classes.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import torch
from torch.utils.data import DataLoader, DistributedSampler, Subset
from torch.utils.data import default_collate
from torchvision.datasets import ImageFolder

from fdsl_train import shards
from fdsl_train.decode import load_image
from fdsl_train.dist import Ranks
from fdsl_train.errors import UserError
from fdsl_train.live import LiveShardSet, LiveStream
from fdsl_train.loader import ShardLoader, ShardStream


@dataclass(frozen=True)
class Source:
    """Where labelled data comes from and how it is read."""

    data: str
    ranks: Ranks = Ranks()
    workers: int = 0
    seed: int = 0
    shuffle_buffer: int = 1000
    samples_per_shard: Optional[int] = None
    cache_dir: Optional[str] = None

    def is_image_folder(self, split: str) -> bool:
        return (Path(self.data) / split).is_dir() and not shards.has_split(self.data, split)

    def folder_split(self, split: str) -> str:
        """The sub-folder of an ImageFolder tree that holds `split` (DATA/validation, else DATA/val)."""
        present = [p.name for p in Path(self.data).iterdir() if p.is_dir()] if Path(self.data).is_dir() else []
        return shards.split_or_old_name(split, present)


def _collate(samples):
    images, labels = default_collate(samples)
    return images, labels, []  # an image file that fails to load raises: nothing is skipped silently


class FolderLoader:
    """Epoch by epoch DataLoaders over an ImageFolder, split over ranks."""

    def __init__(self, dataset: ImageFolder, source: Source, batch_size: int, training: bool) -> None:
        world, rank = source.ranks.world, source.ranks.rank
        self.sampler = None
        if training:
            # drop_last keeps the batch count equal on every rank
            self.sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True,
                                              seed=source.seed, drop_last=True)
        else:
            dataset = Subset(dataset, range(rank, len(dataset), world))
        self.loader = DataLoader(dataset, batch_size=batch_size, sampler=self.sampler, shuffle=False,
                                 num_workers=source.workers, drop_last=training, collate_fn=_collate,
                                 pin_memory=torch.cuda.is_available())

    def __len__(self) -> int:
        return len(self.loader)

    def epoch(self, epoch: int, skip: int = 0) -> DataLoader:
        if skip:
            raise UserError("mid-epoch resume needs shard data; ImageFolder runs resume at epoch boundaries")
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)
        return self.loader


def image_folder(path: Path) -> ImageFolder:
    try:
        return ImageFolder(str(path), loader=load_image)
    except (FileNotFoundError, OSError) as err:
        raise UserError(f"no images in {path}: {err}") from None


def open_split(source: Source, split: str, transform: Callable, *, batch_size: int, training: bool):
    """(loader, num_classes) for one split; num_classes is None when the data does not say."""
    if source.is_image_folder(source.folder_split(split)):
        split = source.folder_split(split)
        dataset = image_folder(Path(source.data) / split)
        dataset.transform = transform
        return FolderLoader(dataset, source, batch_size, training), len(dataset.classes)
    if Path(source.data).is_dir() and not _is_shard_folder(source.data):
        raise UserError(f"no images in {source.data}: expected {source.data}/{split}/<class>/<image> "
                        "or a dataset folder with manifest.json")
    shardset = shards.resolve(source.data, split, source.samples_per_shard)
    return open_shards(shardset, source, transform, batch_size=batch_size, training=training), shardset.num_classes


def open_shards(shardset: shards.ShardSet, source: Source, transform: Callable, *, batch_size: int,
                training: bool) -> ShardLoader:
    """The per-epoch loader of this rank's part of `shardset`."""
    stream_type = LiveStream if isinstance(shardset, LiveShardSet) else ShardStream
    stream = stream_type(
        shardset, transform, batch_size=batch_size, rank=source.ranks.rank, world=source.ranks.world,
        workers=source.workers, seed=source.seed, shuffle_buffer=source.shuffle_buffer, training=training,
        cache_dir=source.cache_dir,
    )
    return ShardLoader(stream, source.workers, pin_memory=torch.cuda.is_available())


def _is_shard_folder(data: str) -> bool:
    return any((Path(data) / name).is_file() for name in (shards.MANIFEST, shards.TIMM_INFO))


def check_classes(given: Optional[int], found: Optional[int], where: str) -> int:
    """The class count of a run: the data's, which an explicit --num-classes must agree with."""
    if found is None and given is None:
        raise UserError(f"{where} does not say how many classes it has: pass --num-classes")
    if found is not None and given is not None and given != found:
        raise UserError(f"class-count mismatch: --num-classes {given}, but {where} has {found} classes")
    return found if found is not None else given
