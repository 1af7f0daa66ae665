"""Training throughput: ViT-Tiny steps fed by the shard pipeline vs by a synthetic tensor.

The same Trainer (fdsl-vit preset: AdamW, mixup/cutmix, RandAugment, random
erasing) runs --steps steps on a batch that stays on the device, then --steps
steps on batches from the shard pipeline with --workers workers; the two take
turns for --rounds rounds after --warmup steps, each keeping its best. The
difference is what the data pipeline costs.

    python bench/train_step.py                        # renders a FractalDB sample with fdsl-gen first
    python bench/train_step.py --workers 8 --batch-size 128
    python bench/train_step.py --compile              # torch.compile'd model
"""
import argparse
import itertools
import time
from pathlib import Path

import torch

from fdsl_train import dist, presets
from fdsl_train.data import shards
from fdsl_train.run import models
from fdsl_train.run.engine import Accel, Trainer
from fdsl_train.data.loader import ShardLoader, ShardStream
from fdsl_train.data.reading import ShardFiles
from fdsl_train.data.transforms import train_transform

from loader import CACHE, render_sample


def timed_steps(trainer: Trainer, batches, warmup: int, steps: int, device: torch.device) -> float:
    """Images per second over `steps` steps, after `warmup` untimed ones."""
    batches = iter(batches)
    for images, labels, _ in itertools.islice(batches, warmup):
        trainer.step(images, labels)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start, count = time.perf_counter(), 0
    for images, labels, _ in itertools.islice(batches, steps):
        loss = trainer.step(images, labels)
        count += len(labels)
    loss.item()  # waits for the device
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=CACHE / "fractaldb-362")
    parser.add_argument("--model", default="vit_tiny_patch16_224")
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (warm-up compiles it)")
    args = parser.parse_args()
    if not (args.data / "manifest.json").exists():
        render_sample(args.data, categories=20, per_category=100)
    shardset = shards.resolve(str(args.data))
    preset = presets.resolve("fdsl-vit", {"model": args.model, "img_size": args.img_size,
                                          "batch_size": args.batch_size})
    ranks = dist.Ranks()
    accel = Accel.choose(dist.setup(ranks), None, None)
    model = models.create(preset.model, num_classes=shardset.num_classes, img_size=preset.img_size)
    layout = torch.channels_last if accel.channels_last else torch.contiguous_format
    model = model.to(accel.device, memory_format=layout)
    trainer = Trainer(torch.compile(model) if args.compile else model, preset, num_classes=shardset.num_classes,
                      updates_per_epoch=1000, global_batch=args.batch_size, accel=accel, ranks=ranks)
    stream = ShardStream(shardset, train_transform(preset), read_shard=ShardFiles(shardset), batch_size=args.batch_size,
                         workers=args.workers)
    pipeline = itertools.chain.from_iterable(
        ShardLoader(stream, args.workers, pin_memory=accel.device.type == "cuda").epoch(e) for e in itertools.count())
    synthetic_batch = (torch.randn(args.batch_size, 3, args.img_size, args.img_size, device=accel.device),
                       torch.randint(0, shardset.num_classes, (args.batch_size,), device=accel.device), [])
    synthetic, fed = 0.0, 0.0
    # the two inputs take turns over several rounds, each keeping its best: other load hits both alike
    for round_ in range(args.rounds):
        warmup = args.warmup if round_ == 0 else 0
        synthetic = max(synthetic, timed_steps(trainer, itertools.repeat(synthetic_batch, warmup + args.steps),
                                               warmup, args.steps, accel.device))
        fed = max(fed, timed_steps(trainer, pipeline, warmup, args.steps, accel.device))
    print(f"{args.model} at {args.img_size} px, batch {args.batch_size}, {accel.device} "
          f"(amp {accel.amp}, channels-last {accel.channels_last}, compile {args.compile}), {args.workers} worker(s), "
          f"best of {args.rounds} rounds of {args.steps} steps, torch {torch.__version__}")
    print(f"  synthetic input      {synthetic:8.1f} images/s")
    print(f"  shard pipeline       {fed:8.1f} images/s   pipeline cost {100 * (1 - fed / synthetic):5.1f} %")


if __name__ == "__main__":
    main()
