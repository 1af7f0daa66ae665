"""`fdsl-train pretrain`: train a timm model from scratch on formula-driven shards."""
from dataclasses import replace
from typing import Optional

from fdsl_train import checkpoint, live, models, presets, shards
from fdsl_train.datasets import check_classes, open_shards
from fdsl_train.engine import Position
from fdsl_train.errors import UserError
from fdsl_train.loader import check_balance, check_enough
from fdsl_train.run import RunOptions, build_trainer, fit, restore, session_for, source_for, val_metrics
from fdsl_train.transforms import eval_transform, train_transform


def pretrain(preset_name: Optional[str], overrides: dict, opts: RunOptions) -> None:
    """Without --preset, a 1p-frac dataset (manifest loss lpce) gets the 1p-frac preset, others fdsl-vit."""
    shardset = shards.resolve(opts.data, opts.train_split, opts.samples_per_shard, opts.io_timeout)
    if opts.fresh_epochs:
        shardset = live.fresh(shardset)
    lpce = shardset.loss == "lpce"
    preset = presets.resolve(preset_name or ("1p-frac" if lpce else "fdsl-vit"), overrides)
    if lpce:
        # L-way cross-entropy over the dataset's L perturbation classes, whatever the preset
        preset = replace(preset, loss="lpce")
    num_classes = check_classes(opts.num_classes, shardset.num_classes, opts.data)
    models.check_name(preset.model)
    # a damaged or finished state is refused before the run folder is touched
    state = checkpoint.load_state(opts.resume) if opts.resume else None
    if state and state["position"]["epoch"] >= preset.epochs:
        raise UserError(f"{opts.resume} already finished its {state['position']['epoch']} epochs; "
                        f"--epochs {preset.epochs} asks for no more")
    with session_for("pretrain", preset, opts) as session:
        _train(preset, opts, shardset, num_classes, session, state)


def _train(preset, opts, shardset, num_classes, session, state) -> None:
    ranks, workers = session.ranks, max(1, opts.workers)
    check_enough(shardset, world=ranks.world, batch_size=preset.batch_size)
    if opts.balance == "fail":
        check_balance(shardset, seed=opts.seed, epochs=preset.epochs, world=ranks.world, workers=workers,
                      batch_size=preset.batch_size)
    loader = open_shards(shardset, source_for(opts, ranks), train_transform(preset), batch_size=preset.batch_size,
                         training=True)
    model = models.create(preset.model, num_classes=num_classes, img_size=preset.img_size,
                          drop_path=preset.drop_path)
    trainer = build_trainer(model, preset, num_classes=num_classes, updates_per_epoch=len(loader), opts=opts,
                            session=session)
    session.monitor.record("data", split=opts.train_split, samples=shardset.num_samples, digest=shardset.digest)
    position = restore(trainer, state, opts) if state else Position()
    session.say(f"pretrain {preset.model} on {shardset.num_samples} samples, {num_classes} classes, "
                f"loss {preset.loss}, {len(loader)} batches per epoch per rank, {ranks.world} rank(s), "
                f"lr {preset.learning_rate(preset.batch_size * ranks.world):.3g}")
    val = _validation(preset, opts, session)

    def top1(epoch: int) -> dict:
        return val_metrics(trainer.model, val, epoch, opts, session) if val is not None else {}

    fit(trainer, loader, position, opts, session, after_epoch=top1)


def _validation(preset, opts, session):
    """A loader over the dataset's --val-split when it has one (top-1 after every epoch), else None."""
    if not shards.has_split(opts.data, opts.val_split, opts.io_timeout):
        return None
    shardset = shards.resolve(opts.data, opts.val_split, opts.samples_per_shard, opts.io_timeout)
    return open_shards(shardset, source_for(opts, session.ranks), eval_transform(preset),
                       batch_size=preset.batch_size, training=False)
