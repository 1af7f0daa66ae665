"""`fdsl-train pretrain`: train a timm model from scratch on formula-driven shards."""
import os
from dataclasses import replace
from typing import Optional

from fdsl_train import dist, presets
from fdsl_train.data import live
from fdsl_train.data.datasets import Source, check_classes, has_split, open_shards, resolve
from fdsl_train.data.device_augment import worker_transform
from fdsl_train.data.loader import check_balance, check_enough
from fdsl_train.data.transforms import eval_transform, train_transform
from fdsl_train.run import models
from fdsl_train.run.engine import Position, check_preset
from fdsl_train.run.session import (RunOptions, build_trainer, check_options, fit, restore, resume_state,
                                    session_for, source_for, val_metrics)


def pretrain(preset_name: Optional[str], overrides: dict, opts: RunOptions) -> None:
    """Without --preset, a 1p-frac dataset (manifest loss lpce) gets the 1p-frac preset, others fdsl-vit.

    Everything that can refuse the run is checked before the run folder is touched: a refused --resume
    leaves the run it names as it was.
    """
    source = opts.source
    shardset = resolve(source.data, source.train_split, source.samples_per_shard, source.io_timeout)
    if source.fresh_epochs:
        shardset = live.fresh(shardset)
    lpce = shardset.loss == "lpce"
    preset = presets.resolve(preset_name or ("1p-frac" if lpce else "fdsl-vit"), overrides)
    if lpce:
        # L-way cross-entropy over the dataset's L perturbation classes, whatever the preset
        preset = replace(preset, loss="lpce")
    num_classes = check_classes(opts.num_classes, shardset.num_classes, source.data)
    models.check_name(preset.model)
    check_preset(preset)
    check_options(opts)
    world = dist.ranks_from_env(os.environ).world
    check_enough(shardset, world=world, batch_size=preset.batch_size)
    if source.balance == "fail":
        check_balance(shardset, seed=source.seed, epochs=preset.epochs, world=world, workers=max(1, source.workers),
                      batch_size=preset.batch_size)
    val = _validation(source)
    state = resume_state(opts, "pretrain", preset, num_classes) if opts.resume else None
    with session_for("pretrain", preset, opts) as session:
        _train(preset, opts, shardset, val, num_classes, session, state)


def _train(preset, opts, shardset, val, num_classes, session, state) -> None:
    ranks = session.ranks
    transform = worker_transform(preset) if session.accel.gpu_augment else train_transform(preset)
    loader = open_shards(shardset, source_for(opts, ranks), transform, batch_size=preset.batch_size, training=True)
    model = models.create(preset.model, num_classes=num_classes, img_size=preset.img_size,
                          drop_path=preset.drop_path)
    trainer = build_trainer(model, preset, num_classes=num_classes, updates_per_epoch=len(loader), opts=opts,
                            session=session)
    session.monitor.record("data", split=opts.source.train_split, samples=shardset.num_samples, digest=shardset.digest)
    position = restore(trainer, state, opts) if state else Position()
    session.say(f"pretrain {preset.model} on {shardset.num_samples} samples, {num_classes} classes, "
                f"loss {preset.loss}, {len(loader)} batches per epoch per rank, {ranks.world} rank(s), "
                f"lr {preset.learning_rate(preset.batch_size * ranks.world):.3g}")
    if val is not None:
        val = open_shards(val, source_for(opts, ranks), eval_transform(preset), batch_size=preset.batch_size,
                          training=False)

    def top1(epoch: int) -> dict:
        return val_metrics(trainer.model, val, epoch, opts, session) if val is not None else {}

    fit(trainer, loader, position, opts, session, after_epoch=top1)


def _validation(source: Source):
    """The dataset's --val-split when it has one (top-1 after every epoch), else None."""
    if not has_split(source.data, source.val_split, source.io_timeout):
        return None
    return resolve(source.data, source.val_split, source.samples_per_shard, source.io_timeout)
