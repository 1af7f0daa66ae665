"""Training throughput: ViT-Tiny steps fed by the shard pipeline vs by a synthetic tensor.

The same Trainer (fdsl-vit preset: AdamW, mixup/cutmix, RandAugment, random
erasing) runs --steps steps on a batch that stays on the device, then --steps
steps on batches from the shard pipeline with --workers workers; the two take
turns for --rounds rounds, each turn after --warmup untimed steps. A round's
pipeline cost is 1 - (pipeline images/s) / (synthetic images/s) of that
round; the table gives the median, min and max over the rounds, and the
verdict against the < 10 % target on the median.

    python bench/train_step.py                        # renders a FractalDB sample with fdsl-gen first
    python bench/train_step.py --workers 8 --batch-size 128
    python bench/train_step.py --compile              # torch.compile'd model
    python bench/train_step.py --model resnet18 --img-size 32 --threads 1   # torch's math threads
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

from common import check_rounds, interleaved, load_line, median, spread
from loader import CACHE, render_sample

TARGET = 10.0  # % of the synthetic rate the pipeline may cost


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
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch's math threads (default: torch's)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (warm-up compiles it)")
    args = parser.parse_args()
    check_rounds(args.rounds)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
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
    synthetic = itertools.repeat(synthetic_batch)
    # every round starts with --warmup untimed steps: the batches the workers made ready during the
    # synthetic turn would otherwise come free (and the first round starts the workers)
    rates = interleaved({"synthetic": lambda: timed_steps(trainer, synthetic, args.warmup, args.steps, accel.device),
                         "pipeline": lambda: timed_steps(trainer, pipeline, args.warmup, args.steps, accel.device)},
                        args.rounds)
    costs = [100 * (1 - fed / alone) for fed, alone in zip(rates["pipeline"], rates["synthetic"])]
    under = sum(cost < TARGET for cost in costs)
    print(f"{args.model} at {args.img_size} px, batch {args.batch_size}, {accel.device} "
          f"(amp {accel.amp}, channels-last {accel.channels_last}, compile {args.compile}), {args.workers} worker(s), "
          f"{torch.get_num_threads()} math thread(s), median (min to max) of {args.rounds} interleaved rounds of "
          f"{args.steps} steps, torch {torch.__version__}; {load_line()}")
    for label, key in (("synthetic input", "synthetic"), ("shard pipeline", "pipeline")):
        values = rates[key]  # "LABEL MEDIAN images/s (MIN to MAX)": gpu_check.sh reads the first two words
        print(f"  {label:<20} {median(values):.1f} images/s ({min(values):.1f} to {max(values):.1f})")
    print(f"  pipeline cost        {spread(costs)} %: target < {TARGET:.0f} % "
          f"{'met' if median(costs) < TARGET else 'NOT met'} on the median, "
          f"{under} of {len(costs)} rounds under it")


if __name__ == "__main__":
    main()
