"""Object store against folder: render, publish and training-loader throughput, in interleaved rounds.

Starts moto's S3 server on 127.0.0.1 in this process (the test suite's
server: real S3 protocol over local HTTP, so the figures show fdsl's
overhead, not a network's). Each of --rounds rounds renders the same
FractalDB shards into a new folder and a new bucket prefix, in turn
(images/s and CPU ms per image, the server's and the workers' CPU
included); publishes the folder to a new prefix (MiB/s), then again with
nothing to upload (seconds); and reads the shards with fdsl_train's
ShardStream from the folder, from s3 without a cache, and from s3 with a
new --cache-dir (first epoch cold, second cached), in samples/s. Every
figure is the median, min and max over the rounds; ratios to the folder
are taken round by round.

    .venv/bin/python bench/objstore.py [--categories 8] [--instances 100] [--size 256] [--workers 2] [--rounds 3]
"""
import argparse
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3
import torchvision.transforms.functional as F
from moto.server import ThreadedMotoServer

from fdsl_gen.lifecycle import claim, finalize
from fdsl_gen.plan import Plan
from fdsl_gen.publish import plan_upload, publish
from fdsl_gen.recipes.fractaldb import FractalDB, FractalDBConfig
from fdsl_gen.runner import all_tasks, render_shards
from fdsl_gen.shardwriter import write_shard
from fdsl_train.data.loader import ShardStream
from fdsl_train.data.reading import ShardFiles
from fdsl_train.data.shards import resolve

from common import check_rounds, interleaved, load_line, ratio_spread, spread, timed


def start_s3():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(AWS_ENDPOINT_URL=f"http://{host}:{port}", AWS_ACCESS_KEY_ID="bench",
                      AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    boto3.client("s3").create_bucket(Bucket="bench")
    return server


def render(recipe, plan, location, workers):
    """(wall s, CPU s) to claim, render and finalize the dataset at `location`."""
    def work():
        with claim(location, recipe, plan, "fractaldb", "bench") as digest:
            records = render_shards(recipe, plan, location, "fractaldb", digest, all_tasks(plan), workers=workers,
                                    quiet=True)
            finalize(location, records)
    _, wall, cpu = timed(work)
    return wall, cpu


def read_all(data, cache_dir=None, epochs=1):
    """Samples/s of each epoch of an in-order pass over the train split."""
    shardset = resolve(data)
    stream = ShardStream(shardset, F.to_tensor, read_shard=ShardFiles(shardset, cache_dir), batch_size=64,
                         training=False)
    rates = []
    for epoch in range(epochs):
        stream.set_epoch(epoch)
        count, wall, _ = timed(lambda: sum(len(labels) for _, labels, _ in stream))
        rates.append(count / wall)
    return rates


def publish_round(folder, target):
    """(MiB, MiB/s of a first publish to `target`, seconds of the second one, which finds nothing to upload)."""
    files = plan_upload(folder, target)
    size = sum(s for _, s, _ in files) / 2**20
    _, first, _ = timed(lambda: publish(folder, target, files))
    _, second, _ = timed(lambda: publish(folder, target, plan_upload(folder, target)))
    return size, size / first, second


def render_rounds(recipe, plan, tmp, args):
    places = {"folder": lambda r: tmp / f"folder{r}", "s3": lambda r: f"s3://bench/rendered{r}"}
    turns = {name: iter(range(args.rounds)) for name in places}
    return interleaved({name: lambda name=name: render(recipe, plan, places[name](next(turns[name])), args.workers)
                        for name in places}, args.rounds)


def read_round(tmp, r):
    """Samples/s of one pass from the folder, from s3, and from s3 through a new cache (cold, then cached)."""
    local = read_all(str(tmp / "folder0"))[0]
    streamed = read_all("s3://bench/rendered0/")[0]
    cold, cached = read_all("s3://bench/rendered0/", cache_dir=str(tmp / f"cache{r}"), epochs=2)
    return local, streamed, cold, cached


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--categories", type=int, default=8)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    check_rounds(args.rounds)
    server = start_s3()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, "-m", "fdsl_gen", "search", "fractaldb", "--categories",
                        str(args.categories), "--out", str(tmp / "params"), "--quiet"], check=True)
        recipe = FractalDB(FractalDBConfig(params=str(tmp / "params"), categories=args.categories,
                                           instances=args.instances, size=args.size), seed=1)
        plan = Plan.of(recipe, 1, 200)
        write_shard(recipe, Plan(1, 4, 4, 0, 4), tmp / "warmup", "warmup", "train", 0, "warmup")  # numba compile
        images = plan.num_samples("train")
        print(f"{images} FractalDB images of {args.size} px, {args.workers} render workers; median (min to max) of "
              f"{args.rounds} interleaved rounds; {load_line()}")
        renders = render_rounds(recipe, plan, tmp, args)
        rates = {name: [images / wall for wall, _ in runs] for name, runs in renders.items()}
        cpu = {name: [1e3 * c / images for _, c in runs] for name, runs in renders.items()}
        print("| render | folder | s3 (moto, 127.0.0.1) | s3 / folder |\n| --- | --- | --- | --- |")
        print(f"| images/s | {spread(rates['folder'])} | {spread(rates['s3'])} | "
              f"{ratio_spread(rates['s3'], rates['folder'])} |")
        print(f"| CPU ms per image | {spread(cpu['folder'], 2)} | {spread(cpu['s3'], 2)} | "
              f"{ratio_spread(cpu['s3'], cpu['folder'])} |")

        published = [publish_round(tmp / "folder0", f"s3://bench/published{r}") for r in range(args.rounds)]
        print(f"\npublish {published[0][0]:.1f} MiB: {spread([rate for _, rate, _ in published], 2)} MiB/s "
              f"(upload + read-back check); second publish, nothing to upload: "
              f"{spread([second for _, _, second in published], 2)} s")

        read_all(str(tmp / "folder0"))  # the page cache holds the folder's shards before the first round
        columns = list(zip(*(read_round(tmp, r) for r in range(args.rounds))))  # one tuple of rounds per reader
        print("\nloader, one in-order pass over the train split, samples/s (and / folder, round by round):")
        print("| folder | s3, no cache | s3 --cache-dir, cold | s3 --cache-dir, cached |\n| --- | --- | --- | --- |")
        print(f"| {spread(columns[0], 0)} | " + " | ".join(f"{spread(column, 0)} ({ratio_spread(column, columns[0])})"
                                                         for column in columns[1:]) + " |")
        print(f"{load_line()} at the end")
    server.stop()


if __name__ == "__main__":
    main()
