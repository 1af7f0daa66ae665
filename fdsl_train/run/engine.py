"""The training step, the epoch loop and top-1 evaluation, shared by pretrain and finetune.

What they measure goes to a Monitor (fdsl_train.run.monitor); checkpoints go
through the `save` callback of `train_epochs`.

Batches are (images, labels, lost) tuples; `lost` lists what the data
pipeline could not deliver since the previous batch (fdsl_train.data.tally); a
batch without samples carries only that. Under --gpu-augment the images are
uint8 crops that the trainer's DeviceAugment finishes on the device
(fdsl_train.data.device_augment); its draws and mixup's are seeded from (seed,
step, rank), so a resumed run draws what the uninterrupted run drew.
"""
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

import torch
from timm.data import Mixup
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2
from torch import nn

from fdsl_train import dist
from fdsl_train.data.device_augment import DeviceAugment, seeded_draws, three_channels
from fdsl_train.data.loader import hashed_seed
from fdsl_train.data.tally import DEFAULT_LIMIT, EpochLosses
from fdsl_train.errors import UserError, brief
from fdsl_train.presets import Preset
from fdsl_train.run.losses import create_loss
from fdsl_train.run.models import unwrap
from fdsl_train.run.monitor import Monitor


@dataclass
class Position:
    """Where training stands; saved in checkpoints so that a resumed run continues from here."""

    epoch: int = 0
    batch: int = 0  # batches done in `epoch`
    step: int = 0  # optimizer steps done in all


@dataclass(frozen=True)
class Accel:
    """How this rank computes: device, mixed precision, memory layout, and where augmentation runs."""

    device: torch.device
    amp: bool = False
    channels_last: bool = False
    gpu_augment: bool = False  # the workers only crop; DeviceAugment does the rest on `device`

    @staticmethod
    def choose(device: torch.device, amp: Optional[bool], channels_last: Optional[bool],
               gpu_augment: Optional[bool] = None) -> "Accel":
        """AMP, channels-last and --gpu-augment default to on for GPUs, off for CPUs."""
        gpu = device.type == "cuda"
        return Accel(device, gpu if amp is None else amp, gpu if channels_last is None else channels_last,
                     gpu if gpu_augment is None else gpu_augment)

    def autocast(self):
        if not self.amp:
            return nullcontext()
        bf16 = self.device.type != "cuda" or torch.cuda.is_bf16_supported()
        return torch.autocast(self.device.type, dtype=torch.bfloat16 if bf16 else torch.float16)

    def needs_scaler(self) -> bool:
        return self.amp and self.device.type == "cuda" and not torch.cuda.is_bf16_supported()

    def images(self, images: torch.Tensor) -> torch.Tensor:
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        # contiguous(): `to` leaves a broadcast view (three_channels) as it is where the layout is the default
        return images.to(self.device, non_blocking=True, memory_format=layout).contiguous(memory_format=layout)


class Trainer:
    """One model with its optimizer, schedule, mixup and loss, and its device augmentation under --gpu-augment.

    `seed` (the run's --seed) seeds the draws of each step's augmentation and mixup.
    """

    def __init__(self, model: nn.Module, preset: Preset, *, num_classes: int, updates_per_epoch: int,
                 global_batch: int, accel: Accel, ranks: dist.Ranks, monitor: Optional[Monitor] = None,
                 strict: bool = False, max_skipped: str = DEFAULT_LIMIT, seed: int = 0) -> None:
        self.model = model
        self.preset = preset
        self.num_classes = num_classes
        self.accel = accel
        self.ranks = ranks
        self.monitor = monitor or Monitor()
        self.strict = strict
        self.max_skipped = max_skipped
        check_preset(preset)
        self.optimizer = _optimizer(model, preset, global_batch)
        self.scheduler = _scheduler(self.optimizer, preset, updates_per_epoch)
        self.mixup = self._mixup(preset, num_classes)
        self.augment = DeviceAugment(preset, accel.device) if accel.gpu_augment else None
        self.seed = seed
        self.loss_fn = create_loss(preset.loss, num_classes, preset.smoothing, self.mixup is not None)
        self.scaler = torch.amp.GradScaler(accel.device.type, enabled=accel.needs_scaler())

    @staticmethod
    def _mixup(preset: Preset, num_classes: int) -> Optional[Mixup]:
        if preset.mixup <= 0 and preset.cutmix <= 0:
            return None
        return Mixup(mixup_alpha=preset.mixup, cutmix_alpha=preset.cutmix,
                     label_smoothing=preset.smoothing, num_classes=num_classes)

    def inputs(self, images: torch.Tensor, labels: torch.Tensor, step: int = 0):
        """(images, targets) of the batch of optimizer step `step` as the model and loss take them: on the
        device, augmented there under --gpu-augment, mixed."""
        images = images.to(self.accel.device, non_blocking=True)
        labels = labels.to(self.accel.device, non_blocking=True)
        targets = labels
        with seeded_draws(hashed_seed("device", self.seed, step, self.ranks.rank)):
            if self.augment is not None:
                images = self.augment(images)
            if self.mixup is not None:
                if len(labels) % 2:
                    # mixup pairs samples: a batch that lost a sample (ImageFolder) leaves out one more
                    images, labels = images[:-1], labels[:-1]
                images, targets = self.mixup(images, labels)
        return self.accel.images(three_channels(images)), targets

    def step(self, images: torch.Tensor, labels: torch.Tensor, step: int = 0) -> torch.Tensor:
        """One optimizer step on the batch of step `step`; the loss, still on the device."""
        images, targets = self.inputs(images, labels, step)
        with self.accel.autocast():
            loss = self.loss_fn(self.model(images), targets)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.detach()

    def train_epoch(self, batches: Iterable, expected: int, position: Position, *, log_interval: int = 50,
                    after_step: Callable[[Position], None] = lambda p: None, stop_at: Optional[int] = None,
                    data_samples: int = 0) -> dict:
        """Run the remaining `expected` batches of `position.epoch` (or up to step `stop_at`).

        The figures returned are summed over ranks; lost samples are counted once each, and the lost
        shards named, in the figures and in a "lost" log record per shard. Losses are counted against the
        epoch's samples: the `data_samples` its data holds, or the samples of its batches where more.
        """
        self.model.train()
        self.scheduler.step_update(position.step)
        loss_sum = torch.zeros((), device=self.accel.device)
        done, samples = 0, 0
        batched = (expected + position.batch) * self.preset.batch_size * self.ranks.world
        losses = EpochLosses(self.max_skipped, max(batched, data_samples), self.strict)
        start = time.perf_counter()
        bar = self.monitor.progress(expected, f"epoch {position.epoch}")
        for images, labels, lost in batches:
            self._add_losses(losses, lost, position.epoch)
            if not len(labels):
                continue
            self._check_labels(labels)
            loss = self.step(images, labels, position.step)
            loss_sum += loss
            done, samples = done + 1, samples + len(labels)
            position.batch += 1
            position.step += 1
            self.scheduler.step_update(position.step)
            if done % log_interval == 0 or done == expected:
                rate = samples * self.ranks.world / (time.perf_counter() - start)
                bar.set_postfix(step=position.step, loss=f"{loss.item():.4f}", samples_s=f"{rate:.0f}")
                self.monitor.record("step", epoch=position.epoch, step=position.step, loss=loss.item(),
                                    lr=self.optimizer.param_groups[0]["lr"], samples_per_s=rate)
            bar.update()
            after_step(position)
            if position.step == stop_at:
                break
        bar.close()
        if done != expected and position.step != stop_at:
            raise UserError(f"rank {self.ranks.rank} read {done} of {expected} batches in epoch {position.epoch}: "
                            f"the data ran out ({losses.describe()})")
        total_loss, total_batches = dist.sum_over_ranks([loss_sum.item(), done], self.accel.device)
        every = EpochLosses(self.max_skipped, losses.total)
        self._add_losses(every, [item for items in dist.gather(losses.items()) for item in items], position.epoch)
        self._log_lost(every, position.epoch)
        return {"loss": total_loss / max(1, total_batches), "batches": int(total_batches), "skipped": every.count,
                "lost_shards": every.shards, "seconds": time.perf_counter() - start}

    def _add_losses(self, losses: EpochLosses, lost, epoch: int) -> None:
        """Count `lost`; when that passes the limit, name the lost shards in the log before stopping."""
        try:
            losses.add(lost)
        except UserError:
            self._log_lost(losses, epoch)
            raise

    def _log_lost(self, losses: EpochLosses, epoch: int) -> None:
        for item in losses.items():
            if item.key is None:
                self.monitor.record("lost", epoch=epoch, shard=item.url, samples=item.samples, reason=item.reason)

    def _check_labels(self, labels: torch.Tensor) -> None:
        outside = labels[(labels < 0) | (labels >= self.num_classes)]
        if len(outside):
            raise UserError(f"a sample has label {int(outside[0])}, outside the data's {self.num_classes} classes "
                            f"(0..{self.num_classes - 1}): its num_classes is smaller than its labels")


def check_preset(preset: Preset) -> None:
    """Refuse a preset that timm cannot train with (an unknown optimizer or schedule, mixup on an odd batch),
    before a run touches its folder."""
    if (preset.mixup > 0 or preset.cutmix > 0) and preset.batch_size % 2:
        raise UserError(f"mixup/cutmix pair samples within a batch: --batch-size {preset.batch_size} must be even")
    _scheduler(_optimizer(nn.Linear(1, 1), preset, preset.batch_size), preset, updates_per_epoch=1)


def _optimizer(model: nn.Module, preset: Preset, global_batch: int) -> torch.optim.Optimizer:
    try:
        return create_optimizer_v2(model, opt=preset.opt, lr=preset.learning_rate(global_batch),
                                   weight_decay=preset.weight_decay, momentum=preset.momentum)
    except (ValueError, ImportError) as err:  # an unknown name; an optimizer whose package is not installed
        raise UserError(f"--opt {preset.opt}: {brief(err)} (timm.optim.list_optimizers() names them)") from None


def _scheduler(optimizer: torch.optim.Optimizer, preset: Preset, updates_per_epoch: int):
    try:
        scheduler, _ = create_scheduler_v2(
            optimizer, sched=preset.sched, num_epochs=preset.epochs,
            decay_milestones=list(preset.decay_milestones), decay_rate=preset.decay_rate,
            warmup_epochs=preset.warmup_epochs, warmup_lr=preset.warmup_lr, min_lr=preset.min_lr,
            step_on_epochs=False, updates_per_epoch=updates_per_epoch,
        )
    except ValueError as err:
        raise UserError(f"--sched {preset.sched}: {brief(err)}") from None
    return scheduler


def train_epochs(trainer: Trainer, loader, position: Position, *, save: Callable[[Position], None],
                 log_interval: int = 50, checkpoint_every: int = 0, stop_at: Optional[int] = None,
                 after_epoch: Callable[[int], dict] = lambda epoch: {}) -> bool:
    """Train from `position` to the preset's last epoch, saving every `checkpoint_every` steps and after each epoch.

    False when it stopped inside an epoch at step `stop_at`.
    """
    def checkpoint_due(pos: Position) -> None:
        if checkpoint_every and pos.step % checkpoint_every == 0:
            save(pos)

    monitor = trainer.monitor
    for epoch in range(position.epoch, trainer.preset.epochs):
        position.epoch = epoch
        skip = position.batch
        stats = trainer.train_epoch(loader.epoch(epoch, skip), len(loader) - skip, position,
                                    log_interval=log_interval, after_step=checkpoint_due, stop_at=stop_at,
                                    data_samples=loader.num_samples)
        if position.batch < len(loader):
            save(position)
            monitor.record("stop", epoch=epoch, batch=position.batch, step=position.step)
            return False
        stats.update(after_epoch(epoch))
        position.epoch, position.batch = epoch + 1, 0
        save(position)
        monitor.record("epoch", epoch=epoch, step=position.step, **stats)
        monitor.say(f"epoch {epoch}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in stats.items()))
        if position.step == stop_at:
            break
    return True


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable, accel: Accel, losses: Optional[EpochLosses] = None) -> float:
    """Top-1 accuracy in percent over all ranks' batches; what the data lost is added to `losses`."""
    # the plain model: DDP's forward may broadcast buffers, and ranks can hold unequal val batches
    model = unwrap(model)
    model.eval()
    correct, seen = 0, 0
    for images, labels, lost in batches:
        if losses is not None:
            losses.add(lost)
        if not len(labels):
            continue
        with accel.autocast():
            logits = model(accel.images(images))
        correct += (logits.argmax(-1).cpu() == labels).sum().item()
        seen += len(labels)
    correct, seen = dist.sum_over_ranks([correct, seen], accel.device)
    return 100.0 * correct / max(1, seen)
