"""The front door of the data: a `--data` source resolved, its reader chosen, its loaders made.

As timm's reader factory, a source's prefix picks its back-end: `live:` a
rendered source (fdsl_train.data.live, whose generator loads only when one is
asked for), anything else shard files (fdsl_train.data.shards, read by
fdsl_train.data.reading), and a folder of class folders an ImageFolder tree.

An ImageFolder tree is DIR/<split>/<class>/<image>; a shard dataset is any
`--data` form that fdsl_train.data.shards or fdsl_train.data.live accepts.
Both give per-epoch loaders of (images, labels, lost) batches and the number
of classes. The classes of an
ImageFolder split are numbered by name in the split trained on, and the
other splits use those numbers (a class it lacks is refused); an image file
that does not load is skipped and counted like a corrupt shard sample.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset
from torchvision.datasets import ImageFolder

from fdsl_gen import contract
from fdsl_train.data import live, shards
from fdsl_train.data.decode import load_image
from fdsl_train.data.loader import ReadShard, ShardLoader, ShardStream, collate, worker_context
from fdsl_train.data.reading import DEFAULT_TIMEOUT, ShardFiles
from fdsl_train.data.tally import DEFAULT_LIMIT, Lost
from fdsl_train.dist import Ranks
from fdsl_train.errors import UserError


def resolve(data: str, split: str = "train", samples_per_shard: Optional[int] = None,
            timeout: float = DEFAULT_TIMEOUT) -> shards.ShardSet:
    """The shards `data` names for `split`: a live source's rendered ones, else shard files."""
    if data.strip().startswith(live.PREFIX):
        return live.resolve(data, split)
    return shards.resolve(data, split, samples_per_shard, timeout)


def has_split(data: str, split: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """Whether the dataset `data` names declares `split` (a shard list declares none)."""
    if data.strip().startswith(live.PREFIX):
        return live.has_split(data, split)
    return shards.has_split(data, split, timeout)


def create_reader(shardset: shards.ShardSet, cache_dir: Optional[str] = None,
                  timeout: float = DEFAULT_TIMEOUT) -> ReadShard:
    """The read_shard of a stream over `shardset`: its renderer for a live source, else its files (copied
    into `cache_dir` when given; every network read waits at most `timeout` seconds)."""
    if isinstance(shardset, live.LiveShardSet):
        return live.LiveShards(shardset)
    return ShardFiles(shardset, cache_dir, timeout)


@dataclass(frozen=True)
class Source:
    """The data options of a run: where its data comes from, how it is read and how much of it may be lost.

    Each field but `ranks` (the process's place, set per rank) is the fdsl-train option of its name.
    """

    data: str
    train_split: str = "train"
    val_split: str = "validation"  # DATA/val where the data has no validation split (format 1)
    workers: int = 0
    seed: int = 0
    shuffle_buffer: int = 1000
    samples_per_shard: Optional[int] = None
    cache_dir: Optional[str] = None
    io_timeout: float = DEFAULT_TIMEOUT
    balance: str = "resample"  # or "fail": refuse shards that do not split evenly over ranks x workers
    strict: bool = False  # stop at the first corrupt sample
    max_skipped: str = DEFAULT_LIMIT  # the samples an epoch may lose (fdsl_train.data.tally)
    fresh_epochs: bool = False  # a live source draws new instances every epoch
    ranks: Ranks = Ranks()

    def is_image_folder(self, split: str) -> bool:
        return (Path(self.data) / split).is_dir() and not has_split(self.data, split)

    def folder_split(self, split: str) -> str:
        """The sub-folder of an ImageFolder tree that holds `split` (DATA/validation, else DATA/val)."""
        present = [p.name for p in Path(self.data).iterdir() if p.is_dir()] if Path(self.data).is_dir() else []
        return contract.split_name(split, present)


class _Skipping(Dataset):
    """An ImageFolder whose image files that do not load come back as a Lost record instead of raising."""

    def __init__(self, folder: ImageFolder) -> None:
        self.folder = folder

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, index: int):
        try:
            return self.folder[index]
        except (OSError, ValueError, SyntaxError) as err:  # what a broken image raises, as in decode_samples
            path = Path(self.folder.samples[index][0])
            return Lost(str(path.parent), 1, type(err).__name__, key=path.name)


def _collate(samples):
    lost = [sample for sample in samples if isinstance(sample, Lost)]
    good = [sample for sample in samples if not isinstance(sample, Lost)]
    if not good:
        return torch.empty(0), torch.empty(0, dtype=torch.long), lost
    images, labels = collate(good)
    return images, labels, lost


class FolderLoader:
    """Epoch by epoch DataLoaders over an ImageFolder, split over ranks."""

    digest = ""  # of shards only: image files have no manifest sha256

    def __init__(self, folder: ImageFolder, source: Source, batch_size: int, training: bool) -> None:
        world, rank = source.ranks.world, source.ranks.rank
        self.classes = folder.classes
        dataset = _Skipping(folder)
        self.sampler = None
        if training:
            # drop_last keeps the batch count equal on every rank
            self.sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True,
                                              seed=source.seed, drop_last=True)
        else:
            dataset = Subset(dataset, range(rank, len(dataset), world))
        # persistent: the image list is pickled to the workers once, not every epoch
        self.loader = DataLoader(dataset, batch_size=batch_size, sampler=self.sampler, shuffle=False,
                                 num_workers=source.workers, drop_last=training, collate_fn=_collate,
                                 pin_memory=torch.cuda.is_available(), persistent_workers=source.workers > 0,
                                 multiprocessing_context=worker_context(source.workers))

    def __len__(self) -> int:
        return len(self.loader)

    @property
    def num_samples(self) -> int:
        return len(self.loader.dataset)

    def epoch(self, epoch: int, skip: int = 0) -> DataLoader:
        if skip:
            raise UserError("mid-epoch resume needs shard data; ImageFolder runs resume at epoch boundaries")
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)
        return self.loader


def image_folder(path: Path, classes: Optional[Sequence[str]] = None) -> ImageFolder:
    """The images under `path`, labelled by the position of their class in `classes` [their own classes]."""
    try:
        folder = ImageFolder(str(path), loader=load_image)
    except (FileNotFoundError, OSError) as err:
        raise UserError(f"no images in {path}: {err}") from None
    if classes is not None:
        _renumber(folder, list(classes), path)
    return folder


def _renumber(folder: ImageFolder, classes: List[str], path: Path) -> None:
    unknown = sorted(set(folder.classes) - set(classes))
    if unknown:
        raise UserError(f"{path} has classes the training split lacks: {', '.join(unknown)} "
                        f"(it has: {', '.join(classes)})")
    index = {name: number for number, name in enumerate(classes)}
    folder.samples = folder.imgs = [(file, index[folder.classes[label]]) for file, label in folder.samples]
    folder.targets = [label for _, label in folder.samples]
    folder.classes, folder.class_to_idx = classes, index


def open_split(source: Source, split: str, transform: Callable, *, batch_size: int, training: bool,
               classes: Optional[Sequence[str]] = None):
    """(loader, num_classes) for one split; num_classes is None when the data does not say.

    `classes`: the class names of the split trained on, to number an ImageFolder split's classes by.
    """
    if source.is_image_folder(source.folder_split(split)):
        split = source.folder_split(split)
        dataset = image_folder(Path(source.data) / split, classes)
        dataset.transform = transform
        return FolderLoader(dataset, source, batch_size, training), len(dataset.classes)
    if Path(source.data).is_dir() and not _is_shard_folder(source.data):
        raise UserError(f"no images in {source.data}: expected {source.data}/{split}/<class>/<image> "
                        "or a dataset folder with manifest.json")
    shardset = resolve(source.data, split, source.samples_per_shard, source.io_timeout)
    return open_shards(shardset, source, transform, batch_size=batch_size, training=training), shardset.num_classes


def open_shards(shardset: shards.ShardSet, source: Source, transform: Callable, *, batch_size: int,
                training: bool) -> ShardLoader:
    """The per-epoch loader of this rank's part of `shardset`."""
    stream = ShardStream(
        shardset, transform, read_shard=create_reader(shardset, source.cache_dir, source.io_timeout),
        batch_size=batch_size, rank=source.ranks.rank, world=source.ranks.world, workers=source.workers,
        seed=source.seed, shuffle_buffer=source.shuffle_buffer, training=training,
    )
    return ShardLoader(stream, source.workers, pin_memory=torch.cuda.is_available())


def _is_shard_folder(data: str) -> bool:
    return any((Path(data) / name).is_file() for name in (contract.MANIFEST, contract.TIMM_INFO))


def check_classes(given: Optional[int], found: Optional[int], where: str) -> int:
    """The class count of a run: the data's, which an explicit --num-classes must agree with."""
    if found is None and given is None:
        raise UserError(f"{where} does not say how many classes it has: pass --num-classes")
    if found is not None and given is not None and given != found:
        raise UserError(f"class-count mismatch: --num-classes {given}, but {where} has {found} classes")
    count = found if found is not None else given
    if count < 2:
        raise UserError(f"{where} has {'one class' if count == 1 else 'no classes'}: classification needs at least two")
    return count
