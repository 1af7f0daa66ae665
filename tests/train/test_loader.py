import itertools
import os
import socket
import tarfile

import psutil
import pytest
import torch
import torchvision.transforms.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from fdsl_train.errors import UserError
from fdsl_train.data.reading import ShardFiles
from fdsl_train.data.loader import ShardLoader, ShardStream, batches_per_rank, check_balance, plan_epoch
from fdsl_train.data.shards import ShardSet, resolve


def stream(shardset, **kwargs):
    options = dict(batch_size=8, seed=3, shuffle_buffer=16)
    options.update(kwargs)
    return ShardStream(shardset, F.to_tensor, read_shard=ShardFiles(shardset), **options)


def labels_of(batches):
    return [int(y) for _, labels, _ in batches for y in labels]


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 50), min_size=1, max_size=20),
    world=st.integers(1, 4), workers=st.integers(1, 3), batch_size=st.integers(1, 8),
    seed=st.integers(0, 5), epoch=st.integers(0, 5),
)
def test_plan_gives_every_rank_the_same_batches_and_deals_every_shard_once(
        sizes, world, workers, batch_size, seed, epoch):
    plan = plan_epoch(sizes, seed=seed, epoch=epoch, world=world, workers=workers, batch_size=batch_size)
    per_rank = [sum(reader.batches for reader in readers) for readers in plan]
    assert per_rank == [batches_per_rank(sum(sizes), world, batch_size)] * world
    dealt = sorted(i for readers in plan for reader in readers for i in reader.shards)
    assert dealt == list(range(len(sizes)))
    assert plan == plan_epoch(sizes, seed=seed, epoch=epoch, world=world, workers=workers, batch_size=batch_size)


def test_shard_order_changes_with_the_epoch():
    sizes = [10] * 12
    orders = {tuple(plan_epoch(sizes, seed=0, epoch=e, world=1, workers=1, batch_size=4)[0][0].shards)
              for e in range(4)}
    assert len(orders) == 4


@pytest.mark.parametrize("workers", [0, 2])
def test_uneven_shards_give_equal_batch_counts_per_rank(shard_dir, workers):
    shardset = resolve(str(shard_dir))  # 83 samples in shards of 20, 20, 20, 15, 8
    counts = []
    for rank in range(3):
        loader = ShardLoader(stream(shardset, rank=rank, world=3, workers=workers), workers)
        batches = list(loader.epoch(0))
        assert all(len(labels) == 8 for _, labels, _ in batches)
        counts.append(len(batches))
    assert counts == [83 // 24] * 3 == [len(loader)] * 3


def test_fewer_shards_than_readers_still_fill_every_rank(tmp_path, make_dataset):
    shardset = resolve(str(make_dataset(tmp_path / "two", [12, 12])))
    counts = [len(list(stream(shardset, rank=r, world=2, workers=2))) for r in range(2)]
    assert counts == [24 // 16] * 2
    with pytest.raises(UserError, match="2 shards do not split evenly over 2 ranks x 2 workers"):
        check_balance(shardset, seed=3, epochs=1, world=2, workers=2, batch_size=4)


def test_even_shards_pass_the_balance_check_and_are_read_once(tmp_path, make_dataset):
    shardset = resolve(str(make_dataset(tmp_path / "even", [16] * 4)))
    check_balance(shardset, seed=3, epochs=5, world=2, workers=2, batch_size=8)
    seen = []
    for rank in range(2):
        for slot in range(2):
            plan = plan_epoch(shardset.sizes, seed=3, epoch=0, world=2, workers=2, batch_size=8)
            assert sum(shardset.sizes[i] for i in plan[rank][slot].shards) == 16
        seen += labels_of(ShardLoader(stream(shardset, rank=rank, world=2, workers=2), 2).epoch(0))
    assert len(seen) == 64
    assert sorted(seen) == sorted(i % 4 for i in range(64))


def test_epochs_are_deterministic_and_differ(shard_dir):
    shardset = resolve(str(shard_dir))
    first = stream(shardset)
    again = stream(shardset)
    assert labels_of(first) == labels_of(again)
    epoch0 = labels_of(first)
    first.set_epoch(1)
    assert labels_of(first) != epoch0


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
@pytest.mark.parametrize("workers, skip", [(0, 3), (2, 3), (2, 4), (3, 5)])
def test_resume_continues_the_same_batches(shard_dir, workers, skip):
    shardset = resolve(str(shard_dir))
    loader = ShardLoader(stream(shardset, batch_size=4, workers=workers), workers)
    full = list(loader.epoch(2))
    rest = list(loader.epoch(2, skip=skip))
    assert len(rest) == len(full) - skip == len(loader.stream)
    for (x_full, y_full, _), (x_rest, y_rest, _) in zip(full[skip:], rest):
        assert torch.equal(y_full, y_rest) and torch.equal(x_full, x_rest)


def test_corrupt_samples_are_skipped_counted_and_refilled(tmp_path, make_dataset):
    shardset = resolve(str(make_dataset(tmp_path / "bad", [20, 20], corrupt=(1, 5, 30))))
    batches = list(stream(shardset, batch_size=8))
    skipped = list(itertools.chain.from_iterable(bad for _, _, bad in batches))
    assert len(batches) == 40 // 8
    assert len(skipped) >= 3 and all(str(s).startswith("corrupt sample ") for s in skipped)
    assert {s.key for s in skipped} >= {"000000001", "000000005", "000000030"}


def test_a_refused_shard_counts_its_samples_and_says_so():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{probe.getsockname()[1]}/toy-000000.tar"
    probe.close()
    batches = list(stream(ShardSet(urls=(url,), sizes=(20,)), training=False))
    assert [(len(labels), [(x.url, x.samples, x.reason) for x in lost]) for _, labels, lost in batches] == [
        (0, [(url, 20, "connection refused")])]


def test_a_shard_cut_short_counts_what_it_lacks(tmp_path, make_dataset):
    data = make_dataset(tmp_path / "cut", [12, 12])
    shard = data / "toy-train-000000.tar"
    with tarfile.open(shard) as tar:
        sixth = [m for m in tar.getmembers() if m.name.startswith("000000005.")][0]
    shard.write_bytes(shard.read_bytes()[:sixth.offset_data + 10])  # 5 whole samples, then part of one
    batches = list(stream(resolve(str(data)), training=False))
    lost = [x for _, _, notes in batches for x in notes]
    assert sum(len(labels) for _, labels, _ in batches) == 12 + 5
    assert [(x.url, x.samples) for x in lost] == [(str(shard), 7)] and "not a whole tar file" in lost[0].reason


def test_evaluation_reads_every_sample_once(shard_dir):
    shardset = resolve(str(shard_dir))
    labels = []
    for rank in range(2):
        loader = ShardLoader(stream(shardset, rank=rank, world=2, workers=2, training=False), 2)
        labels += labels_of(loader.epoch(0))
    assert sorted(labels) == sorted(i % 4 for i in range(83))


def worker_parents(batches):
    """The parent pid of every worker of a DataLoader, read once the first batch is in."""
    iterator = iter(batches)
    first = next(iterator)
    return first, {psutil.Process(worker.pid).ppid() for worker in iterator._workers}


def test_workers_are_forked_by_a_forkserver_not_by_the_trainer(shard_dir):
    """A trainer runs threads: a fork taken while one holds a lock can leave the worker waiting on it for ever."""
    batches = ShardLoader(stream(resolve(str(shard_dir)), workers=2), 2).epoch(0)
    assert batches.multiprocessing_context.get_start_method() == "forkserver"
    (images, labels, _), parents = worker_parents(batches)
    assert len(labels) == 8 and images.shape[0] == 8
    assert len(parents) == 1 and os.getpid() not in parents
