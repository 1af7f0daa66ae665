"""Run by torchrun from test_distributed.py: one DDP epoch, then each rank's batch count and weights.

Every rank starts from different random weights, so equal weights afterwards
show that DDP synchronised them; rank 0 writes the findings to OUT as JSON.
"""
import json
import os
import sys

import torch
import torch.distributed as torch_dist

from fdsl_train import dist, presets
from fdsl_train.data import shards
from fdsl_train.run import models
from fdsl_train.run.engine import Accel, Position, Trainer
from fdsl_train.data.loader import ShardLoader, ShardStream
from fdsl_train.data.reading import ShardFiles
from fdsl_train.run.session import Session, prepare
from fdsl_train.data.transforms import train_transform


def flat(model):
    return torch.cat([p.detach().flatten() for p in models.unwrap(model).parameters()])


def gathered(value):
    values = [None] * torch_dist.get_world_size()
    torch_dist.all_gather_object(values, value)
    return values


def main(data, out):
    ranks = dist.ranks_from_env(os.environ)
    session = Session(ranks, Accel(dist.setup(ranks)))
    preset = presets.resolve("fdsl-vit", dict(
        model="test_resnet", img_size=32, batch_size=8, epochs=1, lr=0.01, warmup_epochs=0, mixup=0, cutmix=0,
        aa="", reprob=0, smoothing=0, crop="random", hflip=0, drop_path=0))
    shardset = shards.resolve(data)
    stream = ShardStream(shardset, train_transform(preset), read_shard=ShardFiles(shardset), batch_size=8,
                         rank=ranks.rank, world=ranks.world, workers=1, seed=0, shuffle_buffer=16)
    loader = ShardLoader(stream, 1)
    torch.manual_seed(ranks.rank)
    model = models.create(preset.model, num_classes=4, img_size=32)
    before = gathered(flat(model).tolist())
    trainer = Trainer(prepare(model, session, False), preset, num_classes=4, updates_per_epoch=len(loader),
                      global_batch=8 * ranks.world, accel=session.accel, ranks=ranks)
    seen = []

    def counted(batches):
        for batch in batches:
            seen.append(len(batch[1]))
            yield batch

    trainer.train_epoch(counted(loader.epoch(0)), len(loader), Position())
    after = gathered(flat(trainer.model).tolist())
    counts = gathered(len(seen))
    if ranks.is_main:
        spread = lambda weights: max(abs(a - b) for a, b in zip(weights[0], weights[1]))  # noqa: E731
        with open(out, "w") as f:
            json.dump({"batches": counts, "before": spread(before), "after": spread(after)}, f)
    dist.teardown()


if __name__ == "__main__":
    main(*sys.argv[1:3])
