"""The device check: pre-training on this machine's accelerators, end to end, in one table.

    python bench/gpu_check.py                            # every visible GPU, --size full: under 5 min on one H100
    python bench/gpu_check.py --device cpu --size tiny   # the same stages on the CPU with 2 gloo ranks

Four stages, each one command with a time-out (bench/gpu_check.md says what
every line of the table means):
  render     fdsl-gen renders a FractalDB sample into --work (kept for the next run);
  pretrain   torchrun starts one rank per device (gloo ranks on the CPU), each running
             `fdsl-train pretrain --stop-after-steps STEPS` on an epoch that holds those
             steps; log.jsonl must show exactly STEPS steps, every rank must report STEPS
             batches and the same weights, and the log's times give the steady step rate
             after the warm-up steps;
  train step bench/train_step.py: steps fed by synthetic input against the shard
             pipeline, and the loader alone at 1, 4, 8 and 16 workers;
  live       `fdsl-train pretrain --data live:SAMPLE` for a few steps.
Every training stage runs with --gpu-augment (fdsl-train's default on a GPU),
on the CPU as well, so that a CPU run takes the path a GPU run takes.
The exit status is 1 only when a stage failed (a command failed or timed out, a
step count or the weights across ranks differ); each failure is one line naming
its stage. `--device cuda` on a machine without CUDA prints one line and exits 0.
"""
import argparse
import contextlib
import hashlib
import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple

import psutil

from common import load_line, median

BENCH = Path(__file__).resolve().parent
MODEL = "vit_tiny_patch16_224"
AS_RANK = "--as-rank"  # how torchrun starts this script inside each rank


@dataclass(frozen=True)
class Size:
    categories: int
    image_px: int  # rendered
    points: int
    samples_per_shard: int
    input_px: int  # what the model sees
    batch: int  # per rank
    steps: int  # pretrain steps
    warmup: int  # of those, left out of the steady rate
    log_interval: int
    bench_steps: int  # train_step.py's timed steps, after bench_warmup
    bench_warmup: int
    live_steps: int
    workers: int  # loader workers per rank, at most
    loader_workers: Tuple[int, ...]


SIZES = {
    "full": Size(categories=32, image_px=362, points=200_000, samples_per_shard=200, input_px=224, batch=128,
                 steps=100, warmup=20, log_interval=10, bench_steps=30, bench_warmup=5, live_steps=20, workers=16,
                 loader_workers=(1, 4, 8, 16)),
    "tiny": Size(categories=4, image_px=64, points=5000, samples_per_shard=24, input_px=32, batch=8,
                 steps=12, warmup=4, log_interval=2, bench_steps=4, bench_warmup=1, live_steps=4, workers=1,
                 loader_workers=(1, 2)),
}
# seconds each stage may take; together under the 10 minutes a lent machine gives one command
TIMEOUTS = {"render": 120, "pretrain": 150, "train step": 180, "live": 90}


@dataclass(frozen=True)
class Setup:
    """What every stage of one check shares."""

    size: Size
    device: str  # cuda or cpu
    ranks: int
    workers: int  # loader workers per rank
    augment: bool  # --gpu-augment
    work: Path
    env: dict  # of every command
    images: int  # in the sample

    @property
    def logs(self) -> Path:
        return self.work / "logs"

    @property
    def sample(self) -> Path:
        return self.work / f"fractaldb-{self.size.image_px}px-{self.images}"

    def augment_flag(self) -> str:
        return "--gpu-augment" if self.augment else "--no-gpu-augment"


class Failed(Exception):
    """A stage failed; the message is its one line."""


def run(stage: str, command: List[str], env: dict, logs: Path) -> str:
    """stdout of `command`, which must end with status 0 within the stage's time-out; its whole output goes
    to LOGS/STAGE.log. A command cut short is ended with every process under it."""
    limit, log = TIMEOUTS[stage], logs / f"{stage.replace(' ', '_')}.log"
    logs.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err = "", ""
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        raise Failed(f"no end after {limit} s ({log})") from None
    finally:
        if proc.poll() is None:
            end_tree(proc.pid)
            out, err = proc.communicate()
        log.write_text(f"$ {shlex.join(command)}\n{out}{err}")
    if proc.returncode:
        raise Failed(f"exit status {proc.returncode}: {why(out + err)} ({log})")
    return out


def end_tree(pid: int) -> None:
    """SIGKILL process `pid` and every process under it. Not its process group: torchrun starts each rank in
    a session of its own, and the loader workers are the ranks' children."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(tree, timeout=30)


def why(output: str) -> str:
    """The line of a failed command's output that says why: its first exception (the failing rank's, where
    torchrun reports the ranks' ends after it), else its last line that is not a rule."""
    lines = [line.strip() for line in output.splitlines() if line.strip(" =-")]
    raised = [line for line in lines if re.search(r"\w(Error|Exception): \S", line)]
    return raised[0] if raised else lines[-1] if lines else "no output"


def images_needed(size: Size, ranks: int, workers: int) -> int:
    """Images for one epoch to hold every stage's batches: the pretrain steps of every rank, a train_step.py
    pipeline turn, and the loader alone at its largest worker count."""
    from train_step import LOADER_WINDOW, PREFETCH  # its windows: imported here, as it loads torch and timm

    pretrain = size.steps * ranks
    pipeline = size.bench_warmup + PREFETCH * workers + size.bench_steps
    alone = (PREFETCH + LOADER_WINDOW) * max(size.loader_workers)
    per_category = math.ceil(max(pretrain, pipeline, alone) * size.batch / size.categories)
    return per_category * size.categories


def render(setup: Setup) -> List[tuple]:
    """The sample, rendered unless a finished one is there."""
    size, data = setup.size, setup.sample
    images, what = f"{setup.images} images", f"{size.image_px} px, {size.categories} categories"
    if (data / "manifest.json").exists():
        return [("render", images, f"{what}, reused from an earlier run")]
    shutil.rmtree(data, ignore_errors=True)  # a render cut short
    start = time.perf_counter()
    run("render", [sys.executable, "-m", "fdsl_gen", "render", "fractaldb", "--search",
                   "--categories", str(size.categories), "--instances", str(setup.images // size.categories),
                   "--size", str(size.image_px), "--points", str(size.points),
                   "--samples-per-shard", str(size.samples_per_shard), "--workers", str(os.cpu_count() or 1),
                   "--out", str(data), "--quiet"], setup.env, setup.logs)
    return [("render", images, f"{what}, {time.perf_counter() - start:.1f} s")]


def pretrain_args(setup: Setup, data: str, output: Path, steps: int) -> List[str]:
    """`fdsl-train pretrain` for exactly `steps` steps in one epoch."""
    size = setup.size
    return ["pretrain", "--data", data, "--output", str(output), "--model", MODEL, "--img-size", str(size.input_px),
            "-b", str(size.batch), "--epochs", "1", "--stop-after-steps", str(steps),
            "--log-interval", str(size.log_interval), "-j", str(setup.workers), "--seed", "0", setup.augment_flag()]


def log_records(run_folder: Path) -> List[dict]:
    path = run_folder / "log.jsonl"
    if not path.exists():
        raise Failed(f"{path} is missing")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def check_steps(records: List[dict], steps: int) -> None:
    """The run must have ended at step `steps` (its closing record: stop, or epoch where the steps fill it),
    and logged no step beyond it."""
    last = [r for r in records if r["event"] in ("stop", "epoch")]
    ran = max((r["step"] for r in records if r["event"] == "step"), default=0)
    if not last or last[-1]["step"] != steps or ran > steps:
        ended = last[-1]["step"] if last else "no end record"
        raise Failed(f"asked for {steps} steps; the log's last step is {ran}, its end record {ended}")


def steady_rate(records: List[dict], after: int, samples_per_step: int) -> Tuple[float, str]:
    """Images/s between the first step record at or after step `after` and the last one, from the log's times."""
    steps = [r for r in records if r["event"] == "step"]
    first = next((r for r in steps if r["step"] >= after), None)
    if first is None or steps[-1]["step"] <= first["step"]:
        raise Failed(f"no step records after step {after} to time")
    last = steps[-1]
    rate = (last["step"] - first["step"]) * samples_per_step / (last["time"] - first["time"])
    return rate, f"steps {first['step']} to {last['step']}, from log.jsonl times"


def check_ranks(reports: List[dict], ranks: int, steps: int, device: str) -> Tuple[str, str]:
    """`reports` in rank order: every rank trained `steps` batches on a device of its own, in a process group
    of the expected backend (nccl on GPUs, gloo on the CPU, none for one rank), and ends with the same weights.

    The (batches, weights) figures of the table.
    """
    found = [report["rank"] for report in reports]
    if found != list(range(ranks)):
        raise Failed(f"rank reports {found}, expected ranks 0 to {ranks - 1}")
    backend = ("nccl" if device == "cuda" else "gloo") if ranks > 1 else "none"
    backends = {report["backend"] for report in reports}
    if backends != {backend}:
        raise Failed(f"process group backend {sorted(backends)}, expected {backend}")
    devices = [report["device"] for report in reports]
    if any(not name.startswith(device) for name in devices) or (device == "cuda" and len(set(devices)) < ranks):
        raise Failed(f"ranks trained on {devices}, expected a {device} device each")
    batches = [report["batches"] for report in reports]
    if set(batches) != {steps}:
        raise Failed(f"batches per rank {batches}, expected {steps} each")
    digests = {report["digest"] for report in reports}
    if len(digests) != 1:
        raise Failed(f"{ranks} ranks end with {len(digests)} different sets of weights")
    return " = ".join(map(str, batches)), f"{ranks} rank(s), 1 weight digest"


def pretrain(setup: Setup) -> List[tuple]:
    size, ranks = setup.size, setup.ranks
    output, reports = setup.work / "pretrain", setup.work / "ranks"
    for folder in (output, reports):
        shutil.rmtree(folder, ignore_errors=True)
    reports.mkdir(parents=True)
    run("pretrain", [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}",
                     str(Path(__file__).resolve()), AS_RANK, str(reports),
                     *pretrain_args(setup, str(setup.sample), output, size.steps)], setup.env, setup.logs)
    records = log_records(output)
    check_steps(records, size.steps)
    found = sorted((json.loads(path.read_text()) for path in reports.glob("rank-*.json")), key=lambda r: r["rank"])
    batches, weights = check_ranks(found, ranks, size.steps, setup.device)
    launch = f"torchrun, {ranks} rank(s), {found[0]['backend']}" if ranks > 1 else "torchrun, 1 rank: no process group"
    rate, window = steady_rate(records, size.warmup, size.batch * ranks)
    devices = ", ".join(report["device"] for report in found)
    augment = json.loads((output / "run.json").read_text())["gpu_augment"]
    return [(f"pretrain ({launch})", f"{size.steps} of {size.steps} steps",
             f"{setup.workers} loader worker(s) per rank, gpu-augment {'on' if augment else 'off'}"),
            ("pretrain, batches per rank", batches, f"each rank's own count, on {devices}"),
            ("pretrain, weights across ranks", weights, "sha256 of every parameter, taken in each rank"),
            ("pretrain, steady rate", f"{rate:.1f} images/s", window)]


def train_step(setup: Setup) -> List[tuple]:
    size, workers = setup.size, setup.workers
    figures = setup.work / "train_step.json"
    figures.unlink(missing_ok=True)
    run("train step", [sys.executable, str(BENCH / "train_step.py"), "--data", str(setup.sample), "--model", MODEL,
                       "--img-size", str(size.input_px), "--batch-size", str(size.batch), "--workers", str(workers),
                       "--steps", str(size.bench_steps), "--warmup", str(size.bench_warmup), "--rounds", "3",
                       "--loader-workers", ",".join(map(str, size.loader_workers)), "--json", str(figures),
                       setup.augment_flag()], setup.env, setup.logs)
    found = json.loads(figures.read_text())
    rounds = f"median of 3 rounds of {size.bench_steps} steps, gpu-augment {'on' if found['gpu_augment'] else 'off'}"
    rows = [("train step, synthetic input", f"{median(found['synthetic']):.1f} images/s", rounds),
            (f"train step, shard pipeline, {workers} worker(s)", f"{median(found['pipeline']):.1f} images/s",
             f"pipeline cost {median(found['pipeline_cost']):.1f} % of the synthetic rate")]
    for count, rates in found["loader"].items():
        rows.append((f"loader alone, {count} worker(s)", f"{median(rates):.1f} samples/s",
                     f"{median(rates) / int(count):.1f} per worker"))
    return rows


def live(setup: Setup) -> List[tuple]:
    size, output = setup.size, setup.work / "live"
    shutil.rmtree(output, ignore_errors=True)
    run("live", [sys.executable, "-m", "fdsl_train",
                 *pretrain_args(setup, f"live:{setup.sample}", output, size.live_steps)], setup.env, setup.logs)
    records = log_records(output)
    check_steps(records, size.live_steps)
    rate, window = steady_rate(records, size.log_interval, size.batch)
    return [("live: pretrain, rendered in the workers", f"{size.live_steps} of {size.live_steps} steps",
             f"{rate:.1f} images/s, {window}")]


def device_line(device: str, ranks: int) -> str:
    import torch

    if device == "cuda":
        name = f"{torch.cuda.get_device_name(0)} x {torch.cuda.device_count()}, {ranks} used"
    else:
        name = f"CPU, {ranks} gloo ranks"
    return f"{name}, torch {torch.__version__}; {load_line()}"


def print_table(header: str, rows: List[tuple]) -> None:
    print(f"gpu_check: {header}")
    print("| stage | figure | how |")
    print("| --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def check(args) -> int:
    size = SIZES[args.size]
    env = dict(os.environ)
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = env["CUDA_VISIBLE_DEVICES"] = ""
        # ranks, loader workers and the step share the cores: math threads beyond one spin against each other
        env.setdefault("OMP_NUM_THREADS", "1")
    import torch

    devices = torch.cuda.device_count() if args.device == "cuda" else 0
    if args.device == "cuda" and not devices:
        print("gpu_check: no device: torch sees no CUDA GPU, nothing to check on this machine")
        return 0
    ranks = args.ranks or devices or 2
    if args.device == "cuda" and ranks > devices:
        raise SystemExit(f"gpu_check: --ranks {ranks}: this machine has {devices} GPU(s)")
    workers = max(1, min(size.workers, (os.cpu_count() or 1) // ranks))
    setup = Setup(size, args.device, ranks, workers, args.gpu_augment, args.work.resolve(), env,
                  images_needed(size, ranks, workers))
    setup.work.mkdir(parents=True, exist_ok=True)
    # a SIGTERM (`timeout`, a job's time limit) ends the check through `run`'s clean-up, which ends the stage
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(f"gpu_check: stopped by SIGTERM (logs: {setup.logs})"))
    start, rows, failed = time.perf_counter(), [], False
    for stage, measure in {"render": render, "pretrain": pretrain, "train step": train_step, "live": live}.items():
        try:
            rows += measure(setup)
        except Failed as failure:
            failed = True
            rows.append((stage, "FAILED", str(failure)))
            print(f"gpu_check: {stage} FAILED: {failure}", file=sys.stderr)
            if stage == "render":
                break  # without the sample nothing else can run
    rows.append(("all stages", f"{time.perf_counter() - start:.1f} s", "wall time of the check"))
    print_table(f"--device {args.device} --size {args.size}: {device_line(args.device, ranks)}", rows)
    return 1 if failed else 0


def as_rank(reports: Path, argv: List[str]) -> None:
    """Inside one torchrun rank: `fdsl-train ARGV`, then this rank's batch count and weight digest as JSON.

    fdsl-train writes its log and checkpoints from rank 0 only, so each rank reports what it trained on
    itself, right after training, while the process group still stands.
    """
    import torch.distributed as torch_dist
    from fdsl_train import cli, pretrain as command
    from fdsl_train.run.models import unwrap

    train = command.fit

    def fit_and_report(trainer, loader, position, opts, session, **kwargs):
        train(trainer, loader, position, opts, session, **kwargs)
        digest = hashlib.sha256()
        for name, parameter in unwrap(trainer.model).named_parameters():
            digest.update(name.encode())
            digest.update(parameter.detach().float().cpu().numpy().tobytes())
        backend = torch_dist.get_backend() if torch_dist.is_initialized() else "none"
        report = {"rank": session.ranks.rank, "batches": position.step, "backend": backend,
                  "device": str(session.accel.device), "digest": digest.hexdigest()}
        (reports / f"rank-{session.ranks.rank}.json").write_text(json.dumps(report))

    command.fit = fit_and_report
    cli.cli.main(args=argv, prog_name="fdsl-train")


def main() -> None:
    if sys.argv[1:2] == [AS_RANK]:
        as_rank(Path(sys.argv[2]), sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--ranks", type=int, default=None,
                        help="torchrun ranks [every visible GPU; 2 with --device cpu]")
    parser.add_argument("--work", type=Path, default=BENCH.parent / "runs" / "gpu_check",
                        help="work folder; the rendered sample stays there for the next run")
    parser.add_argument("--gpu-augment", action=argparse.BooleanOptionalAction, default=True,
                        help="fdsl-train's --gpu-augment, on the CPU too, so that a CPU run takes the GPU's path")
    args = parser.parse_args()
    if args.ranks is not None and args.ranks < 1:
        parser.error(f"--ranks {args.ranks}: at least 1")
    sys.exit(check(args))


if __name__ == "__main__":
    main()
