"""Stream shards into batches with equal batch counts on every rank.

Each epoch the shard list is shuffled from (seed, epoch) and dealt round-robin
to the readers: one reader per (rank, DataLoader worker). Every rank runs
exactly `num_samples // (world * batch_size)` batches, split over its readers
as evenly as possible. A reader whose shards hold fewer samples than its quota
tops up with shards drawn from the whole list (`--balance resample`), or the
run refuses to start (`--balance fail`); a reader with more stops at its quota.
That keeps DDP ranks in step however the shards are sized.

Where a shard's samples come from is the stream's `read_shard`: shard files
(fdsl_train.data.reading.ShardFiles) or a live source's renderer
(fdsl_train.data.live.LiveShards); fdsl_train.data.datasets.create_reader picks one.

Resume: batch i of a rank comes from reader i % workers (the DataLoader asks its
workers in turn), so skipping k batches means reader w skips the batches it
owes before k, and the worker order is rotated by k so that the first batch
delivered is batch k. The resumed stream is the same batches, sample for
sample and draw for draw: the augmentations draw from the global generators
(Python's, numpy's, torch's) of the worker, seeded afresh for each batch from
(seed, epoch, rank, reader, batch).
"""
import hashlib
import itertools
import multiprocessing
import random
from dataclasses import dataclass
from typing import Callable, Iterator, List, NamedTuple, Optional, Protocol, Tuple

import numpy as np
import torch
import webdataset as wds
from torch.utils.data import DataLoader, IterableDataset, default_collate, get_worker_info

from fdsl_train.data.decode import decode_samples
from fdsl_train.data.shards import ShardSet
from fdsl_train.data.tally import Tally
from fdsl_train.errors import UserError


class ReadShard(Protocol):
    def __call__(self, index: int, epoch: int, tally: Tally) -> Iterator[dict]:
        """The samples of shard `index` in `epoch` (fdsl_train.data.decode says what a sample holds), in its order.

        A generator: what the shard lacks against its sample count is noted in `tally`, and its count
        returned, so that a stream reads a shard that lost samples no more that epoch.
        """


@dataclass(frozen=True)
class Reader:
    """What one worker of one rank reads in one epoch."""

    shards: Tuple[int, ...]
    batches: int


def hashed_seed(*parts) -> int:
    """A 63-bit seed from any printable parts, stable across processes and Python runs."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def batches_per_rank(num_samples: int, world: int, batch_size: int) -> int:
    return num_samples // (world * batch_size)


def plan_epoch(sizes, *, seed: int, epoch: int, world: int, workers: int, batch_size: int) -> List[List[Reader]]:
    """Readers of every rank for one training epoch: plan[rank][worker]."""
    order = list(range(len(sizes)))
    random.Random(hashed_seed("shards", seed, epoch)).shuffle(order)
    per_rank = batches_per_rank(sum(sizes), world, batch_size)
    slots = world * workers
    return [
        [
            Reader(tuple(order[rank * workers + w::slots]), per_rank // workers + (w < per_rank % workers))
            for w in range(workers)
        ]
        for rank in range(world)
    ]


def check_enough(shardset: ShardSet, *, world: int, batch_size: int) -> None:
    if batches_per_rank(shardset.num_samples, world, batch_size) == 0:
        raise UserError(
            f"{shardset.num_samples} samples are fewer than one batch per rank "
            f"({world} ranks x batch size {batch_size})"
        )


def check_balance(shardset: ShardSet, *, seed: int, epochs: int, world: int, workers: int, batch_size: int) -> None:
    """Refuse a run in which some reader's shards cannot fill its quota without resampling."""
    for epoch in range(epochs):
        for rank_readers in plan_epoch(
            shardset.sizes, seed=seed, epoch=epoch, world=world, workers=workers, batch_size=batch_size
        ):
            for reader in rank_readers:
                held = sum(shardset.sizes[i] for i in reader.shards)
                if held < reader.batches * batch_size:
                    raise UserError(
                        f"{len(shardset.sizes)} shards do not split evenly over {world} ranks x {workers} workers "
                        f"(epoch {epoch}: a reader holds {held} samples, needs {reader.batches * batch_size}); "
                        "use --balance resample or other rank/worker counts"
                    )


def batches_skipped(slot: int, workers: int, skip: int) -> int:
    """How many of the first `skip` batches of a rank came from reader `slot`."""
    return len(range(slot, skip, workers))


class ShardStream(IterableDataset):
    """Batches (images, labels, lost) of one rank; `lost` lists the losses (tally.Lost) met on the way.

    Losses met after a reader's last batch come with it, or alone in a batch of no samples.

    training=True: shuffled, fixed batch count per rank (see the module docstring).
    training=False: every sample once, in shard order, last batch possibly short.
    """

    def __init__(
        self,
        shardset: ShardSet,
        transform: Callable,
        *,
        read_shard: ReadShard,
        batch_size: int,
        rank: int = 0,
        world: int = 1,
        workers: int = 0,
        seed: int = 0,
        shuffle_buffer: int = 1000,
        training: bool = True,
    ) -> None:
        self.shardset = shardset
        self.read_shard = read_shard
        self.transform = transform
        self.batch_size = batch_size
        self.rank = rank
        self.world = world
        self.workers = max(1, workers)
        self.seed = seed
        self.shuffle_buffer = shuffle_buffer
        self.training = training
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Select the epoch to stream, leaving out its first `skip` batches (resume)."""
        self.epoch = epoch
        self.skip = skip

    def __len__(self) -> int:
        return batches_per_rank(self.shardset.num_samples, self.world, self.batch_size) - self.skip

    def __iter__(self) -> Iterator:
        info = get_worker_info()
        slot = ((info.id if info else 0) + self.skip) % self.workers
        tally, failed = Tally(), set()
        if not self.training:
            shards = range(self.rank * self.workers + slot, len(self.shardset.urls), self.world * self.workers)
            samples = self._read(iter(shards), tally, failed)
            return self._with_leftover(self._batches(decode_samples(samples, tally), tally, keep_last=True), tally)
        reader = plan_epoch(
            self.shardset.sizes, seed=self.seed, epoch=self.epoch,
            world=self.world, workers=self.workers, batch_size=self.batch_size,
        )[self.rank][slot]
        tag = (self.seed, self.epoch, self.rank, slot)
        rng = random.Random(hashed_seed("samples", *tag))
        # the top-up is a pipeline of its own: one shuffle buffer over both would pull top-up
        # samples into a reader whose own shards suffice
        own = self._shuffled(self._read(iter(reader.shards), tally, failed), rng)
        top_up = self._shuffled(self._read(self._top_up(reader, rng), tally, failed), rng)
        images = decode_samples(itertools.chain(own, top_up), tally)
        skip = batches_skipped(slot, self.workers, self.skip)
        images = itertools.islice(images, skip * self.batch_size, None)
        seeds = (hashed_seed("augment", *tag, batch) for batch in itertools.count(skip))
        batches = itertools.islice(self._batches(images, tally, keep_last=False, seeds=seeds), reader.batches - skip)
        return self._with_leftover(batches, tally)

    def _top_up(self, reader: Reader, rng: random.Random) -> Iterator[int]:
        """Whole-list passes in random order, read only when the reader's own shards run short.

        The passes are bounded so that a dataset of unreadable samples ends the
        stream (the trainer reports the short epoch) instead of looping forever.
        """
        count = len(self.shardset.sizes)
        passes = 1 + reader.batches * self.batch_size // max(1, self.shardset.num_samples)
        for _ in range(passes):
            yield from rng.sample(range(count), count)

    def _shuffled(self, samples: Iterator[dict], rng: random.Random) -> Iterator[dict]:
        return wds.shuffle(self.shuffle_buffer, initial=self.shuffle_buffer, rng=rng)(samples)

    def _read(self, shards: Iterator[int], tally: Tally, failed: set) -> Iterator[dict]:
        """The samples of `shards`; a shard that lost samples is noted in `failed` and not read again this epoch."""
        for index in shards:
            if index not in failed and (yield from self.read_shard(index, self.epoch, tally)):
                failed.add(index)

    @staticmethod
    def _with_leftover(batches: Iterator, tally: Tally) -> Iterator:
        """The batches, the last one also carrying the losses met after it was made.

        A reader that made no batch at all yields its losses in a batch of no samples.
        """
        last = None
        for batch in batches:
            if last is not None:
                yield last
            last = batch
        if last is not None:
            images, labels, lost = last
            yield images, labels, lost + tally.drain()
        elif tally.lost:
            yield torch.empty(0), torch.empty(0, dtype=torch.long), tally.drain()

    def _batches(self, images, tally: Tally, keep_last: bool, seeds: Optional[Iterator[int]] = None) -> Iterator:
        """Batches of transformed images; the global generators are seeded from `seeds` before each batch."""
        pending = []
        for image, label in images:
            if seeds is not None and not pending:
                _seed_globals(next(seeds))
            pending.append((self.transform(image), label))
            if len(pending) == self.batch_size:
                yield self._collate(pending, tally)
                pending = []
        if pending and keep_last:
            yield self._collate(pending, tally)

    @staticmethod
    def _collate(pending, tally: Tally):
        images, labels = collate(pending)
        return images, labels, tally.drain()


class Crops(NamedTuple):
    """A batch of images of unequal sizes (--gpu-augment's crops, which the device resizes): each at the top
    left of a zero canvas, B x C x H x W, with its (height, width) in `sizes`, B x 2."""

    canvas: torch.Tensor
    sizes: torch.Tensor

    def to(self, device, non_blocking: bool = False) -> "Crops":
        return Crops(self.canvas.to(device, non_blocking=non_blocking), self.sizes)


def collate(pairs):
    """default_collate of (image, label) pairs, which builds the batch in shared memory when it runs in a worker
    (no copy on the way out). Under --gpu-augment grey images, left at one channel, get three in a batch that
    holds colour images, and crops of unequal sizes come as Crops."""
    if len({image.shape[0] for image, _ in pairs}) > 1:
        pairs = [(image.expand(3, -1, -1), label) for image, label in pairs]
    if len({image.shape[1:] for image, _ in pairs}) < 2:
        return default_collate(pairs)
    sizes = torch.tensor([image.shape[1:] for image, _ in pairs])
    first = pairs[0][0]
    canvas = first.new_zeros((len(pairs), first.shape[0], *sizes.max(0).values.tolist()))
    for place, (image, _) in zip(canvas, pairs):
        place[:, :image.shape[1], :image.shape[2]] = image
    return Crops(canvas, sizes), default_collate([label for _, label in pairs])


# What a worker imports before it is forked, once per trainer: torch, timm, the readers and transforms, and
# --gpu-augment's worker half (torchvision's transforms.v2: 0.2 s that each worker paid again, every epoch).
WORKER_PRELOAD = ["fdsl_train.data.datasets", "fdsl_train.data.transforms", "fdsl_train.data.device_augment"]


def worker_context(workers: int):
    """DataLoader workers forked from a forkserver, a single-threaded process, never from the trainer.

    A trainer runs threads (DDP's, the event writer's, torch's), and a fork
    taken while one of them holds a lock leaves the child waiting on that lock
    for ever: a validation worker once hung inside os.fork() so. A forkserver
    forks from a process with one thread; it imports WORKER_PRELOAD once, so a
    worker starts in milliseconds, with the dataset pickled to it.
    """
    if not workers:
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_PRELOAD)
    return context


def _seed_globals(seed: int) -> None:
    """Seed the generators that augmentations draw from: Python's, numpy's (timm's RandAugment) and torch's."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class ShardLoader:
    """Epoch by epoch DataLoaders over a ShardStream (batching happens in the stream: batch_size=None)."""

    classes = None  # shard labels are numbers, with no class names

    def __init__(self, stream: ShardStream, workers: int, pin_memory: bool = False) -> None:
        self.stream = stream
        self.workers = workers
        self.pin_memory = pin_memory

    def __len__(self) -> int:
        return batches_per_rank(self.stream.shardset.num_samples, self.stream.world, self.stream.batch_size)

    @property
    def num_samples(self) -> int:
        return self.stream.shardset.num_samples

    @property
    def digest(self) -> str:
        return self.stream.shardset.digest

    def epoch(self, epoch: int, skip: int = 0) -> DataLoader:
        self.stream.set_epoch(epoch, skip)
        return DataLoader(self.stream, batch_size=None, num_workers=self.workers, pin_memory=self.pin_memory,
                          multiprocessing_context=worker_context(self.workers))
