"""What pretrain and finetune share: run options, the session of a run, its checkpoints in the run folder.

The run folder (--output) and the name of every file in it: fdsl_train.run.folder.
"""
import json
import os
import random
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from fdsl_train import dist
from fdsl_train.data import cache
from fdsl_train.data.datasets import Source
from fdsl_train.data.loader import hashed_seed
from fdsl_train.data.tally import EpochLosses
from fdsl_train.errors import UserError, brief
from fdsl_train.presets import Preset
from fdsl_train.run import card, checkpoint, models
from fdsl_train.run.engine import Accel, Position, Trainer, evaluate, train_epochs
from fdsl_train.run.folder import RunFolder
from fdsl_train.run.models import unwrap
from fdsl_train.run.monitor import Monitor
from fdsl_train.run.runlog import RunLog
from fdsl_train.run.sinks import CurvesFile, ModelCard, TensorBoard, Wandb, check_wandb


@dataclass(frozen=True)
class RunOptions:
    """The options of a pretrain or finetune run besides its preset's; the data options are its `source`."""

    source: Source
    output: Path
    num_classes: Optional[int] = None
    checkpoint_every: int = 0
    log_interval: int = 50
    resume: Optional[str] = None
    stop_after_steps: Optional[int] = None
    amp: Optional[bool] = None
    channels_last: Optional[bool] = None
    gpu_augment: Optional[bool] = None  # None: on where the device is a GPU
    torchcompile: bool = False
    log_wandb: bool = False
    command_line: str = ""  # as typed, for the model card
    overwrite: bool = False

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.output)

    def record(self) -> dict:
        """The options as run.json records them: one flat dict, as the command line gives them."""
        run = {name: value for name, value in asdict(self).items() if name != "source"}
        data = {name: value for name, value in asdict(self.source).items() if name != "ranks"}
        return {**data, **run, "output": str(self.output)}


@dataclass
class Session:
    """The process's place in the run."""

    ranks: dist.Ranks
    accel: Accel
    monitor: Monitor = field(default_factory=Monitor)

    def say(self, message: str) -> None:
        self.monitor.say(message)


@contextmanager
def session_for(command: str, preset: Preset, opts: RunOptions, pretrained: Optional[str] = None) -> Iterator[Session]:
    """Join the process group, seed the RNGs, claim --output and write run.json (rank 0); leave at the end.

    run.json names the data and, for a fine-tuning, the `pretrained` weights it starts from.

    A run that stops on bad input before it logged or saved anything gives its claim on --output back.
    """
    if opts.log_wandb:
        check_wandb()
    ranks = dist.ranks_from_env(os.environ)
    accel = Accel.choose(dist.setup(ranks), opts.amp, opts.channels_last, opts.gpu_augment)
    seed = hashed_seed("main", opts.source.seed, ranks.rank)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    claim = opts.folder.claimed(resume=opts.resume, overwrite=opts.overwrite) if ranks.is_main else None
    with claim or nullcontext(False) as continuing:
        monitor = Monitor()
        if ranks.is_main:
            run = {"command": command, "preset": preset.to_dict(),
                   "options": opts.record(), "dataset": card.dataset_facts(opts.source.data),
                   "world_size": ranks.world, "device": str(accel.device), "gpu_augment": accel.gpu_augment}
            if pretrained:
                run["pretrained"] = card.checkpoint_facts(pretrained)
            opts.folder.run_file.write_text(json.dumps(run, indent=2))
            monitor = Monitor(_sinks(opts, run, continuing), console=True)
            monitor.record("start", command=command, world=ranks.world)
        try:
            yield Session(ranks, accel, monitor)
        finally:
            monitor.close()
            dist.teardown()


def check_options(opts: RunOptions) -> None:
    """What the run options need of the machine, checked before the run folder is touched."""
    if opts.source.cache_dir:
        cache.check_folder(opts.source.cache_dir)


def resume_state(opts: RunOptions, command: str, preset: Preset, num_classes: int) -> dict:
    """The training state that --resume names, once it is known to continue this run; each refusal comes
    before the run folder is touched.

    It must be a state of the same command, not yet at --epochs, saved with the optimizer named and a model
    of the same shape, and a mid-epoch state needs the saved ranks, workers, batch size and seed.
    """
    state = checkpoint.load_state(opts.resume)
    position = state["position"]
    if position["epoch"] >= preset.epochs:
        raise UserError(f"{opts.resume} already finished its {position['epoch']} epochs; "
                        f"--epochs {preset.epochs} asks for no more")
    ran = RunFolder.of_resume(opts.resume).command()
    if ran and ran != command:
        raise UserError(f"{opts.resume} holds a {ran} run: {command} --resume continues {command} runs only")
    layout = _layout(opts, preset, dist.ranks_from_env(os.environ).world)
    if position["batch"] and state["layout"] != layout:
        raise UserError(f"a mid-epoch resume needs the saved ranks, workers, batch size and seed "
                        f"{state['layout']}, not {layout}")
    saved_opt = state.get("preset", {}).get("opt")
    if saved_opt and saved_opt.lower() != preset.opt.lower():
        raise UserError(f"{opts.resume} was trained with --opt {saved_opt}: a resume continues that optimizer, "
                        f"not --opt {preset.opt}")
    misfit = _misfit(state["model"], preset, num_classes)
    if misfit:
        raise UserError(f"{opts.resume} does not fit {preset.model} with {num_classes} classes: {misfit}")
    return state


def _misfit(saved: dict, preset: Preset, num_classes: int) -> str:
    """How the tensors of a saved model differ from the model the preset builds; "" when they fit."""
    with torch.device("meta"):  # the shapes only: no weights are allocated
        wanted = models.create(preset.model, num_classes=num_classes, img_size=preset.img_size).state_dict()
    for name, tensor in wanted.items():
        if name not in saved:
            return f"it lacks {name}"
        shape = list(getattr(saved[name], "shape", ()))
        if shape != list(tensor.shape):
            return f"{name} is {shape} in the state, {list(tensor.shape)} in the model"
    extra = sorted(set(saved) - set(wanted))
    return f"it holds {extra[0]}, which the model lacks" if extra else ""


def _sinks(opts: RunOptions, run: dict, continuing: bool) -> list:
    # log.jsonl first: curves.png and the model card are drawn from it, and the card shows curves.png
    folder = opts.folder
    sinks = [RunLog(folder.log_file, append=continuing), TensorBoard(folder.path, run), CurvesFile(folder),
             ModelCard(folder)]
    return sinks + [Wandb(folder.path, run)] if opts.log_wandb else sinks


def source_for(opts: RunOptions, ranks: dist.Ranks) -> Source:
    """How this rank reads --data."""
    return replace(opts.source, ranks=ranks)


def prepare(model: nn.Module, session: Session, compile_model: bool) -> nn.Module:
    """Move to the device, set the memory layout, wrap for DDP and optionally compile."""
    layout = torch.channels_last if session.accel.channels_last else torch.contiguous_format
    model = model.to(session.accel.device, memory_format=layout)
    if session.ranks.world > 1:
        ids = [session.accel.device.index] if session.accel.device.type == "cuda" else None
        model = DistributedDataParallel(model, device_ids=ids)
    return torch.compile(model) if compile_model else model


def build_trainer(model: nn.Module, preset: Preset, *, num_classes: int, updates_per_epoch: int, opts: RunOptions,
                  session: Session) -> Trainer:
    """The model prepared for this rank, with the preset's optimizer, schedule, mixup and loss."""
    return Trainer(
        prepare(model, session, opts.torchcompile), preset, num_classes=num_classes,
        updates_per_epoch=updates_per_epoch, global_batch=preset.batch_size * session.ranks.world,
        accel=session.accel, ranks=session.ranks, monitor=session.monitor, strict=opts.source.strict,
        max_skipped=opts.source.max_skipped, seed=opts.source.seed,
    )


def _layout(opts: RunOptions, preset: Preset, world: int) -> dict:
    """What must stay the same for a mid-epoch resume to continue the same sample stream."""
    source = opts.source
    layout = {"world": world, "workers": max(1, source.workers), "batch_size": preset.batch_size, "seed": source.seed}
    return dict(layout, fresh_epochs=True) if source.fresh_epochs else layout  # older states name no such key


def save(trainer: Trainer, position: Position, opts: RunOptions) -> None:
    """Weights and training state into --output; rank 0 writes, the others carry on."""
    if not trainer.ranks.is_main:
        return
    model = unwrap(trainer.model)
    checkpoint.save_weights(model, opts.folder.path, trainer.preset,
                            metadata=_weights_metadata(trainer, position, opts))
    checkpoint.save_state({
        "model": model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scaler": trainer.scaler.state_dict(),
        "position": asdict(position),
        "preset": trainer.preset.to_dict(),
        "layout": _layout(opts, trainer.preset, trainer.ranks.world),
        "gpu_augment": trainer.accel.gpu_augment,
    }, opts.folder.state_file)


def _weights_metadata(trainer: Trainer, position: Position, opts: RunOptions) -> dict:
    """What the safetensors header says of the run: data, preset and how far it got."""
    dataset = opts.folder.read_run()["dataset"]
    return {"dataset": dataset.get("name") or dataset["source"], "manifest_sha256": dataset.get("manifest_sha256", ""),
            "preset": json.dumps(trainer.preset.to_dict()), "epoch": str(position.epoch), "step": str(position.step),
            "gpu_augment": str(trainer.accel.gpu_augment).lower()}


def restore(trainer: Trainer, state: dict, opts: RunOptions) -> Position:
    """Load a training state (resume_state of --resume) into the trainer; the position to continue from."""
    position = Position(**state["position"])
    try:
        unwrap(trainer.model).load_state_dict(state["model"])
    except RuntimeError as err:
        raise UserError(f"{opts.resume} does not fit {trainer.preset.model}: {brief(err)}") from None
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.scaler.load_state_dict(state["scaler"])
    return position


def val_metrics(model: nn.Module, val, epoch: int, opts: RunOptions, session: Session) -> dict:
    """Top-1 on the val loader, and the val samples the data lost, over all ranks."""
    lost = EpochLosses(opts.source.max_skipped, val.num_samples, opts.source.strict)
    top1 = evaluate(model, val.epoch(epoch), session.accel, lost)
    skipped = dist.sum_over_ranks([lost.count], session.accel.device)[0]
    return {"top1": top1, "val_skipped": int(skipped)}


def fit(trainer: Trainer, loader, position: Position, opts: RunOptions, session: Session,
        after_epoch: Callable[[int], dict] = lambda epoch: {}) -> None:
    """Train to the preset's last epoch with --output's checkpoints, or stop at --stop-after-steps."""
    finished = train_epochs(trainer, loader, position, save=lambda pos: save(trainer, pos, opts),
                            log_interval=opts.log_interval, checkpoint_every=opts.checkpoint_every,
                            stop_at=opts.stop_after_steps, after_epoch=after_epoch)
    if not finished:
        session.say(f"stopped at step {position.step} (epoch {position.epoch}, batch {position.batch}); "
                    f"continue with --resume {opts.output}")
