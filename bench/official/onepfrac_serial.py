"""Run 1p-frac's render_from_oneparam_mp.py unchanged, in one process, from a seeded base system.

    bench/official/build/venv/bin/python bench/official/onepfrac_serial.py SRC --seed S --base-csv OUT.csv \
        -- --img_basesavedir DIR --sample L

Why a wrapper, and why only these changes:
- the script maps its classes over `multiprocessing.Pool()`, one process per
  core; the bench compares one core with one core, so Pool is replaced by a
  map in this process;
- it samples its base system from an unseeded `np.random.default_rng()`, and
  its perturbations and patch masks from the unseeded `random`; how many
  perturbations a base rejects varies tenfold from base to base, so two runs
  would time different work. `utils.sample_system` gets a generator seeded
  with S, `random` is seeded with S, and the base drawn is written to OUT.csv
  as rows a,b,c,d,e,f,p (p = |det| / sum, as the script computes it) so
  that fdsl renders the same base (`--params OUT.csv`);
- the chaos games it runs (accepted and rejected perturbations) are counted
  and printed on stderr as `chaos games: N`.
The script then runs as __main__ with the arguments after `--`; nothing in
the checkout is edited.
"""
import argparse
import multiprocessing
import random
import runpy
import sys
from pathlib import Path

import numpy as np


class InProcessPool:
    """multiprocessing.Pool's context manager and map, run in this process."""

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, function, tasks, chunksize=None):
        return [function(task) for task in tasks]


def write_base(system, path):
    """The (n, 2, 3) affine maps of sample_system as rows a,b,c,d,e,f,p."""
    a, b, e = system[:, 0, 0], system[:, 0, 1], system[:, 0, 2]
    c, d, f = system[:, 1, 0], system[:, 1, 1], system[:, 1, 2]
    det = np.abs(a * d - b * c)
    np.savetxt(path, np.stack([a, b, c, d, e, f, det / det.sum()], axis=1), delimiter=",")


def main():
    argv, theirs = sys.argv[1:], []
    if "--" in argv:
        argv, theirs = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    parser = argparse.ArgumentParser(description="1p-frac's renderer, one process, seeded base system")
    parser.add_argument("src", type=Path, help="the checkout's 1p-frac_generater/src")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--base-csv", type=Path, required=True)
    args = parser.parse_args(argv)
    script = args.src / "render_from_oneparam_mp.py"
    if not script.exists():
        parser.error(f"{script} does not exist")
    sys.path.insert(0, str(args.src))
    import ifs_function
    import utils

    sample_system = utils.sample_system

    def seeded_system(*positional, **keywords):
        system, sigma = sample_system(*positional, **dict(keywords, rng=np.random.default_rng(args.seed)))
        write_base(system, args.base_csv)
        return system, sigma

    calculate, chaos_games = ifs_function.ifs_function.calculate, []

    def counted(self, iteration):
        chaos_games.append(1)
        return calculate(self, iteration)

    utils.sample_system = seeded_system
    ifs_function.ifs_function.calculate = counted
    multiprocessing.Pool = InProcessPool
    random.seed(args.seed)
    sys.argv = [str(script)] + theirs
    runpy.run_path(str(script), run_name="__main__")
    print(f"chaos games: {len(chaos_games)}", file=sys.stderr)


if __name__ == "__main__":
    main()
