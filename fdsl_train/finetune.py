"""`fdsl-train finetune`: transfer pre-trained weights (or none, as a baseline) to a labelled dataset."""
from typing import Optional

from fdsl_train import presets
from fdsl_train.data.datasets import check_classes, open_split
from fdsl_train.data.device_augment import worker_transform
from fdsl_train.data.transforms import eval_transform, train_transform
from fdsl_train.errors import UserError
from fdsl_train.run import checkpoint, models
from fdsl_train.run.engine import Position, check_preset
from fdsl_train.run.session import (RunOptions, build_trainer, check_options, fit, session_for, source_for,
                                    val_metrics)


def checkpoint_defaults(pretrained: Optional[str]) -> dict:
    """Preset fields a checkpoint implies unless the command line says otherwise: model and input size."""
    if not pretrained:
        return {}
    _, config = checkpoint.locate(pretrained)
    return {"model": config["architecture"], "img_size": config["pretrained_cfg"]["input_size"][-1]}


def finetune(preset_name: Optional[str], overrides: dict, opts: RunOptions, pretrained: Optional[str]) -> None:
    given = {k: v for k, v in overrides.items() if v is not None}
    preset = presets.resolve(preset_name or "finetune", {**checkpoint_defaults(pretrained), **given})
    models.check_name(preset.model)
    check_preset(preset)
    check_options(opts)
    with session_for("finetune", preset, opts, pretrained) as session:
        _train(preset, opts, pretrained, session)


def _train(preset, opts, pretrained, session) -> None:
    source = source_for(opts, session.ranks)
    data, train_split, val_split = source.data, source.train_split, source.val_split
    transform = worker_transform(preset) if session.accel.gpu_augment else train_transform(preset)
    train, found = open_split(source, train_split, transform, batch_size=preset.batch_size, training=True)
    val, val_classes = open_split(source, val_split, eval_transform(preset), batch_size=preset.batch_size,
                                  training=False, classes=train.classes)
    num_classes = check_classes(opts.num_classes, found, f"{data} ({train_split})")
    if val_classes is not None and val_classes != num_classes:
        raise UserError(f"class-count mismatch: {data} has {num_classes} classes in {train_split} "
                        f"but {val_classes} in {val_split}")
    if len(train) == 0:
        raise UserError(f"{data} ({train_split}) holds less than one batch of {preset.batch_size} per rank")
    if pretrained:
        model = checkpoint.create_pretrained(pretrained, num_classes=num_classes, img_size=preset.img_size,
                                             name=preset.model, drop_path=preset.drop_path)
    else:
        model = models.create(preset.model, num_classes=num_classes, img_size=preset.img_size,
                              drop_path=preset.drop_path)
    trainer = build_trainer(model, preset, num_classes=num_classes, updates_per_epoch=len(train), opts=opts,
                            session=session)
    session.monitor.record("data", split=train_split, samples=train.num_samples, digest=train.digest)
    session.say(f"finetune {preset.model} from {pretrained or 'scratch'} on {data}: {num_classes} classes, "
                f"{len(train)} batches per epoch per rank")

    def top1(epoch: int) -> dict:
        return val_metrics(trainer.model, val, epoch, opts, session)

    fit(trainer, train, Position(), opts, session, after_epoch=top1)
