"""RCDB and VisualAtom rendering: fdsl vs the reference drawing, one run, one core.

fdsl renders real shards with one worker (images/s end to end: drawing, PNG,
tar, sha256) and, apart, the drawing alone. Rates are images per CPU second
of this process (`time.process_time`), so other jobs on the machine weigh
less on them than on wall-clock rates. The reference is a Python/PIL
implementation of the published scripts (`make_rcdb.py`,
`render_VisualAtom.py`) drawing the same categories: Python `random` for
every per-image draw, one `ImageDraw.line` call per segment on an RGB
canvas, an RGB PNG per image. Its Perlin noise is
evaluated with NumPy on whole polygons, and VisualAtom's sine terms once per
image, instead of per vertex and orbit as in the original scripts: the
reference here is faster than the original and the ratios are conservative.
The test suite checks that this drawing loop and fdsl's kernel give the same
pixels.

    .venv/bin/python bench/render_contours.py [--images 400] [--reference-images 40] [--categories 40]
"""
import argparse
import io
import math
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from fdsl_gen.configs import RCDBConfig, VisualAtomConfig
from fdsl_gen.encode import encode_png
from fdsl_gen.plan import Plan
from fdsl_gen.recipes.rcdb import RCDB
from fdsl_gen.recipes.visualatom import VisualAtom
from fdsl_gen.runner import render_shards
from fdsl_gen.shardwriter import RECORDS, write_shard

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference.contours import draw_polygons, noise_rows  # noqa: E402

SIZE = 512


def rcdb_reference(rand, cat):
    """One RCDB image: per-instance radius, oval and centre, then the polygons."""
    n, c = cat["vertices"], cat["c"]
    radius, oval_x, oval_y = rand.randint(0, 100), rand.uniform(1, 2), rand.uniform(1, 2)
    cy, cx = (SIZE + rand.randint(-400, 400)) / 2, (SIZE + rand.randint(-400, 400)) / 2
    angle = math.pi * 2 / n
    start_x = [math.cos(angle * v) * radius * oval_x for v in range(n)]
    start_y = [math.sin(angle * v) * radius * oval_y for v in range(n)]
    grays, noise_x, noise_y = [], [], []
    for _ in range(cat["polygons"]):
        grays.append(rand.randint(0, 255))
        noise_x.append(noise_rows(rand, n))
        noise_y.append(noise_rows(rand, n))
    return draw_polygons((255, 255, 255), start_x, start_y, cx, cy, grays, noise_x, noise_y,
                         2 * c, [-c] * n, cat["w"])


def visualatom_offsets(cat):
    angle = math.pi * 2 / cat["vertices"]
    return [-cat["c"] - 0.5 * math.sin(angle * v * cat["n1"]) - 0.5 * math.sin(angle * v * cat["n2"])
            for v in range(cat["vertices"])]


def visualatom_reference(rand, cat):
    """One VisualAtom image: only the centre moves per instance."""
    n = cat["vertices"]
    cy, cx = (SIZE + rand.randint(-512, 512)) / 2, (SIZE + rand.randint(-512, 512)) / 2
    angle = math.pi * 2 / n
    start_x = [math.cos(angle * v) * cat["radius"] * cat["oval_x"] for v in range(n)]
    start_y = [math.sin(angle * v) * cat["radius"] * cat["oval_y"] for v in range(n)]
    grays, noise_x, noise_y = [], [], []
    for _ in range(cat["polygons"]):
        grays.append(rand.randint(0, 255))
        noise_x.append(noise_rows(rand, n))
        noise_y.append(noise_rows(rand, n))
    return draw_polygons((0, 0, 0), start_x, start_y, cx, cy, grays, noise_x, noise_y,
                         cat["c"], visualatom_offsets(cat), cat["w"])


def reference(make_image, categories, count):
    """Seconds and RGB PNG bytes per image of the reference drawing, cycling over `categories`."""
    rand = random.Random(1)
    seconds, sizes = 0.0, []
    for k in range(count):
        started = time.process_time()
        buffer = io.BytesIO()
        make_image(rand, categories[k % len(categories)]).save(buffer, format="PNG")
        seconds += time.process_time() - started
        sizes.append(len(buffer.getvalue()))
    return seconds / count, float(np.mean(sizes))


def rgb_png_bytes(canvas):
    """Bytes of a canvas saved as the reference saves its images (RGB, PIL's defaults)."""
    buffer = io.BytesIO()
    Image.fromarray(canvas).convert("RGB").save(buffer, format="PNG")
    return len(buffer.getvalue())


def ours(recipe, images, out):
    """Images/s end to end through the shard writer (one worker), and drawing alone."""
    plan = Plan(recipe.num_classes, recipe.samples_per_class, 1, 1, images)
    write_shard(recipe, Plan(1, 2, 1, 0, 2), out, "warmup", "train", 0, "warmup")  # numba compile outside the clock
    started = time.process_time()
    records = render_shards(recipe, plan, out, recipe.name, "bench", [("train", 0)], workers=1, quiet=True)
    end_to_end = time.process_time() - started
    count = records[0]["samples"]
    pieces = plan.pieces("train", 0)
    started = time.process_time()
    canvases = [recipe.render_group(p.cls, p.group)[0][0] for p in pieces]
    drawing = time.process_time() - started
    started = time.process_time()
    sizes = [len(encode_png(c)) for c in canvases]
    encoding = time.process_time() - started
    rgb_sizes = [rgb_png_bytes(c) for c in canvases]
    return {"rate": count / end_to_end, "draw_rate": count / drawing, "png": float(np.mean(sizes)),
            "png_share": encoding / (drawing + encoding), "tar": records[0]["bytes"] / count,
            "rgb_png": float(np.mean(rgb_sizes))}


def report(title, mine, ref_seconds, ref_bytes, target):
    ref_rate = 1 / ref_seconds
    print(title)
    print(f"  {'':<46}{'fdsl':>10}{'reference':>11}{'ratio':>9}")
    print(f"  {'images/s per core, end to end (PNG, tar)':<46}{mine['rate']:>10.1f}{ref_rate:>11.2f}"
          f"{mine['rate'] / ref_rate:>8.1f}x   (target {target}x)")
    print(f"  {'images/s per core, drawing only':<46}{mine['draw_rate']:>10.1f}{'':>11}"
          f"{mine['draw_rate'] / ref_rate:>8.1f}x")
    print(f"  {'PNG bytes per image (same images; ref. RGB)':<46}{mine['png']:>10.0f}{mine['rgb_png']:>11.0f}"
          f"{mine['rgb_png'] / mine['png']:>8.2f}x smaller")
    print(f"  {'PNG bytes per image of the reference run':<46}{'':>10}{ref_bytes:>11.0f}")
    print(f"  {'PNG encoding share of drawing + encoding':<46}{mine['png_share']:>9.0%}")
    print(f"  {'tar bytes per image':<46}{mine['tar']:>10.0f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--categories", type=int, default=40)
    parser.add_argument("--images", type=int, default=400, help="fdsl images per recipe (one shard)")
    parser.add_argument("--reference-images", type=int, default=40, help="reference images, one per category in turn")
    args = parser.parse_args()
    cases = [("RCDB", RCDB, RCDBConfig, rcdb_reference, 10),
             ("VisualAtom", VisualAtom, VisualAtomConfig, visualatom_reference, 30)]
    for title, recipe_class, config_class, make_image, target in cases:
        instances = -(-args.images // args.categories)
        recipe = recipe_class(config_class(categories=args.categories, instances=instances), seed=1)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            (out / RECORDS).mkdir()
            mine = ours(recipe, args.images, out)
        ref_seconds, ref_bytes = reference(make_image, recipe.categories, args.reference_images)
        report(f"{title}, {SIZE} px, {args.images} images from {args.categories} categories, 1 worker (1 core)",
               mine, ref_seconds, ref_bytes, target)


if __name__ == "__main__":
    sys.exit(main())
