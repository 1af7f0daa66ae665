"""Where a steady image's CPU time goes, per family: draw, encode, tar, hashes and the rest.

    .venv/bin/python bench/split.py [--family all|NAME] [--rounds 3]

Each family renders a small and a large dataset with `render_dataset`
(--workers 1, NUMBA_NUM_THREADS=1, in this process, kernels warm) that share
their categories and differ in images; steady is (large - small) / (their
difference in images), so set-up, start-up and the per-dataset part of
finalize drop out, as in bench/official_compare.py. The stages are timed
inside the same runs, as the pipeline calls them:
- draw: building the recipe (its classes' set-up: searches, the chaos games
  that test a 1p-frac class, blank checks) and its `render_group` (the
  images of one group, as arrays); set-up is per image where the large run
  has more classes (1p-frac, real1p), and drops out where it has more
  images of the same classes;
- encode: `encode_png` (array to PNG bytes);
- tar: `tar_blocks` (a shard's samples to the pieces of its tar);
- hashes: every sha256 (shard records, SHA256SUMS, resume checks);
- rest: the remainder (plan, sample json, writes, records, read-back at finalize).
CPU seconds are this process's user + system time. Printed per family: the
median over rounds of each part, in ms per image and as a share.
"""
import argparse
import contextlib
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":  # one core, as bench/official_compare.py runs fdsl: set before numba is imported
    os.environ.update(NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import check_rounds, load_line, median  # noqa: E402

import fdsl_gen.pipeline  # noqa: E402
import fdsl_gen.renderer  # noqa: E402
import fdsl_gen.shardwriter  # noqa: E402
from fdsl_gen.pipeline import RunOptions, render_dataset  # noqa: E402
from fdsl_gen.registry import lookup  # noqa: E402

STAGES = ("draw", "encode", "tar", "hashes")


def photo():
    import skimage.data
    return str(Path(skimage.data.data_dir) / "astronaut.png")


# name: (options of both runs, the option that differs, its small and large values); every small run fills
# the preview's 8 x 8 thumbnails as far as its classes allow, so that the preview's cost drops out too
FAMILIES = {
    "fractaldb": ({"search": True, "categories": 2, "size": 362, "points": 200_000}, "instances", 8, 200),
    "ofdb": ({"search": True, "categories": 2}, "instances", 8, 100),
    "1p-frac": ({}, "classes", 8, 100),
    "real1p": ({"image": photo}, "classes", 8, 100),
    "exfractaldb": ({"search": True, "categories": 1}, "instances", 12, 600),
    "mvfractaldb": ({"search": True, "categories": 1}, "instances", 12, 600),
    "rcdb": ({"categories": 20, "size": 512, "min_ink": 0}, "instances", 8, 200),
    "visualatom": ({"categories": 20, "size": 512, "min_ink": 0}, "instances", 8, 100),
    "perlin": ({"categories": 4}, "instances", 8, 200),
    "bezier": ({"categories": 4}, "instances", 8, 200),
}


class Clock:
    """CPU seconds spent inside each stage; a stage inside another is counted once, by the outer one."""

    def __init__(self):
        self.spent = dict.fromkeys(STAGES, 0.0)
        self.inside = False

    def timed(self, stage, work):
        def run(*args, **kwargs):
            if self.inside:
                return work(*args, **kwargs)
            self.inside, started = True, time.process_time()
            try:
                return work(*args, **kwargs)
            finally:
                self.spent[stage] += time.process_time() - started
                self.inside = False
        return run


def timed_sha256(clock, sha256):
    """hashlib.sha256 whose hashing, at creation or by update(), counts as the hashes stage."""
    class TimedHash:
        def __init__(self, *args, **kwargs):
            self.hash = clock.timed("hashes", sha256)(*args, **kwargs)

        def update(self, data):
            clock.timed("hashes", self.hash.update)(data)

        def __getattr__(self, name):
            return getattr(self.hash, name)
    return TimedHash


@contextlib.contextmanager
def stages_timed(clock, recipe):
    """The pipeline's stage functions replaced by timed calls of themselves while the block runs."""
    cls = lookup("recipe", recipe).load()
    places = {(fdsl_gen.pipeline, "create_recipe"): clock.timed("draw", fdsl_gen.pipeline.create_recipe),
              (cls, "render_group"): clock.timed("draw", cls.render_group),
              (fdsl_gen.renderer, "encode_png"): clock.timed("encode", fdsl_gen.renderer.encode_png),
              (fdsl_gen.shardwriter, "tar_blocks"): clock.timed("tar", fdsl_gen.shardwriter.tar_blocks),
              (hashlib, "sha256"): timed_sha256(clock, hashlib.sha256)}
    own = {place: vars(place[0]).get(place[1]) for place in places}  # None: inherited by the recipe's class
    for (owner, name), timed in places.items():
        setattr(owner, name, timed)
    try:
        yield
    finally:
        for (owner, name), original in own.items():
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


def render(recipe, options, work):
    """(CPU seconds, {stage: CPU seconds}, images) of one render into a fresh folder."""
    clock = Clock()
    options = {key: value() if callable(value) else value for key, value in options.items()}
    with tempfile.TemporaryDirectory(dir=work) as out, stages_timed(clock, recipe):
        started = time.process_time()
        manifest = render_dataset(recipe, Path(out) / "data", run=RunOptions(workers=1), **options)
        spent = time.process_time() - started
    images = sum(split["num_samples"] for split in manifest["splits"].values())
    return spent, clock.spent, images


def steady_split(recipe, rounds, work):
    """{part: [seconds per image, per round]} of the steady image, the rest included."""
    shared, option, small, large = FAMILIES[recipe]
    render(recipe, {**shared, option: small}, work)  # untimed: compiles or loads the kernels
    parts = {part: [] for part in ("total", *STAGES, "rest")}
    for _ in range(rounds):
        cpu_s, stages_s, images_s = render(recipe, {**shared, option: small}, work)
        cpu_l, stages_l, images_l = render(recipe, {**shared, option: large}, work)
        images = images_l - images_s
        parts["total"].append((cpu_l - cpu_s) / images)
        for stage in STAGES:
            parts[stage].append((stages_l[stage] - stages_s[stage]) / images)
        parts["rest"].append(parts["total"][-1] - sum(parts[stage][-1] for stage in STAGES))
    return parts


def row(recipe, parts):
    total = median(parts["total"])
    cells = [f"{median(parts[p]) * 1e3:.3f} ({100 * median(parts[p]) / total:.0f} %)" for p in (*STAGES, "rest")]
    return f"| {recipe} | {total * 1e3:.3f} | " + " | ".join(cells) + " |"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", default="all", choices=["all", *FAMILIES])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    check_rounds(args.rounds)
    chosen = list(FAMILIES) if args.family == "all" else [args.family]
    for recipe in chosen:
        lookup("recipe", recipe)
    print(f"split: {args.rounds} rounds, {load_line()}")
    print("| family | steady CPU ms per image | draw | encode | tar | hashes | rest |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="split-") as work:
        for recipe in chosen:
            print(row(recipe, steady_split(recipe, args.rounds, work)), flush=True)
    print(load_line())


if __name__ == "__main__":
    main()
