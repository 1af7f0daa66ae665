"""ExFractalDB / MV-FractalDB rendering: fdsl vs a NumPy implementation of the reference.

Renders real shards with one worker (224 px, 10k points, 1-px points) for
both recipes and prints images/s per core end to end (cloud, drawing, PNG,
tar, sha256). The reference pipeline runs in the same process on a few
instances of the same categories: its chaos game (the reference's Python
loop, the orbit is sequential), min-max normalisation and centring, then
per view the glm perspective x lookAt matrices applied with NumPy, pixels
set in an RGB frame and saved as an RGB PNG, as its renderer does after
glReadPixels. It leaves out what the real reference adds on top: the PLY
file written and read back per instance and the OpenGL context, so the
ratio is a lower bound. The 3D search is timed the same way.

    .venv/bin/python bench/render_exfractaldb.py [--categories 20] [--shards 3] [--reference-instances 3] [--repeat 3]
"""
import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from fdsl_gen.configs import ExFractalDBConfig, MVFractalDBConfig
from fdsl_gen.families.ifs3d import instance_weights, weighted
from fdsl_gen.formulas.ifs_search import search3d as search
from fdsl_gen.tarformat import iter_samples
from fdsl_gen.plan import Plan
from fdsl_gen.recipes.exfractaldb import ExFractalDB
from fdsl_gen.recipes.mvfractaldb import MVFractalDB
from fdsl_gen.runner import render_shards
from fdsl_gen.shardwriter import RECORDS, write_shard

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference.exfractaldb import (SIZE, mv_camera, reference_accepts, reference_cloud,  # noqa: E402
                                   reference_orbit, reference_trial, reference_view)

POINTS = 10_000


def reference_image_rate(systems, instances, views):
    """Seconds per image and PNG bytes of the reference pipeline, `views` images per cloud."""
    weights = instance_weights()
    rs = np.random.RandomState(0)
    seconds, sizes = 0.0, []
    for k in range(instances):
        system = weighted(systems[k % len(systems)], weights[(17 * k) % len(weights)])
        started = time.perf_counter()
        cloud = reference_cloud(reference_orbit(system, rs.random_sample(POINTS + 1)), POINTS)
        for v in range(views):
            buffer = io.BytesIO()
            Image.fromarray(reference_view(cloud, *mv_camera(v % 12))).save(buffer, format="PNG")
            sizes.append(len(buffer.getvalue()))
        seconds += time.perf_counter() - started
    return seconds / len(sizes), float(np.mean(sizes))


# ---------------------------------------------------------------- fdsl

def fdsl_image_rate(recipe_class, config, out, shards):
    """Images/s of one worker writing `shards` shards of 1000, PNG bytes per image, views per cloud."""
    recipe = recipe_class(config, seed=1)
    plan = Plan.of(recipe, 1, 1000)
    write_shard(recipe, Plan(1, recipe.group_size, recipe.group_size, 0, 100), out, "warmup", "train", 0, "warmup")
    started = time.perf_counter()
    records = render_shards(recipe, plan, out, recipe_class.name, "bench", workers=1, quiet=True,
                            tasks=[("train", i) for i in range(shards)])
    seconds = time.perf_counter() - started
    images = sum(r["samples"] for r in records)
    png = [len(fields["png"]) for r in records for _, fields in iter_samples((out / r["file"]).read_bytes())]
    return images / seconds, float(np.mean(png)), recipe.group_size


def search_rates(categories, reference_trials):
    """Seconds per accepted category: fdsl's search, and the reference's trial cost x trials."""
    search(1, points=POINTS)  # numba compile outside the clock
    started = time.perf_counter()
    _, trials = search(categories, seed=1, points=POINTS, threads=1)
    ours = (time.perf_counter() - started) / categories
    rs = np.random.RandomState(1)
    started = time.perf_counter()
    for _ in range(reference_trials):
        reference_accepts(reference_trial(rs, POINTS)[1], 0.05)
    per_trial = (time.perf_counter() - started) / reference_trials
    return ours, per_trial * trials / categories, trials


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--categories", type=int, default=20)
    parser.add_argument("--shards", type=int, default=3, help="shards of 1000 images per recipe")
    parser.add_argument("--reference-instances", type=int, default=3)
    parser.add_argument("--reference-trials", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3,
                        help="best of N runs of each side (the cores may be shared with other jobs)")
    args = parser.parse_args()
    found, _ = search(args.categories, seed=1, points=POINTS)
    systems = [s for s, _ in found]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        params = Path(tmp) / "params"
        params.mkdir()
        for i, system in enumerate(systems):
            np.savetxt(params / f"{i:05d}.csv", system, delimiter=",", fmt="%.18e")
        for recipe_class, config_class in ((ExFractalDB, ExFractalDBConfig), (MVFractalDB, MVFractalDBConfig)):
            best, ref_best = 0.0, float("inf")
            for attempt in range(args.repeat):
                out = Path(tmp) / f"{recipe_class.name}-{attempt}"
                (out / RECORDS).mkdir(parents=True)
                rate, png_bytes, views = fdsl_image_rate(recipe_class, config_class(params=str(params)), out,
                                                         args.shards)
                ref_seconds, ref_png = reference_image_rate(systems, args.reference_instances, views)
                best, ref_best = max(best, rate), min(ref_best, ref_seconds)
            rows.append((recipe_class.name, views, best, 1 / ref_best, png_bytes, ref_png))
    runs = [search_rates(args.categories, args.reference_trials) for _ in range(args.repeat)]
    ours_search, ref_search, trials = min(r[0] for r in runs), min(r[1] for r in runs), runs[0][2]
    print(f"{SIZE} px, {POINTS} points, 1-px points, {args.categories} categories, 1 worker (1 core), "
          f"best of {args.repeat}")
    print(f"{'images/s per core, end to end':<34}{'views/cloud':>12}{'fdsl':>10}{'reference':>11}{'ratio':>9}")
    for name, views, rate, ref_rate, _, _ in rows:
        print(f"{'  ' + name:<34}{views:>12}{rate:>10.0f}{ref_rate:>11.1f}{rate / ref_rate:>8.0f}x")
    for name, _, _, _, png_bytes, ref_png in rows:
        print(f"  {name} PNG bytes per image: fdsl {png_bytes:.0f} (1-bit grey), reference {ref_png:.0f} (RGB)")
    print(f"search, s per accepted category ({trials} trials for {args.categories}): "
          f"fdsl {ours_search:.4f}, reference {ref_search:.2f}, ratio {ref_search / ours_search:.0f}x")


if __name__ == "__main__":
    main()
