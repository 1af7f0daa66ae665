"""Render throughput with 1 and 2 local workers and a 2-worker Dask LocalCluster.

The same FractalDB render (official recipe, `--categories` categories from the
seed-1 search, `--shards` shards of 1000 images) runs on each engine into a
fresh folder, the engines taking turns for --rounds rounds; the table gives
images/s (wall: scaling is a wall-clock gain) and the ratio to one worker of
the same round, as medians with their min and max, and checks that every
folder holds byte-identical shards. A last row measures the machine itself
in each round: the same pure-Python busy loop run twice in one process and
once in each of two processes, the most any 2-worker engine can gain here
while other jobs share the cores.

    .venv/bin/python bench/scale_out.py [--categories 100] [--shards 8] [--rounds 3]
"""
import argparse
import hashlib
import multiprocessing
import tempfile
import time
from pathlib import Path

import numpy as np
from distributed import LocalCluster

from fdsl_gen.formulas.ifs_search import search
from fdsl_gen.plan import Plan
from fdsl_gen.configs import FractalDBConfig
from fdsl_gen.recipes.fractaldb import FractalDB
from fdsl_gen.runner import render_shards
from fdsl_gen.shardwriter import RECORDS

from common import check_rounds, interleaved, load_line, ratio_spread, spread


def timed_render(recipe, plan, folder, tasks, workers=1, scheduler=None):
    (folder / RECORDS).mkdir(parents=True)
    started = time.perf_counter()
    records = render_shards(recipe, plan, folder, "fractaldb", "bench", tasks, workers, quiet=True, scheduler=scheduler)
    seconds = time.perf_counter() - started
    digest = hashlib.sha256("".join(r["sha256"] for r in records).encode()).hexdigest()
    return sum(r["samples"] for r in records) / seconds, digest


def busy(_=None, steps=20_000_000):
    total = 0
    for i in range(steps):
        total += i * i
    return total


def machine_scaling():
    """Speed-up of two processes over one on a pure CPU loop."""
    started = time.perf_counter()
    busy(), busy()
    one = time.perf_counter() - started
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(busy, range(2))
    return one / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--categories", type=int, default=100)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    check_rounds(args.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "params").mkdir()
        for i, (system, _) in enumerate(search(args.categories)[0]):
            np.savetxt(tmp / "params" / f"{i:05d}.csv", system, delimiter=",")
        recipe = FractalDB(FractalDBConfig(params=str(tmp / "params")), seed=1)
        plan = Plan.of(recipe, 1, 1000)
        tasks = [("train", i) for i in range(args.shards)]
        timed_render(recipe, Plan(1, 4, 4, 0, 4), tmp / "warmup", [("train", 0)])  # numba compile
        folders = iter(range(10 ** 6))
        print(f"FractalDB official recipe, {args.shards} shards of 1000 images, {args.categories} categories; "
              f"median (min to max) of {args.rounds} interleaved rounds; {load_line()}")
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            # Each worker process compiles the numba kernels once (a local pool forks them compiled):
            # keep that out of the clock with a round of full shards on both workers.
            timed_render(recipe, plan, tmp / "warm-dask", tasks[:4], scheduler=cluster.scheduler_address)
            engines = {
                "local, 1 worker": lambda: timed_render(recipe, plan, tmp / f"{next(folders)}", tasks, 1),
                "local, 2 workers": lambda: timed_render(recipe, plan, tmp / f"{next(folders)}", tasks, 2),
                "dask LocalCluster, 2 workers": lambda: timed_render(recipe, plan, tmp / f"{next(folders)}", tasks,
                                                                     scheduler=cluster.scheduler_address),
                "machine: busy loop, 2 procs": lambda: (machine_scaling(), None),
            }
            results = interleaved(engines, args.rounds)
    base = [rate for rate, _ in results["local, 1 worker"]]
    print("| engine | images/s | vs 1 worker, round by round |\n| --- | --- | --- |")
    for label, runs in results.items():
        rates = [rate for rate, _ in runs]
        if label.startswith("machine"):
            print(f"| {label} | | {spread(rates, 2)}x |")
        else:
            print(f"| {label} | {spread(rates)} | {ratio_spread(rates, base)} |")
    digests = {digest for label, runs in results.items() for _, digest in runs if digest}
    print(f"byte-identical shards across all {args.rounds * 3} renders: {len(digests) == 1}")
    print(f"{load_line()} at the end")

if __name__ == "__main__":
    main()
