"""Loader throughput: fdsl_train's shard pipeline vs torchvision ImageFolder over the same images.

The images are written out as PNG files twice: as RGB PNGs with R=G=B (the
layout the FractalDB reference code writes) and as the shards' own
single-channel PNG bytes. Each loader reads every image once with the same
transform and the same worker count; the page cache is warmed for all three.
The loaders take turns for --rounds rounds, after one untimed epoch each
(the shard workers' forkserver starts and imports torch once per trainer,
not once per epoch); each figure is the median, min
and max over the rounds of samples/s per worker (wall) and of CPU
milliseconds per sample (user + system of the bench and its workers, the
forkserver's included), and
the ratio to the RGB files is taken round by round.

With --gpu-augment the contenders are the shard loader with the preset's
whole transform in the workers (the CPU path), the same with only the
workers' part of --gpu-augment (decode, crop, uint8 tensor), and the CPU path
of the plain RandomCrop (fractaldb-resnet) as the floor to stay above. The
device's part (fdsl_train.data.device_augment: flips, RandAugment, jitter,
Normalize, erasing) runs afterwards on CPU in the main process over the
batches the workers gave, timed on its own: its CPU ms per sample is what the
device would take over; mixup runs on the device on both paths and is left out.

    python bench/loader.py                      # renders a FractalDB sample with fdsl-gen first
    python bench/loader.py --data shards/fractaldb --workers 2
    python bench/loader.py --preset fdsl-vit --gpu-augment
"""
import argparse
import subprocess
import sys
from pathlib import Path

import torch
import webdataset as wds
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder

from fdsl_train import presets
from fdsl_train.data import shards
from fdsl_train.data.decode import decode_image
from fdsl_train.data.device_augment import DeviceAugment, seeded_draws, worker_transform
from fdsl_train.data.loader import ShardLoader, ShardStream
from fdsl_train.data.reading import ShardFiles
from fdsl_train.data.transforms import train_transform

from common import check_rounds, interleaved, load_line, ratio_spread, spread, timed

CACHE = Path("runs/bench")
DEVICE_BATCHES = 8  # batches the device part of --gpu-augment is timed over


def render_sample(folder: Path, categories: int, per_category: int) -> None:
    """A FractalDB sample at the published resolution (362 px, 200k points, patch drawing)."""
    subprocess.run([sys.executable, "-m", "fdsl_gen", "render", "fractaldb", "--search",
                    "--categories", str(categories),
                    "--instances", str(per_category), "--size", "362", "--samples-per-shard", "500",
                    "--out", str(folder), "--quiet"], check=True)


def export_folders(shardset: shards.ShardSet, root: Path) -> tuple:
    """root/rgb and root/grey ImageFolder trees holding every sample of the shards."""
    rgb, grey = root / "rgb", root / "grey"
    if (root / "done").exists():
        return rgb, grey
    for sample in wds.tarfile_samples({"url": url} for url in shardset.urls):
        name = f"{int(sample['cls']):05d}/{sample['__key__']}.png"
        for tree in (rgb, grey):
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
        decode_image(sample["png"]).convert("RGB").save(rgb / name)  # as the reference writes its images
        (grey / name).write_bytes(sample["png"])
    (root / "done").touch()
    return rgb, grey


def warm(paths) -> None:
    for path in paths:
        path.read_bytes()


def throughput(make_batches):
    """(samples/s, CPU s per sample) of one epoch; the DataLoader joins its workers at the end."""
    count, wall, cpu = timed(lambda: sum(len(batch[1]) for batch in make_batches()))
    return count / wall, cpu / count


def device_stage(preset, batches) -> float:
    """CPU seconds per sample of the device's part of --gpu-augment, run here on CPU over `batches`."""
    augment = DeviceAugment(preset, torch.device("cpu"))

    def run():
        for step, (images, _, _) in enumerate(batches):
            with seeded_draws(step):
                augment(images)
    _, _, cpu = timed(run)
    return cpu / sum(len(labels) for _, labels, _ in batches)


def gpu_augment_rounds(args, shardset) -> None:
    """The CPU path, the workers' part of --gpu-augment (then its device part in this process) and the
    RandomCrop CPU path, taking turns; one table."""
    preset, floor = presets.PRESETS[args.preset], presets.PRESETS["fractaldb-resnet"]
    workers = max(1, args.workers)

    def loader(transform):
        stream = ShardStream(shardset, transform, read_shard=ShardFiles(shardset), batch_size=args.batch_size,
                             workers=args.workers, seed=0)
        return lambda: ShardLoader(stream, args.workers).epoch(0)

    crops = loader(worker_transform(preset))

    def worker_part():
        kept = []  # the first batches, for the device part: enough for a figure per sample, little shared memory

        def epoch():
            for batch in crops():
                if len(kept) < DEVICE_BATCHES:
                    kept.append(batch)
                yield batch
        return throughput(epoch) + (device_stage(preset, kept),)

    contenders = {
        f"CPU path, {args.preset}": lambda make=loader(train_transform(preset)): throughput(make) + (None,),
        f"--gpu-augment, {args.preset}": worker_part,
        "CPU path, fractaldb-resnet (RandomCrop only)": lambda make=loader(train_transform(floor)): (
            throughput(make) + (None,)),
    }
    results = interleaved(contenders, args.rounds, warmup=1)
    print(f"{shardset.num_samples} images, {workers} worker(s), batch {args.batch_size}, median (min to max) of "
          f"{args.rounds} interleaved rounds, torch {torch.__version__}, {torch.get_num_threads()} torch threads in "
          f"the main process; {load_line()}")
    print("| loader | samples/s per worker (wall) | CPU ms per sample (workers and main) | samples per CPU second | "
          "device part on CPU, ms per sample | CPU path / this, CPU |")
    print("| --- | --- | --- | --- | --- | --- |")
    base = [1e3 * c for _, c, _ in results[f"CPU path, {args.preset}"]]
    for label, runs in results.items():
        rates, cpu, device = [r for r, _, _ in runs], [1e3 * c for _, c, _ in runs], [d for _, _, d in runs]
        device_text = spread([1e3 * d for d in device], 2) if device[0] is not None else "-"
        print(f"| {label} | {spread([rate / workers for rate in rates])} | {spread(cpu, 2)} | "
              f"{spread([1e3 / c for c in cpu], 0)} | {device_text} | {ratio_spread(base, cpu)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=CACHE / "fractaldb-362")
    parser.add_argument("--categories", type=int, default=20)
    parser.add_argument("--per-category", type=int, default=100)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--preset", default="fractaldb-resnet", choices=presets.names())
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gpu-augment", action="store_true",
                        help="Workers' part of --gpu-augment against the CPU path; the device part on CPU here.")
    args = parser.parse_args()
    check_rounds(args.rounds)
    if not (args.data / "manifest.json").exists():
        render_sample(args.data, args.categories, args.per_category)
    shardset = shards.resolve(str(args.data))
    if args.gpu_augment:
        warm(Path(u) for u in shardset.urls)
        gpu_augment_rounds(args, shardset)
        return
    rgb, grey = export_folders(shardset, args.data.parent / (args.data.name + "-files"))
    warm([Path(u) for u in shardset.urls] + list(rgb.rglob("*.png")) + list(grey.rglob("*.png")))
    transform = train_transform(presets.PRESETS[args.preset])
    workers = max(1, args.workers)
    stream = ShardStream(shardset, transform, read_shard=ShardFiles(shardset), batch_size=args.batch_size,
                         workers=args.workers, seed=0)
    loaders = {"shards (1-channel PNG in tar)": lambda: ShardLoader(stream, args.workers).epoch(0)}
    for label, tree in (("ImageFolder, RGB PNG files", rgb), ("ImageFolder, 1-channel PNG files", grey)):
        dataset = ImageFolder(str(tree), transform=transform)
        loaders[label] = lambda dataset=dataset: DataLoader(
            dataset, batch_size=args.batch_size, shuffle=True, num_workers=args.workers, drop_last=True)
    results = interleaved({label: lambda make=make: throughput(make) for label, make in loaders.items()},
                          args.rounds, warmup=1)
    size = Image.open(next(rgb.rglob("*.png"))).size[0]
    print(f"{shardset.num_samples} images of {size} px, transform of preset {args.preset}, "
          f"{workers} worker(s), batch {args.batch_size}, median (min to max) of {args.rounds} interleaved rounds, "
          f"torch {torch.__version__}; {load_line()}")
    print("| loader | samples/s per worker | CPU ms per sample | shards / this, samples/s | this / shards, CPU |")
    print("| --- | --- | --- | --- | --- |")
    base = results["shards (1-channel PNG in tar)"]
    for label, runs in results.items():
        rates, cpu = [rate for rate, _ in runs], [1e3 * c for _, c in runs]
        print(f"| {label} | {spread([rate / workers for rate in rates])} | {spread(cpu, 2)} | "
              f"{ratio_spread([rate for rate, _ in base], rates)} | {ratio_spread(cpu, [1e3 * c for _, c in base])} |")


if __name__ == "__main__":
    main()
