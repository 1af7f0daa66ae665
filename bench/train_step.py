"""Training throughput: steps fed by the shard pipeline vs by one batch held on the device, and the loader alone.

The same Trainer (fdsl-vit preset: AdamW, mixup/cutmix, RandAugment, random
erasing) runs --steps steps on one batch of the pipeline that stays on the
device (synthetic input), then --steps steps on batches from the shard
pipeline with --workers workers; the two take turns for --rounds rounds.
Each timed window is exactly --steps steps, after --warmup untimed ones.
Every pipeline turn opens an epoch of its own with fresh workers and also
leaves untimed the batches those workers make ready at the start (the
DataLoader's prefetch, 2 per worker): so no batch made during the other
turn comes free, no epoch's start falls inside a window, and the window is
the pipeline's steady state. A round's pipeline cost is 1 - (pipeline
images/s) / (synthetic images/s) of that round; the table gives the median,
min and max over the rounds, and the verdict against the < 10 % target on
the median.

--loader-workers 1,4,8 adds the pipeline read alone, with no training step,
at each of those worker counts, in the same rounds: 2 batches per worker
untimed, then 4 per worker timed (samples/s, and per worker).

--gpu-augment, on by default where the device is a GPU as in fdsl-train,
leaves the workers only the crop; the rest of the augmentation runs in the
step, on the device, in both the synthetic and the fed turns.

    python bench/train_step.py                        # renders a FractalDB sample with fdsl-gen first
    python bench/train_step.py --workers 8 --batch-size 128 --loader-workers 1,4,8,16
    python bench/train_step.py --compile              # torch.compile'd model
    python bench/train_step.py --model resnet18 --img-size 32 --threads 1   # torch's math threads
"""
import argparse
import itertools
import json
import time
from pathlib import Path

import torch

from fdsl_train import dist, presets
from fdsl_train.data import shards
from fdsl_train.run import models
from fdsl_train.run.engine import Accel, Trainer
from fdsl_train.data.device_augment import worker_transform
from fdsl_train.data.loader import ShardLoader, ShardStream
from fdsl_train.data.reading import ShardFiles
from fdsl_train.data.transforms import train_transform

from common import check_rounds, interleaved, load_line, median, spread
from loader import CACHE, render_sample

TARGET = 10.0  # % of the synthetic rate the pipeline may cost
PREFETCH = 2  # batches each DataLoader worker makes ready ahead (torch's prefetch_factor default)
LOADER_WINDOW = 4  # timed batches per worker when the loader runs alone


STEP = itertools.count()  # the trainer's step numbers, which seed its per-step augmentation draws


def timed_steps(trainer: Trainer, batches, warmup: int, steps: int, device: torch.device) -> float:
    """Images per second over exactly `steps` steps, after `warmup` untimed ones."""
    batches = iter(batches)
    for images, labels, _ in itertools.islice(batches, warmup):
        trainer.step(images, labels, next(STEP))
    if device.type == "cuda":
        torch.cuda.synchronize()
    start, count = time.perf_counter(), 0
    for images, labels, _ in itertools.islice(batches, steps):
        loss = trainer.step(images, labels, next(STEP))
        count += len(labels)
    loss.item()  # waits for the device
    return count / (time.perf_counter() - start)


def ready_ahead(workers: int) -> int:
    """Batches a fresh epoch's workers make ready before the first is asked for."""
    return PREFETCH * max(1, workers)


def alone(loader: ShardLoader, epoch: int) -> float:
    """Samples per second of one fresh epoch's pipeline with no training step, after its start-up."""
    batches = iter(loader.epoch(epoch))
    for _ in itertools.islice(batches, ready_ahead(loader.workers)):
        pass
    start = time.perf_counter()
    count = sum(len(labels) for _, labels, _ in itertools.islice(batches, LOADER_WINDOW * max(1, loader.workers)))
    return count / (time.perf_counter() - start)


def open_pipeline(shardset, transform, batch_size: int, workers: int, pin_memory: bool) -> ShardLoader:
    stream = ShardStream(shardset, transform, read_shard=ShardFiles(shardset), batch_size=batch_size, workers=workers)
    return ShardLoader(stream, workers, pin_memory=pin_memory)


def check_epoch(loader: ShardLoader, needed: int, what: str) -> None:
    """A turn reads one epoch: refuse, with one line, an epoch too short to hold it."""
    if len(loader) < needed:
        raise SystemExit(f"{loader.num_samples} samples give {len(loader)} batches per epoch; {what} needs {needed} "
                         "in one epoch: use more data or fewer steps or workers")


def workers_list(text: str) -> list:
    try:
        counts = [int(part) for part in text.split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: worker counts separated by commas, e.g. 1,4,8") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: worker counts of at least 1")
    return counts


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
    parser.add_argument("--loader-workers", type=workers_list, default=[],
                        help="also the loader alone at these worker counts, e.g. 1,4,8,16")
    parser.add_argument("--threads", type=int, default=None, help="torch's math threads (default: torch's)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (warm-up compiles it)")
    parser.add_argument("--gpu-augment", action=argparse.BooleanOptionalAction, default=None,
                        help="workers only crop, the device does the rest, as fdsl-train's option [on for a GPU]")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
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
    accel = Accel.choose(dist.setup(ranks), None, None, args.gpu_augment)
    model = models.create(preset.model, num_classes=shardset.num_classes, img_size=preset.img_size)
    layout = torch.channels_last if accel.channels_last else torch.contiguous_format
    model = model.to(accel.device, memory_format=layout)
    trainer = Trainer(torch.compile(model) if args.compile else model, preset, num_classes=shardset.num_classes,
                      updates_per_epoch=1000, global_batch=args.batch_size, accel=accel, ranks=ranks)
    transform = worker_transform(preset) if accel.gpu_augment else train_transform(preset)  # as fdsl-train's
    fed = open_pipeline(shardset, transform, args.batch_size, args.workers, pin_memory=accel.device.type == "cuda")
    pipeline_warmup = args.warmup + ready_ahead(args.workers)
    check_epoch(fed, pipeline_warmup + args.steps, f"a pipeline turn ({pipeline_warmup} untimed + {args.steps} steps)")
    readers = {count: open_pipeline(shardset, transform, args.batch_size, count, pin_memory=False)
               for count in args.loader_workers}
    for count, reader in readers.items():
        check_epoch(reader, (PREFETCH + LOADER_WINDOW) * count, f"the loader alone with {count} worker(s)")
    epochs = itertools.count()  # each turn reads an epoch of its own
    # one batch of the pipeline, held on the device: the step gets what the pipeline would give it
    images, labels, _ = next(iter(fed.epoch(next(epochs))))
    synthetic_batch = (images.to(accel.device), labels.to(accel.device), [])
    contenders = {
        "synthetic": lambda: timed_steps(trainer, itertools.repeat(synthetic_batch), args.warmup, args.steps,
                                         accel.device),
        "pipeline": lambda: timed_steps(trainer, fed.epoch(next(epochs)), pipeline_warmup, args.steps, accel.device),
    }
    for count, reader in readers.items():
        contenders[count] = lambda reader=reader: alone(reader, next(epochs))
    rates = interleaved(contenders, args.rounds)
    costs = [100 * (1 - fed_rate / synthetic) for fed_rate, synthetic in zip(rates["pipeline"], rates["synthetic"])]
    under = sum(cost < TARGET for cost in costs)
    print(f"{args.model} at {args.img_size} px, batch {args.batch_size}, {accel.device} "
          f"(amp {accel.amp}, channels-last {accel.channels_last}, gpu-augment {accel.gpu_augment}, "
          f"compile {args.compile}), {args.workers} worker(s), "
          f"{torch.get_num_threads()} math thread(s), median (min to max) of {args.rounds} interleaved rounds of "
          f"{args.steps} steps, torch {torch.__version__}; {load_line()}")
    for label, key in (("synthetic input", "synthetic"), ("shard pipeline", "pipeline")):
        values = rates[key]
        print(f"  {label:<26} {median(values):.1f} images/s ({min(values):.1f} to {max(values):.1f})")
    print(f"  {'pipeline cost':<26} {spread(costs)} %: target < {TARGET:.0f} % "
          f"{'met' if median(costs) < TARGET else 'NOT met'} on the median, "
          f"{under} of {len(costs)} rounds under it")
    for count in readers:
        print(f"  {f'loader alone, {count} worker(s)':<26} {spread(rates[count])} samples/s, "
              f"{median(rates[count]) / count:.1f} per worker")
    if args.json:
        args.json.write_text(json.dumps({
            "device": str(accel.device), "gpu_augment": accel.gpu_augment, "model": args.model,
            "img_size": args.img_size, "batch_size": args.batch_size, "workers": args.workers, "steps": args.steps,
            "rounds": args.rounds,
            "synthetic": rates["synthetic"], "pipeline": rates["pipeline"], "pipeline_cost": costs,
            "loader": {str(count): rates[count] for count in readers}}, indent=2))


if __name__ == "__main__":
    main()
