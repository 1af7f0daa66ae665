"""Live rendering against the shard loader, and against catalys1/fractal-pretraining's on-the-fly generator.

Loader rows: for each recipe (FractalDB with the official recipe, 1p-frac,
RCDB, ExFractalDB) a small dataset is rendered with fdsl-gen; one epoch of
fdsl_train's shard loader over its shards is timed against one epoch of the
live source that renders the same samples (`--data live:FOLDER`), with the
same transform, batch size and workers. Samples/s per worker (each worker
is one process on one core).

Generator rows, one process each, no transform: fdsl's FractalDB render
(the official recipe: 362 px, 200k points, patch masks, 4 flips per
canvas; and at the baseline's 224 px and 100k points) against
catalys1/fractal-pretraining's `IFSGenerator` (WACV 2022) with its
defaults (224 px, 100k iterations, parameter jitter, random flips,
colour, diamond-square background, blur), run from a checkout of that
repository (its code is imported from there, not copied; systems drawn by
its `ifs.sample_system` with 2 to 4 maps).

    git clone https://github.com/catalys1/fractal-pretraining /tmp/catalys1
    python bench/live.py --baseline-repo /tmp/catalys1
    python bench/live.py --baseline-repo /tmp/catalys1 --classes 8 --per-class 40 --baseline-images 40
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from fdsl_train import presets
from fdsl_train.data import live
from fdsl_train.data.datasets import create_reader, resolve
from fdsl_train.data.loader import ShardLoader, ShardStream
from fdsl_train.data.transforms import train_transform

WORK = Path("runs/bench/live")
# Each recipe's dataset: its render options besides the class and instance counts.
RECIPES = {
    "fractaldb": ["--search"],  # the official recipe: 362 px, 200k points, patch_gray, weight rows, flips
    "1p-frac": [],
    "rcdb": [],
    "exfractaldb": ["--search"],
}
CLASS_OPTION = {"1p-frac": "--classes"}


def render(recipe: str, folder: Path, classes: int, per_class: int) -> None:
    if (folder / "manifest.json").exists():
        return
    subprocess.run([sys.executable, "-m", "fdsl_gen", "render", recipe, *RECIPES[recipe],
                    CLASS_OPTION.get(recipe, "--categories"), str(classes), "--instances", str(per_class),
                    "--samples-per-shard", str(max(1, classes * per_class // 8)), "--workers", "1",
                    "--out", str(folder), "--quiet"], check=True)


def epoch_rate(loader: ShardLoader) -> float:
    """Samples/s of one epoch (the workers' start included, as a training epoch pays it)."""
    start, count = time.perf_counter(), 0
    for batch in loader.epoch(0):
        count += len(batch[1])
    return count / (time.perf_counter() - start)


def loader_rows(args, transform) -> list:
    rows = []
    for recipe in RECIPES:
        folder = WORK / recipe
        render(recipe, folder, args.classes, args.per_class)
        sources = {"shards": resolve(str(folder)), "live": resolve(f"live:{folder}")}
        loaders = {}
        for name, shardset in sources.items():
            stream = ShardStream(shardset, transform, read_shard=create_reader(shardset), batch_size=args.batch_size,
                                 workers=args.workers, seed=0)
            loaders[name] = ShardLoader(stream, args.workers)
        best = {name: 0.0 for name in loaders}
        for _ in range(args.rounds):  # interleaved, best of each: other load on the machine hits both alike
            for name, loader in loaders.items():
                best[name] = max(best[name], epoch_rate(loader))
        rows.append((recipe, sources["shards"].num_samples, best["shards"], best["live"]))
    return rows


def render_rate(dataset, limit: int) -> float:
    """Images/s of fdsl's live render alone, shard by shard (after the first), in this process."""
    start, count, index = time.perf_counter(), 0, 1
    while count < limit:
        count += len(dataset.shard("train", index % len(dataset.shard_sizes("train"))))
        index += 1
    return count / (time.perf_counter() - start)


def baseline(repo: Path):
    """catalys1's IFSGenerator class and its `ifs` module, imported from a checkout of the repository."""
    sys.path.insert(0, str(repo))
    from fractal_learning.fractals import ifs  # noqa: E402 (the baseline's own package)
    path = repo / "fractal_learning/training/datamodule/datasets/generator.py"
    spec = importlib.util.spec_from_file_location("catalys1_generator", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the generator module alone: its package pulls in pytorch-lightning
    return module.IFSGenerator, ifs


def baseline_rate(repo: Path, images: int) -> float:
    generator_class, ifs = baseline(repo)
    generator = generator_class()
    rng = np.random.default_rng(0)
    systems = [ifs.sample_system((2, 5), rng=rng) for _ in range(images)]
    generator(systems[0])  # numba compile, not timed
    start = time.perf_counter()
    for system in systems:
        generator(system)
    return images / (time.perf_counter() - start)


def generator_rows(args) -> list:
    # 100 images per category are its 25 weight variants x 4 flips: every canvas has a point set of its
    # own, as in a full-size dataset, so no row gains from the recipe's point-set cache
    sized = f"live:fractaldb?search&categories={args.classes}&instances=100&samples-per-shard=100"
    fdsl = {
        "fdsl FractalDB, official recipe (362 px, 200k points, 4 flips per canvas)": sized,
        "fdsl FractalDB at 224 px, 100k points": f"{sized}&size=224&points=100000",
    }
    rows = []
    for label, spec in fdsl.items():
        dataset = live.open_dataset(spec)
        dataset.shard("train", 0)  # compile and warm, not timed
        rows.append((label, render_rate(dataset, args.baseline_images * 4)))
    if args.baseline_repo:
        rows.append(("catalys1 IFSGenerator (224 px, 100k iterations)",
                     baseline_rate(args.baseline_repo, args.baseline_images)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=16)
    parser.add_argument("--per-class", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--preset", default="fractaldb-resnet", choices=presets.names())
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline-repo", type=Path, default=None,
                        help="a checkout of github.com/catalys1/fractal-pretraining")
    parser.add_argument("--baseline-images", type=int, default=100)
    args = parser.parse_args()
    if args.classes * args.per_class < 2 * args.batch_size:
        parser.error("--classes x --per-class must be at least two batches")
    torch.set_num_threads(1)
    transform = train_transform(presets.PRESETS[args.preset])
    workers = max(1, args.workers)
    print(f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {args.classes} classes x {args.per_class}, "
          f"transform of preset {args.preset}, {workers} worker(s), batch {args.batch_size}, "
          f"best of {args.rounds} epochs")
    print("| recipe | samples | shards, samples/s per worker | live, samples/s per worker | live / shards |")
    print("| --- | --- | --- | --- | --- |")
    for recipe, samples, shard_rate, live_rate in loader_rows(args, transform):
        print(f"| {recipe} | {samples} | {shard_rate / workers:.1f} | {live_rate / workers:.1f} | "
              f"{live_rate / shard_rate:.2f}x |")
    rows = generator_rows(args)
    base = rows[-1][1]
    print(f"\n| generator, one process | images/s | this / {rows[-1][0].split(' (')[0]} |")
    print("| --- | --- | --- |")
    for label, rate in rows:
        print(f"| {label} | {rate:.1f} | {rate / base:.2f}x |")
    print(f"load {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
