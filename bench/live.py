"""Live rendering against the shard loader, and fdsl's FractalDB generator against catalys1's, per core.

Loader rows: for each recipe (FractalDB with the official recipe, 1p-frac,
RCDB, ExFractalDB) a small dataset is rendered with fdsl-gen; one epoch of
fdsl_train's shard loader over its shards takes turns with one epoch of the
live source that renders the same samples (`--data live:FOLDER`), with the
same transform, batch size and workers, for --rounds rounds, after one
untimed epoch each (the workers' forkserver starts once per trainer). Each
epoch gives samples/s per worker (wall, the workers' start included, as a
training epoch pays it) and CPU milliseconds per sample (user + system of
the bench and its worker processes, the forkserver's included).

Generator rows: one process and one thread on each side, CPU seconds (user
+ system) per image and per chaos game, at two settings, each side at the
same image size and point count: 362 px and 200k points (FractalDB's
official recipe) and 224 px and 100k points (catalys1's defaults). fdsl's
FractalDB recipe runs one chaos game per canvas and writes its 4 flips as 4
images; each round it renders virtual shards it has not drawn before, of 25
canvases each, enough for --chaos-games canvases (every canvas has a point
set of its own: 100 images per category are its 25 weight rows x 4 flips),
and counts the distinct canvases it drew. catalys1/fractal-pretraining's `IFSGenerator` (WACV 2022)
runs one chaos game per image and adds colour, a diamond-square background
and blur; it runs unchanged from its pinned checkout (bench/official/pins.py)
under the official venv's interpreter, through bench/catalys1_generator.py,
for --chaos-games images a round, turn about with fdsl.

    python bench/official/setup.py           # the pinned checkouts and the official venv, once
    python bench/live.py
    python bench/live.py --classes 8 --per-class 40 --chaos-games 40 --rounds 3
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from common import check_rounds, interleaved, load_line, ratio_spread, spread, timed
from fdsl_gen.live import open_live
from fdsl_train import presets
from fdsl_train.data.datasets import create_reader, resolve
from fdsl_train.data.loader import ShardLoader, ShardStream
from fdsl_train.data.transforms import train_transform
from official import pins

WORK = Path("runs/bench/live")
BASELINE = Path(__file__).resolve().parent / "catalys1_generator.py"
BASELINE_TIMEOUT = 1800  # seconds for one round of the baseline; a round takes under a minute here
# Each recipe's dataset: its render options besides the class and instance counts.
RECIPES = {
    "fractaldb": ["--search"],  # the official recipe: 362 px, 200k points, patch_gray, weight rows, flips
    "1p-frac": [],
    "rcdb": [],
    "exfractaldb": ["--search"],
}
CLASS_OPTION = {"1p-frac": "--classes"}
# Generator settings: fdsl's live spec options beyond the official recipe, and the size and
# chaos-game iterations the baseline runs at.
SETTINGS = {
    "362 px, 200k points": ("", 362, 200_000),
    "224 px, 100k points": ("&size=224&points=100000", 224, 100_000),
}
CANVASES_PER_SHARD = 25  # 100 images a virtual shard, 4 flips a canvas


def render(recipe: str, folder: Path, classes: int, per_class: int) -> None:
    if (folder / "manifest.json").exists():
        return
    subprocess.run([sys.executable, "-m", "fdsl_gen", "render", recipe, *RECIPES[recipe],
                    CLASS_OPTION.get(recipe, "--categories"), str(classes), "--instances", str(per_class),
                    "--samples-per-shard", str(max(1, classes * per_class // 8)), "--workers", "1",
                    "--out", str(folder), "--quiet"], check=True)


def epoch(loader: ShardLoader):
    """(samples/s, CPU s per sample) of one epoch; its workers are joined when the epoch ends."""
    count, wall, cpu = timed(lambda: sum(len(batch[1]) for batch in loader.epoch(0)))
    return count / wall, cpu / count


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
        results = interleaved({name: lambda loader=loader: epoch(loader) for name, loader in loaders.items()},
                              args.rounds, warmup=1)
        rows.append((recipe, sources["shards"].num_samples, results["shards"], results["live"]))
    return rows


def fdsl_round(dataset, shards: range):
    """(CPU s per image, CPU s per chaos game) of rendering `shards`, chaos games counted as distinct canvases."""
    samples, _, cpu = timed(lambda: [meta for index in shards for _, _, meta in dataset.shard("train", index)])
    canvases = {(meta["category"], meta["weight"], meta["count"]) for meta in samples}
    return cpu / len(samples), cpu / len(canvases)


def baseline_round(args, size: int, niter: int, seed: int, numba_cache: str):
    """(CPU s per image, CPU s per chaos game) of catalys1's generator: one chaos game per image."""
    env = dict(os.environ, NUMBA_CACHE_DIR=numba_cache, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    try:
        done = subprocess.run([str(args.baseline_python), str(BASELINE), str(args.baseline_repo), "--images",
                               str(args.chaos_games), "--size", str(size), "--niter", str(niter), "--seed", str(seed)],
                              env=env, capture_output=True, text=True, timeout=BASELINE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"live: catalys1's generator ran more than {BASELINE_TIMEOUT} s") from None
    if done.returncode:
        raise SystemExit(f"live: catalys1's generator failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    result = json.loads(done.stdout.splitlines()[-1])
    args.baseline_versions = result["versions"]
    per_image = result["cpu_s"] / result["images"]
    return per_image, per_image


def generator_rows(args) -> list:
    per_round = -(-args.chaos_games // CANVASES_PER_SHARD)
    categories = 1 + args.rounds * per_round  # one shard each; shard 0 warms up, no round draws a shard twice
    rows = []
    with tempfile.TemporaryDirectory() as numba_cache:
        for label, (options, size, niter) in SETTINGS.items():
            dataset = open_live(f"fractaldb?search&categories={categories}&instances=100&samples-per-shard=100"
                                f"{options}")
            dataset.shard("train", 0)  # compile and warm, not timed
            fdsl_turns, baseline_turns = iter(range(args.rounds)), iter(range(args.rounds))
            results = interleaved({
                "fdsl": lambda: fdsl_round(dataset, shards_of_round(next(fdsl_turns), per_round)),
                "catalys1": lambda: baseline_round(args, size, niter, next(baseline_turns), numba_cache),
            }, args.rounds)
            rows.append((label, results["fdsl"], results["catalys1"]))
    return rows


def shards_of_round(turn: int, per_round: int) -> range:
    return range(1 + turn * per_round, 1 + (turn + 1) * per_round)


def check_baseline(args) -> None:
    """Refuse, before any work, a baseline checkout off its pin or a missing official interpreter."""
    args.baseline_repo = pins.checkout("catalys1", args.official_root)
    missing = subprocess.run([str(args.baseline_python), "-c", "import cv2, numba, numpy"], capture_output=True,
                             text=True) if Path(args.baseline_python).exists() else None
    if missing is None or missing.returncode:
        why = "it is missing" if missing is None else missing.stderr.strip().splitlines()[-1]
        raise SystemExit(f"live: the baseline's interpreter {args.baseline_python} cannot run catalys1's generator "
                         f"({why}): it needs numpy, numba and OpenCV; run `python bench/official/setup.py`, "
                         "or give --baseline-python")


def print_loader(rows, workers: int) -> None:
    print("| recipe | samples | shards, samples/s per worker | live, samples/s per worker | live / shards "
          "| shards, CPU ms per sample | live, CPU ms per sample | live / shards, CPU per sample |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for recipe, samples, shards, live in rows:
        shard_rates, shard_cpu = [r for r, _ in shards], [1e3 * c for _, c in shards]
        live_rates, live_cpu = [r for r, _ in live], [1e3 * c for _, c in live]
        print(f"| {recipe} | {samples} | {spread([r / workers for r in shard_rates])} | "
              f"{spread([r / workers for r in live_rates])} | {ratio_spread(live_rates, shard_rates)} | "
              f"{spread(shard_cpu, 2)} | {spread(live_cpu, 2)} | {ratio_spread(live_cpu, shard_cpu)} |")


def print_generators(rows) -> None:
    print("| setting | fdsl, CPU ms per image | fdsl, CPU ms per chaos game | catalys1, CPU ms per image "
          "(= per chaos game) | catalys1 / fdsl, per image | catalys1 / fdsl, per chaos game |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, fdsl, baseline in rows:
        fdsl_image, fdsl_game = [1e3 * i for i, _ in fdsl], [1e3 * g for _, g in fdsl]
        base_image, base_game = [1e3 * i for i, _ in baseline], [1e3 * g for _, g in baseline]
        print(f"| {label} | {spread(fdsl_image, 2)} | {spread(fdsl_game, 2)} | {spread(base_image, 2)} | "
              f"{ratio_spread(base_image, fdsl_image)} | {ratio_spread(base_game, fdsl_game)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=16)
    parser.add_argument("--per-class", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--preset", default="fractaldb-resnet", choices=presets.names())
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chaos-games", type=int, default=100, help="chaos games per side and round")
    parser.add_argument("--official-root", type=Path, default=pins.BUILD,
                        help="the folder holding catalys1/, the checkout of github.com/catalys1/fractal-pretraining "
                             "at its pinned commit")
    parser.add_argument("--baseline-python", type=Path, default=pins.PYTHON,
                        help="the interpreter the baseline runs under (numpy, numba, OpenCV)")
    parser.add_argument("--skip-loader", action="store_true", help="the generator rows alone")
    args = parser.parse_args()
    check_rounds(args.rounds)
    if args.classes * args.per_class < 2 * args.batch_size:
        parser.error("--classes x --per-class must be at least two batches")
    if args.chaos_games < 1:
        parser.error("--chaos-games must be at least 1")
    check_baseline(args)
    torch.set_num_threads(1)
    workers = max(1, args.workers)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {load_line()}, torch {torch.__version__}")
    if not args.skip_loader:
        print(f"loader: {args.classes} classes x {args.per_class}, transform of preset {args.preset}, "
              f"{workers} worker(s), batch {args.batch_size}; median (min to max) of {args.rounds} interleaved epochs")
        print_loader(loader_rows(args, train_transform(presets.PRESETS[args.preset])), workers)
    print(f"\ngenerators, one process and one thread each: {args.chaos_games} chaos games per side and round; "
          f"median (min to max) of {args.rounds} interleaved rounds; {load_line()}")
    print_generators(generator_rows(args))
    print("catalys1 ran under " + ", ".join(f"{name} {version}" for name, version in args.baseline_versions.items()))
    print(f"{load_line()} at the end")


if __name__ == "__main__":
    main()
