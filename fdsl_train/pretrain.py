"""`fdsl-train pretrain`: train a timm model from scratch on formula-driven shards."""
from dataclasses import replace
from typing import Optional

import torch

from fdsl_train import models, recipes, shards
from fdsl_train.datasets import check_classes
from fdsl_train.engine import Position, Trainer
from fdsl_train.errors import UserError
from fdsl_train.loader import ShardLoader, ShardStream, check_balance, check_enough
from fdsl_train.run import RunOptions, fit, prepare, restore, session_for
from fdsl_train.transforms import train_transform


def pretrain(recipe_name: Optional[str], overrides: dict, opts: RunOptions) -> None:
    """Without --recipe, a 1p-frac dataset (manifest loss lpce) gets the 1p-frac recipe, others fdsl-vit."""
    shardset = shards.resolve(opts.data, opts.train_split, opts.samples_per_shard)
    lpce = shardset.loss == "lpce"
    recipe = recipes.resolve(recipe_name or ("1p-frac" if lpce else "fdsl-vit"), overrides)
    if lpce:
        # L-way cross-entropy over the dataset's L perturbation classes, whatever the preset
        recipe = replace(recipe, loss="lpce")
    num_classes = check_classes(opts.num_classes, shardset.num_classes, opts.data)
    models.check_name(recipe.model)
    with session_for("pretrain", recipe, opts) as session:
        _train(recipe, opts, shardset, num_classes, session)


def _train(recipe, opts, shardset, num_classes, session) -> None:
    ranks, workers = session.ranks, max(1, opts.workers)
    check_enough(shardset, world=ranks.world, batch_size=recipe.batch_size)
    if opts.balance == "fail":
        check_balance(shardset, seed=opts.seed, epochs=recipe.epochs, world=ranks.world, workers=workers,
                      batch_size=recipe.batch_size)
    stream = ShardStream(
        shardset, train_transform(recipe), batch_size=recipe.batch_size, rank=ranks.rank, world=ranks.world,
        workers=opts.workers, seed=opts.seed, shuffle_buffer=opts.shuffle_buffer, cache_dir=opts.cache_dir,
    )
    loader = ShardLoader(stream, opts.workers, pin_memory=torch.cuda.is_available())
    model = models.create(recipe.model, num_classes=num_classes, img_size=recipe.img_size,
                          drop_path=recipe.drop_path)
    trainer = Trainer(
        prepare(model, session, opts.torchcompile), recipe, num_classes=num_classes,
        updates_per_epoch=len(loader), global_batch=recipe.batch_size * ranks.world,
        accel=session.accel, ranks=ranks, log=session.log, strict=opts.strict,
    )
    position = restore(trainer, opts) if opts.resume else Position()
    if position.epoch >= recipe.epochs:
        raise UserError(f"{opts.resume} already finished its {recipe.epochs} epochs")
    session.say(f"pretrain {recipe.model} on {shardset.num_samples} samples, {num_classes} classes, "
                f"loss {recipe.loss}, {len(loader)} batches per epoch per rank, {ranks.world} rank(s), "
                f"lr {recipe.learning_rate(recipe.batch_size * ranks.world):.3g}")
    fit(trainer, loader, position, opts, session)
