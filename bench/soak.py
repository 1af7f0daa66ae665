"""Soak: a render of 150 tiny shards while a killer sends kill -9 to its workers and to itself.

A kill comes 0-0.5 s after the render finished a shard (so every run makes
progress, however slow the machine starts). The render command runs again
after every death until it exits 0; the
result must be byte-identical to an undisturbed render of the same command
(every shard and SHA256SUMS), pass `fdsl-gen verify` and hold no temporary
file. The table counts the kills survived and compares wall times.

    .venv/bin/python bench/soak.py [--seed 0] [--parent-share 0.3]
"""
import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import children  # noqa: E402

from common import load_line  # noqa: E402

RENDER = ("--size", 32, "--points", 5000, "--counts", 3, "--weight-k", 0.1, "--flips", 1,
          "--samples-per-shard", 2, "--workers", 2, "--quiet")


def fdsl_gen(*args):
    return [sys.executable, "-m", "fdsl_gen", *map(str, args)]


def soak(command, records, rng, parent_share):
    """Run `command` until it exits 0 while killing its processes; returns the kill counts.

    Each kill waits until the run has finished a shard since the last kill, then a random
    0-0.5 s more: on a busy machine, start-up alone can outlast a fixed interval.
    """
    counts = {"worker kills": 0, "parent kills": 0, "runs": 0, "runs that gave up (exit 1)": 0}
    while True:
        counts["runs"] += 1
        process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        done = len(list(records.glob("*.tar.json")))
        while process.poll() is None:
            time.sleep(0.1)
            if len(list(records.glob("*.tar.json"))) == done:
                continue
            time.sleep(rng.uniform(0.0, 0.5))
            done = len(list(records.glob("*.tar.json")))
            workers = children(process.pid)
            if not workers or process.poll() is not None:
                continue
            target = process.pid if rng.random() < parent_share else rng.choice(workers)
            try:
                os.kill(target, signal.SIGKILL)
            except ProcessLookupError:
                continue
            counts["parent kills" if target == process.pid else "worker kills"] += 1
        code = process.wait()
        if code == 0:
            return counts
        counts["runs that gave up (exit 1)"] += code == 1
        if code not in (1, -signal.SIGKILL):
            raise SystemExit(f"unexpected exit {code}: {process.stderr.read()}")


def shards(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.tar"))} | {
        "SHA256SUMS": (folder / "SHA256SUMS").read_bytes()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0, help="seed of the killer's choices")
    parser.add_argument("--parent-share", type=float, default=0.3, help="share of kills aimed at the parent")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run(fdsl_gen("search", "fractaldb", "--categories", 4, "--out", tmp / "params", "--quiet"),
                       check=True)
        render = ("render", "fractaldb", "--params", tmp / "params", *RENDER)
        started = time.perf_counter()
        subprocess.run(fdsl_gen(*render, "--out", tmp / "calm"), check=True)
        calm = time.perf_counter() - started
        started = time.perf_counter()
        counts = soak(fdsl_gen(*render, "--out", tmp / "killed"), tmp / "killed" / ".render", rng, args.parent_share)
        killed = time.perf_counter() - started
        identical = shards(tmp / "calm") == shards(tmp / "killed")
        verified = subprocess.run(fdsl_gen("verify", tmp / "killed"), capture_output=True).returncode == 0
        leftovers = [p.name for p in (tmp / "killed").rglob("*") if ".tmp" in p.name]
        print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, seed {args.seed}, {load_line()}")
        print(f"| shards | {len(shards(tmp / 'killed')) - 1} |")
        for name, value in counts.items():
            print(f"| {name} | {value} |")
        print(f"| byte-identical to the undisturbed render | {'yes' if identical else 'NO'} |")
        print(f"| fdsl-gen verify | {'ok' if verified else 'FAILED'} |")
        print(f"| temporary files left | {len(leftovers)} |")
        print(f"| wall time, undisturbed / killed (ratio) | {calm:.1f} s / {killed:.1f} s ({killed / calm:.2f}) |")
        print(load_line() + " at the end")
        if not (identical and verified and not leftovers):
            raise SystemExit(1)


if __name__ == "__main__":
    main()
