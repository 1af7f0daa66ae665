"""1p-frac with L = 1000 classes: fdsl end to end vs the reference algorithm, one run.

fdsl: the real command, `fdsl-gen render 1p-frac --classes L` (512 px, 100k
points, patch_gray, one image per class), run as a subprocess after a tiny
warm-up render (so numba's on-disk cache is filled), timed wall-clock from
start to finished manifest.

Reference: the published generator's algorithm in Python/NumPy/PIL, on the
same base system: per attempt, six `random.uniform` factors per map, the
Python chaos game, rescale, a PIL paste of a `random.randrange(1, 512)`
patch per point, the fill test, and an RGB PNG for accepted images. It is
too slow to run 1000 classes here, so a few attempts are timed and the
figure is extrapolated to the attempts the fdsl run needed (same base, same
fill threshold, so the same expected redraws), divided by the number of
cores as the reference's multiprocessing pool would.

    .venv/bin/python bench/render_onepfrac.py [--classes 1000] [--workers 2] [--reference-attempts 4]
        [--samples-per-shard 125]
"""
import argparse
import io
import json
import os
import random
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference import fractaldb as ref  # noqa: E402
from fdsl_gen.params import read_system  # noqa: E402

SIZE, POINTS, FILL = 512, 100_000, 0.05
FDSL_GEN = Path(sys.executable).with_name("fdsl-gen")


def run_fdsl(out, classes, workers, seed, per_shard):
    """Wall seconds and CPU seconds of one render command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    command = ["render", "1p-frac", "--classes", classes, "--workers", workers, "--seed", seed,
               "--samples-per-shard", per_shard, "--out", out, "--quiet"]
    subprocess.run([str(FDSL_GEN)] + [str(word) for word in command], check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def reference_attempt(base, delta, rand):
    """One attempt of the reference generator: seconds to test it, seconds and bytes to save
    it (timed for every attempt, as if accepted), and whether it passed the fill test."""
    started = time.perf_counter()
    system = base.copy()
    for row in system:
        row[:6] *= [random.uniform(1 - delta, 1 + delta) for _ in range(6)]
    px, py = ref.rescale(*ref.orbit(system, rand), SIZE)
    masks = [random.randrange(1, 512) for _ in range(len(px))]
    image = ref.draw_patch(px, py, SIZE, masks)
    accepted = np.sum(np.asarray(image) > 1) / (SIZE * SIZE * 3) > FILL
    tested = time.perf_counter()
    png = io.BytesIO()
    image.save(png, format="PNG")
    return tested - started, time.perf_counter() - tested, len(png.getvalue()), accepted


def reference(base, delta, attempts):
    random.seed(0)
    rand = np.random.RandomState(100).random_sample(POINTS)
    results = np.array([reference_attempt(base, delta, rand) for _ in range(attempts)])
    return results.mean(axis=0)


def png_bytes_per_image(folder):
    sizes = []
    for shard in folder.glob("*.tar"):
        with tarfile.open(shard) as tar:
            sizes += [m.size for m in tar.getmembers() if m.name.endswith(".png")]
    return float(np.mean(sizes))


def busy_core_seconds():
    """CPU seconds the whole machine has spent busy (Linux /proc/stat: all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reference-attempts", type=int, default=4)
    parser.add_argument("--samples-per-shard", type=int, default=125,
                        help="several shards, so that every worker has some (L = 1000 is one default shard)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_fdsl(Path(tmp) / "warmup", 2, 1, args.seed, args.samples_per_shard)
        busy_before = busy_core_seconds()
        wall, cpu = run_fdsl(Path(tmp) / "1p-frac", args.classes, args.workers, args.seed, args.samples_per_shard)
        others = busy_core_seconds() - busy_before - cpu
        out = Path(tmp) / "1p-frac"
        manifest = json.loads((out / "manifest.json").read_text())
        base = read_system(out / "params" / "base.csv")
        shard_bytes = sum(p.stat().st_size for p in out.glob("*.tar")) / args.classes
        our_png = png_bytes_per_image(out)
    config = manifest["config"]
    attempts = args.classes + config["redraws"]
    test_s, save_s, ref_png, accept_rate = reference(base, config["delta"], args.reference_attempts)
    ref_cpu = attempts * test_s + args.classes * save_s
    ref_wall = ref_cpu / args.workers
    print(f"1p-frac, L = {args.classes}, {SIZE} px, {POINTS} points, seed {args.seed}: base sigma-factor "
          f"{config['sigma_factor']:.3f}, {attempts} attempts ({config['redraws']} redraws)")
    print(f"other jobs kept {max(others, 0.0) / wall:.2f} of the {os.cpu_count()} cores busy during the fdsl run")
    print(f"reference: {args.reference_attempts} attempts timed ({accept_rate:.0%} passed the fill test; "
          f"fdsl: {args.classes / attempts:.0%}), {test_s:.2f} s per attempt + {save_s:.2f} s per PNG, "
          "extrapolated to fdsl's attempts")
    print()
    print("| | fdsl | reference | ratio |")
    print("| --- | --- | --- | --- |")
    print(f"| wall time, {args.workers} cores | {wall:.1f} s | {ref_wall / 60:.0f} min (extrapolated) "
          f"| {ref_wall / wall:.0f}x |")
    print(f"| CPU time | {cpu:.1f} s | {ref_cpu / 60:.0f} min (extrapolated) | {ref_cpu / cpu:.0f}x |")
    print(f"| PNG bytes per image | {our_png:.0f} (1-bit palette) | {ref_png:.0f} (RGB) "
          f"| {ref_png / our_png:.1f}x smaller |")
    print(f"| tar bytes per image (png, cls, json) | {shard_bytes:.0f} | | |")


if __name__ == "__main__":
    main()
