"""Object store against folder: render, publish and training-loader throughput, one run.

Starts moto's S3 server on 127.0.0.1 (the test suite's server: real S3
protocol over local HTTP, so the figures show fdsl's overhead, not a
network's). Renders the same FractalDB shards into a folder and into the
bucket, alternating, and prints images/s; publishes the folder and prints
MiB/s (then the no-op second publish); reads the shards with fdsl_train's
ShardStream from the folder, from s3 without a cache, and from s3 with
--cache-dir (first epoch cold, second cached), and prints samples/s.

    .venv/bin/python bench/objstore.py [--categories 8] [--instances 100] [--size 256] [--workers 2]
"""
import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
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
    """Seconds to claim, render and finalize the dataset at `location`."""
    started = time.perf_counter()
    with claim(location, recipe, plan, "fractaldb", "bench") as digest:
        records = render_shards(recipe, plan, location, "fractaldb", digest, all_tasks(plan), workers=workers,
                                quiet=True)
        finalize(location, records)
    return time.perf_counter() - started


def read_all(data, cache_dir=None, epochs=1):
    """Samples/s of each epoch of an in-order pass over the train split."""
    shardset = resolve(data)
    stream = ShardStream(shardset, F.to_tensor, read_shard=ShardFiles(shardset, cache_dir), batch_size=64,
                         training=False)
    rates = []
    for epoch in range(epochs):
        stream.set_epoch(epoch)
        started = time.perf_counter()
        count = sum(len(labels) for _, labels, _ in stream)
        rates.append(count / (time.perf_counter() - started))
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--categories", type=int, default=8)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
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
        folder_s = render(recipe, plan, tmp / "folder", args.workers)
        s3_s = render(recipe, plan, "s3://bench/rendered", args.workers)
        folder_s2 = render(recipe, plan, tmp / "folder2", args.workers)
        s3_s2 = render(recipe, plan, "s3://bench/rendered2", args.workers)
        print(f"render {images} images ({args.size} px, {args.workers} workers), two rounds alternated:")
        print("| | folder | s3 (moto, 127.0.0.1) | s3 / folder |\n| --- | --- | --- | --- |")
        for label, (f, s) in (("round 1", (folder_s, s3_s)), ("round 2", (folder_s2, s3_s2))):
            print(f"| {label} | {images / f:.1f} img/s | {images / s:.1f} img/s | {f / s:.2f} |")

        files = plan_upload(tmp / "folder", "s3://bench/published")
        size = sum(s for _, s, _ in files) / 2**20
        started = time.perf_counter()
        publish(tmp / "folder", "s3://bench/published", files)
        first = time.perf_counter() - started
        started = time.perf_counter()
        publish(tmp / "folder", "s3://bench/published", plan_upload(tmp / "folder", "s3://bench/published"))
        second = time.perf_counter() - started
        print(f"\npublish {size:.1f} MiB in {len(files)} files: {size / first:.1f} MiB/s "
              f"({first:.1f} s, upload + read-back check); second publish, nothing to upload: {second:.1f} s")

        local = read_all(str(tmp / "folder"), epochs=2)
        streamed = read_all("s3://bench/rendered/")
        cached = read_all("s3://bench/rendered/", cache_dir=str(tmp / "cache"), epochs=2)
        print("\nloader, one in-order pass over the train split (samples/s):")
        print("| folder | s3, no cache | s3 --cache-dir, cold | s3 --cache-dir, cached |\n| --- | --- | --- | --- |")
        print(f"| {local[1]:.0f} | {streamed[0]:.0f} ({streamed[0] / local[1]:.2f}x) | "
              f"{cached[0]:.0f} ({cached[0] / local[1]:.2f}x) | {cached[1]:.0f} ({cached[1] / local[1]:.2f}x) |")
    server.stop()


if __name__ == "__main__":
    main()
