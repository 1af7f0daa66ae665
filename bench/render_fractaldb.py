"""FractalDB: the class mix a streaming loader sees in 64-sample batches, by shard layout.

For the plan of FractalDB-1k (1000 categories x 1000 images, 1000 per
shard), one loader worker reading 16 shards in random order through
webdataset's `.shuffle(1000)`: distinct classes per batch with fdsl's layout
(a seeded global order of canvases, then an in-shard shuffle), with blocks of
40 images sharing one point set, and for a map-style ImageFolder. Rendering
speed against the official code is bench/official_compare.py's.

    .venv/bin/python bench/render_fractaldb.py
"""
import random

import numpy as np
import webdataset as wds

from fdsl_gen.plan import Plan


def classes_per_batch(plan, batches=150, buffer=1000, initial=100, batch=64):
    """Distinct classes per 64-sample batch from one loader worker with webdataset's shuffle buffer."""
    rng = np.random.default_rng(0)
    shard_ids = rng.permutation(plan.num_shards("train"))[:16]
    def stream():
        for shard in shard_ids:
            classes = [p.cls for p in plan.pieces("train", shard) for _ in range(p.lo, p.hi)]
            for k in plan.shard_order("train", shard):
                yield {"cls": classes[k]}
    shuffled = wds.filters._shuffle(stream(), buffer, initial, rng=random.Random(0))
    counts = []
    for _ in range(batches):
        counts.append(len({next(shuffled)["cls"] for _ in range(batch)}))
    return float(np.mean(counts))


def main():
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
