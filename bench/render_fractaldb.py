"""FractalDB rendering: fdsl vs the reference renderer, same categories, one run.

Renders the official recipe (362 px, 200k points, patch_gray, k = 0.4) into
real shards with one worker and prints images/s per core end to end (PNG
and tar included), the share of time spent in PNG encoding, bytes per image,
and the same figures for a NumPy/PIL implementation of the reference
renderer (per-point PIL paste, RGB PNG) run on a few images of the same
categories. Then the class mix a streaming loader sees in 64-sample batches.

    .venv/bin/python bench/render_fractaldb.py [--categories 100] [--shards 4] [--reference-images 8]
"""
import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import webdataset as wds

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference import fractaldb as ref  # noqa: E402
from fdsl_gen.encode import encode_png  # noqa: E402
from fdsl_gen.formulas.ifs_search import search  # noqa: E402
from fdsl_gen.plan import Plan  # noqa: E402
from fdsl_gen.configs import FractalDBConfig  # noqa: E402
from fdsl_gen.recipes.fractaldb import FractalDB  # noqa: E402
from fdsl_gen.runner import render_shards  # noqa: E402
from fdsl_gen.shardwriter import RECORDS, write_shard  # noqa: E402


def ours(systems_dir, categories, shards, out):
    recipe = FractalDB(FractalDBConfig(params=str(systems_dir), categories=categories), seed=1)
    plan = Plan.of(recipe, 1, 1000)
    write_shard(recipe, Plan(1, 4, 4, 0, 4), out, "warmup", "train", 0, "warmup")  # numba compile outside the clock
    started = time.perf_counter()
    tasks = [("train", i) for i in range(shards)]
    records = render_shards(recipe, plan, out, "fractaldb", "bench", tasks, workers=1, quiet=True)
    seconds = time.perf_counter() - started
    images = sum(r["samples"] for r in records)
    png_seconds, png_bytes = encoding_cost(recipe, categories)
    tar_bytes = sum(r["bytes"] for r in records)
    return images, seconds, png_seconds, png_bytes, tar_bytes


def encoding_cost(recipe, categories, groups=400):
    """Seconds per image spent in PNG encoding, and PNG bytes per image, over many categories."""
    rng = np.random.default_rng(0)
    picks = zip(rng.integers(0, categories, groups), rng.integers(0, 250, groups))
    images = [img for c, g in picks for img, _ in recipe.render_group(int(c), int(g))]
    started = time.perf_counter()
    sizes = [len(encode_png(img, recipe.levels)) for img in images]
    return (time.perf_counter() - started) / len(images), float(np.mean(sizes))


def reference(systems, count):
    """Seconds and RGB PNG bytes per image of the reference renderer (one canvas = 4 flips)."""
    weights = ref_weights()
    rng = np.random.default_rng(0)
    seconds, sizes = 0.0, []
    for k in range(max(1, count // 4)):
        system = systems[k % len(systems)]
        masks = rng.integers(1, 512, 200_000)
        started = time.perf_counter()
        canvas = ref.render_canvas(system, weights[k % 25], 200_000, 362, masks)
        for kind in range(4):
            buffer = io.BytesIO()
            ref.flip(canvas, kind).save(buffer, format="PNG")
            sizes.append(len(buffer.getvalue()))
        seconds += time.perf_counter() - started
    return seconds / len(sizes), float(np.mean(sizes))


def ref_weights():
    from fdsl_gen.params import weight_rows
    return weight_rows(0.4)


def classes_per_batch(plan, batches=150, buffer=1000, initial=100, batch=64):
    """Distinct classes per 64-sample batch from one loader worker with webdataset's shuffle buffer."""
    rng = np.random.default_rng(0)
    shard_ids = rng.permutation(plan.num_shards("train"))[:16]
    def stream():
        for shard in shard_ids:
            classes = [p.cls for p in plan.pieces("train", shard) for _ in range(p.lo, p.hi)]
            for k in plan.shard_order("train", shard):
                yield {"cls": classes[k]}
    shuffled = wds.filters._shuffle(stream(), buffer, initial, rng=__import__("random").Random(0))
    counts = []
    for _ in range(batches):
        counts.append(len({next(shuffled)["cls"] for _ in range(batch)}))
    return float(np.mean(counts))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--categories", type=int, default=100,
                        help="categories in the dataset (many: point sets are rarely reused, as in FractalDB-1k)")
    parser.add_argument("--shards", type=int, default=4, help="shards of 1000 images rendered")
    parser.add_argument("--reference-images", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        params = Path(tmp) / "params"
        params.mkdir()
        found, _ = search(args.categories)
        for i, (system, _) in enumerate(found):
            np.savetxt(params / f"{i:05d}.csv", system, delimiter=",")
        out = Path(tmp) / "out"
        (out / RECORDS).mkdir(parents=True)
        images, seconds, png_s, png_b, tar_b = ours(params, args.categories, args.shards, out)
        ref_s, ref_b = reference([s for s, _ in found], args.reference_images)
    ours_rate, ref_rate = images / seconds, 1 / ref_s
    print(f"FractalDB official recipe, {images} images from {args.categories} categories, 1 worker (1 core)")
    print(f"{'':<26}{'fdsl':>12}{'reference':>12}{'ratio':>10}")
    print(f"{'images/s per core':<26}{ours_rate:>12.1f}{ref_rate:>12.2f}{ours_rate / ref_rate:>9.0f}x")
    print(f"{'PNG bytes per image':<26}{png_b:>12.0f}{ref_b:>12.0f}{ref_b / png_b:>9.1f}x smaller")
    print(f"{'tar bytes per image':<26}{tar_b / images:>12.0f}")
    print(f"{'PNG encoding share':<26}{png_s * ours_rate:>11.0%}")
    full = Plan(1000, 1000, 4, 1, 1000)
    print("distinct classes per 64-sample batch (one loader worker, webdataset .shuffle(1000)),"
          " FractalDB-1k plan:")
    print(f"  fdsl layout (seeded global order of canvases + in-shard shuffle): {classes_per_batch(full):.1f}")
    blocks = Plan(1000, 1000, 40, 1, 1000)
    print(f"  blocks of 40 (one point set per block, same in-shard shuffle):   {classes_per_batch(blocks):.1f}")
    print("  map-style ImageFolder, random 64 of 1000 classes:                 "
          f"{1000 * (1 - (999 / 1000) ** 64):.1f}")


if __name__ == "__main__":
    main()
