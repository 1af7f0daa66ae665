"""FractalDB category search: fdsl vs the reference search, one run.

Runs the full official search (seed 1, fill 0.2, 100k points) for
`--categories` categories with fdsl, checks the result against files of the
published FractalDB-1k set, and times the reference algorithm (Python chaos
game, NumPy rescale, point image) on the first trials of the same stream;
the reference's total is its per-trial time x our trial count.

    .venv/bin/python bench/search_fractaldb.py [--categories 1000] [--reference-trials 30]
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference import fractaldb as ref  # noqa: E402
from fdsl_gen.formulas.ifs_search import draw_trial, search  # noqa: E402

# First and last values of three published FractalDB-1k files (seed 1).
PUBLISHED = {
    0: (1.724223243171234543e-01, 1.868740503886824611e-02),
    388: (1.416527694176206165e-01, 3.155462186558641302e-01),
    999: (-1.432041927728586739e-01, 1.556237103330107563e-01),
}


def reference_seconds_per_trial(trials):
    rs = np.random.RandomState(1)
    started = time.perf_counter()
    for _ in range(trials):
        system, u = draw_trial(rs, 100_000)
        ref.search_fill(system, u)
    return (time.perf_counter() - started) / trials


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--categories", type=int, default=1000)
    parser.add_argument("--reference-trials", type=int, default=30)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    search(1)  # numba compile outside the clock
    started = time.perf_counter()
    found, trials = search(args.categories, threads=args.threads)
    seconds = time.perf_counter() - started
    per_trial = reference_seconds_per_trial(args.reference_trials)
    print(f"FractalDB search, seed 1, {args.categories} categories, {trials} trials, {args.threads} threads")
    print(f"{'':<24}{'fdsl':>12}{'reference':>14}{'ratio':>10}")
    print(f"{'seconds per trial':<24}{seconds / trials * 1e3:>10.3f}ms{per_trial * 1e3:>12.1f}ms"
          f"{per_trial * trials / seconds:>9.0f}x")
    print(f"{'total':<24}{seconds:>11.1f}s{per_trial * trials / 60:>11.1f}min")
    for index, (first, last) in PUBLISHED.items():
        if index < len(found):
            system = found[index][0]
            same = system[0, 0] == first and system[-1, -1] == last
            print(f"category {index:05d} equals the published file: {same}")


if __name__ == "__main__":
    main()
