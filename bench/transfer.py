"""One transfer protocol over every dataset family, with scratch and the papers' control datasets.

Every row pre-trains the same model on a dataset of the same number of
classes and images, for the same epochs, then fine-tunes it on
Fashion-MNIST at 10, 100 and 1000 labels per class (one subset per seed,
the same subsets for every row), and fits a linear probe on its frozen
features. Rows: fractaldb, exfractaldb, mvfractaldb, rcdb, visualatom,
ofdb, 1p-frac (LPCE), real1p (LPCE, one photo); controls: scratch (no
pre-training), perlin, bezier and 1p-frac-sigma6 (sigma 5.9 +- 0.1, up
to 6, breaks the fractal shape); fractaldb-fresh pre-trains on the fractaldb row's dataset
rendered live with new instances every epoch (`--data live:DIR
--fresh-epochs`), at the same budget. The table gives the mean +- std of
the final top-1 over seeds and the paired gain over scratch (same seed,
same labelled subset).

Fashion-MNIST comes from Debian's package (`apt-get install
dataset-fashion-mnist`, idx files in /usr/share/datasets/fashion-mnist),
converted once by `fdsl-train import-idx`.

Every stage is the fdsl-gen or fdsl-train command as typed, run by the
commands' own CLI entry point inside --jobs long-lived worker processes
(so torch and timm are imported once per worker, not once per run), each
on cpu_count / jobs math threads: small convolutions scale poorly over
threads (here a resnet10t epoch at 32 px takes 1.6x as long on two threads
as on one, so two one-thread runs side by side do 3x the work). A row's
fine-tuning runs start as soon as its pre-training ends. Each command's
output goes to WORK/SCALE/logs/.

    python bench/transfer.py                         # the whole table (default size, 2 CPU cores)
    python bench/transfer.py --jobs 4                # four commands at a time, each on cpu_count / 4 threads
    python bench/transfer.py --scale smoke           # a few minutes: checks that every stage runs
    python bench/transfer.py --scale paper           # paper-scale settings, for a GPU machine
    python bench/transfer.py --rows fractaldb,perlin --labels 100 --seeds 0,1,2
"""
import argparse
import contextlib
import hashlib
import json
import math
import multiprocessing
import os
import resource
import statistics
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Dict, List, Sequence

FASHION = Path("/usr/share/datasets/fashion-mnist")
WORK = Path("runs/transfer")
CLASSES = 10  # Fashion-MNIST


@dataclass(frozen=True)
class Scale:
    """Everything that sizes a run; the same for every row."""

    categories: int = 32  # pre-training classes of every dataset
    per_category: int = 100  # images per class
    render_size: int = 48
    points: int = 10_000  # chaos-game points of the 2D fractal rows
    # resnet10t: a resnet18 step at 32 px is 2.3x slower here, most of it in the backward pass of the
    # 3x3 convolutions on layer4's 1x1 maps
    model: str = "resnet10t"
    img_size: int = 32
    pretrain_epochs: int = 8
    batch_size: int = 64
    finetune_samples: int = 2400  # samples seen by each fine-tuning run, whatever its label count
    finetune_epochs: int = 2  # at most; fewer when the labelled set alone exceeds the sample budget
    train_pool: int = 12_000  # first Fashion-MNIST training images the labelled subsets are drawn from
    val_images: int = 1000  # first Fashion-MNIST test images, the read-out
    probe_labels: int = 100  # labels per class of the linear probe's training set
    workers: int = 1  # loader workers per command


SCALES = {
    "default": Scale(),
    "smoke": Scale(categories=8, per_category=16, render_size=32, points=2000, img_size=32, pretrain_epochs=1,
                   batch_size=32, finetune_samples=320, finetune_epochs=1, train_pool=1200, val_images=200,
                   probe_labels=10),
    # the papers' pre-training size (1k classes x 1k images, ViT-Tiny, 300 epochs: see docs) on a GPU machine
    "paper": Scale(categories=1000, per_category=1000, render_size=362, points=200_000, model="deit_tiny_patch16_224",
                   img_size=224, pretrain_epochs=300, batch_size=256, finetune_samples=500_000, finetune_epochs=100,
                   train_pool=60_000, val_images=10_000, probe_labels=1000, workers=16),
}

ROWS = ("scratch", "fractaldb", "fractaldb-fresh", "exfractaldb", "mvfractaldb", "rcdb", "visualatom", "ofdb", "1p-frac", "real1p",
        "perlin", "bezier", "1p-frac-sigma6")
# Rows that pre-train on another row's dataset, rendered live with new instances every epoch (--fresh-epochs):
# the same classes, images per epoch, epochs and options, so the same budget.
FRESH = {"fractaldb-fresh": "fractaldb"}


def render_args(row: str, scale: Scale, photo: Path) -> List[str]:
    """The fdsl-gen command of a row: scale.categories classes of scale.per_category images.

    real1p has one image per class, so it gets categories x per_category
    classes: the same images and pre-training budget, more classes."""
    row = FRESH.get(row, row)
    c, n, size, pts = str(scale.categories), str(scale.per_category), str(scale.render_size), str(scale.points)
    return {
        "fractaldb": ["fractaldb", "--search", "--categories", c, "--instances", n, "--points", pts],
        "exfractaldb": ["exfractaldb", "--search", "--categories", c, "--instances", n],
        "mvfractaldb": ["mvfractaldb", "--search", "--categories", c, "--instances", n],
        "rcdb": ["rcdb", "--categories", c, "--instances", n],
        "visualatom": ["visualatom", "--categories", c, "--instances", n],
        "ofdb": ["ofdb", "--search", "--categories", c, "--instances", n, "--points", pts],
        "1p-frac": ["1p-frac", "--classes", c, "--instances", n, "--points", pts],
        # 5.9 +- 0.1 with the default 2 maps: up to 6, every singular value 1, where the shape dissolves
        "1p-frac-sigma6": ["1p-frac", "--classes", c, "--instances", n, "--points", pts, "--sigma", "5.9"],
        "real1p": ["real1p", "--image", str(photo), "--classes", str(scale.categories * scale.per_category)],
        "perlin": ["perlin", "--categories", c, "--instances", n],
        "bezier": ["bezier", "--categories", c, "--instances", n],
    }[row] + ["--size", size, "--quiet"]


# ---------------------------------------------------------------- labelled subsets

def subset(labels: Sequence[int], per_class: int, seed: int) -> List[int]:
    """Indices of `per_class` images of each class, drawn with `seed`; the same for every row."""
    chosen = []
    for cls in range(CLASSES):
        pool = [i for i, label in enumerate(labels) if label == cls]
        if len(pool) < per_class:
            raise SystemExit(f"transfer.py: error: the training pool holds {len(pool)} images of class {cls}, "
                             f"fewer than {per_class}: raise --train-pool")
        # rank by a seeded hash: stable across Python versions, independent of pool order elsewhere
        pool.sort(key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).digest())
        chosen += sorted(pool[:per_class])
    return chosen


def copies_and_epochs(images: int, scale: Scale) -> tuple:
    """(copies, epochs): the labelled set repeated `copies` times per epoch so that every run sees
    about scale.finetune_samples samples in at most scale.finetune_epochs evaluations."""
    copies = max(1, math.ceil(scale.finetune_samples / scale.finetune_epochs / images))
    epochs = max(1, min(scale.finetune_epochs, round(scale.finetune_samples / (images * copies))))
    return copies, epochs


def link_subset(pool: Path, chosen: Sequence[int], copies: int, out: Path) -> Path:
    """An ImageFolder split of symbolic links to the pool's images, each `copies` times."""
    files = sorted(pool.rglob("*.png"))
    if out.exists():
        return out
    tmp = out.with_name(out.name + ".tmp")
    for i in chosen:
        source = files[i]
        for k in range(copies):
            target = tmp / source.parent.name / f"{k}-{source.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source.resolve())
    tmp.rename(out)
    return out


def pool_labels(pool: Path) -> List[int]:
    """The class of every pool image, in sorted file order (ImageFolder class folders are 0..9)."""
    return [int(path.parent.name) for path in sorted(pool.rglob("*.png"))]


# ---------------------------------------------------------------- statistics

def mean_std(values: Sequence[float]) -> str:
    if not values:
        return "-"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.1f} ± {std:.1f}"


def paired_gain(row: Dict[int, float], scratch: Dict[int, float]) -> str:
    """Mean +- std over seeds of (row - scratch), seed by seed."""
    seeds = sorted(set(row) & set(scratch))
    return mean_std([row[s] - scratch[s] for s in seeds]) if seeds else "-"


def table(results: dict, rows: Sequence[str], labels: Sequence[int]) -> str:
    """Markdown: per row, top-1 mean +- std and paired gain over scratch at each label count, and the probe."""
    head = ["row"] + [f"{n}/class top-1 | gain" for n in labels] + ["probe top-1 | gain"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * (1 + 2 * len(labels) + 2)]
    scratch = results.get("scratch", {})
    for row in rows:
        cells = [row]
        for key in [f"finetune-{n}" for n in labels] + ["probe"]:
            runs = {int(s): v for s, v in results.get(row, {}).get(key, {}).items()}
            base = {int(s): v for s, v in scratch.get(key, {}).items()}
            cells += [mean_std(list(runs.values())), "-" if row == "scratch" else paired_gain(runs, base)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- running commands

def _start_worker(threads: int) -> None:
    # before torch is imported in this process: its OpenMP pool is sized once
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    # a spawned worker would hand "spawn" on to the loader workers of the commands it runs, and each would
    # import torch again every epoch; the platform's default is what the command gets from a shell
    multiprocessing.set_start_method(multiprocessing.get_all_start_methods()[0], force=True)


def command(program: str, *args: str, log: Path) -> None:
    """Run `program args` (fdsl-gen or fdsl-train) through its CLI in this process, output to `log`.

    Called inside a Runner worker; a refusal or failure is raised as a one-line RuntimeError."""
    if program == "fdsl-gen":
        from fdsl_gen.cli import main as cli
    else:
        from fdsl_train.cli import cli
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        print("$", program, *args, flush=True)
        try:
            status = cli.main(list(args), prog_name=program, standalone_mode=False)
        except SystemExit as exit:
            status = exit.code
        except Exception as err:  # a click refusal or a crash: named with the command, picklable
            raise RuntimeError(f"{program} {' '.join(args)}: {err} (see {log})") from None
    if status not in (None, 0):
        raise RuntimeError(f"{program} {' '.join(args)} exited with {status} (see {log})")


class Runner:
    """`jobs` worker processes that run stage functions; a worker that dies fails every row still running."""

    def __init__(self, jobs: int):
        threads = max(1, (os.cpu_count() or 1) // jobs)
        # spawn: workers must not inherit this process's threads
        self.pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_start_worker, initargs=(threads,))

    def submit(self, function, *args) -> Future:
        return self.pool.submit(function, *args)

    def call(self, function, *args):
        return self.submit(function, *args).result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------- stages (each runs in a Runner worker)

def import_fashion(source: Path, folder: Path, prefix: str, limit: int, logs: Path) -> None:
    command("fdsl-train", "import-idx", "--images", str(source / f"{prefix}-images-idx3-ubyte.gz"),
            "--labels", str(source / f"{prefix}-labels-idx1-ubyte.gz"), "--out", str(folder),
            "--limit", str(limit), log=logs / f"import-{folder.name}.txt")


def photo(path: Path) -> Path:
    """The real1p row's photo: scikit-image's camera man (public domain), saved once."""
    if not path.exists():
        from PIL import Image
        from skimage import data
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(data.camera()).save(path)
    return path


def render(dataset: str, scale: Scale, work: Path, camera: Path) -> Path:
    folder = work / "data" / dataset
    if not (folder / "manifest.json").exists():
        command("fdsl-gen", "render", *render_args(dataset, scale, camera), "--out", str(folder),
                "--workers", "1", log=work / "logs" / f"render-{dataset}.txt")
    return folder


def pretrain(row: str, data: Path, scale: Scale, work: Path) -> Path:
    """The same preset, budget and seed for every row (LPCE rows: the manifest's loss, same options)."""
    out = work / "pretrain" / row
    if not (out / "model.safetensors").exists() or len(_epochs(out)) < scale.pretrain_epochs:
        source = [f"live:{data}", "--fresh-epochs"] if row in FRESH else [str(data)]
        command("fdsl-train", "pretrain", "--data", *source, "--output", str(out), *_common(scale),
                "--preset", "fractaldb-resnet", "--crop", "rrc", "--scale", "0.25,1", "--hflip", "0.5",
                "--opt", "adamw", "--lr", "2e-3", "--weight-decay", "0.05", "--sched", "cosine",
                "--warmup-epochs", "1", "-b", str(scale.batch_size), "--epochs", str(scale.pretrain_epochs),
                log=work / "logs" / f"pretrain-{row}.txt")
    return out


def scratch_checkpoint(scale: Scale, work: Path) -> Path:
    """Randomly initialised weights (seed 0) in a run folder, so that the probe reads scratch like any row."""
    out = work / "pretrain" / "scratch"
    if not (out / "model.safetensors").exists():
        import torch

        from fdsl_train import presets
        from fdsl_train.run import checkpoint, models
        torch.manual_seed(0)
        model = models.create(scale.model, num_classes=scale.categories, img_size=scale.img_size)
        preset = presets.resolve("fractaldb-resnet", {"model": scale.model, "img_size": scale.img_size})
        checkpoint.save_weights(model, out, preset)
    return out


def finetune(pretrained, train: Path, val_root: Path, epochs: int, seed: int, scale: Scale, out: Path,
             log: Path) -> float:
    if len(_top1(out)) < epochs:
        command("fdsl-train", "finetune", *(["--pretrained", str(pretrained)] if pretrained else []),
                "--data", str(_splits(out, train, val_root)), "--val-split", "val", "--output", str(out),
                *_common(scale, seed), "--preset", "finetune", "-b", str(scale.batch_size), "--lr", "1e-3",
                "--epochs", str(epochs), "--warmup-epochs", f"{0.2 * epochs:g}", "--scale", "0.5,1", "--aa", "", "--mixup", "0",
                "--cutmix", "0", "--reprob", "0", "--drop-path", "0", log=log)
    return _top1(out)[-1]


def probe(pretrained: Path, train: Path, val_root: Path, scale: Scale, out: Path, log: Path) -> float:
    """Linear probe on the last feature level (global average of the final stage or block)."""
    if not (out / "probe.json").exists():
        command("fdsl-train", "probe", "--pretrained", str(pretrained), "--data", str(_splits(out, train, val_root)),
                "--output", str(out), "--layers", str(_last_layer(scale)), "-j", str(scale.workers), "--epochs", "50",
                "--val-split", "val", "--overwrite", log=log)
    return next(iter(json.loads((out / "probe.json").read_text()).values()))


def _splits(out: Path, train: Path, val_root: Path) -> Path:
    """An ImageFolder root beside the run folder: links to the labelled subset and the read-out images."""
    data = out.with_name(out.name + "-data")
    data.mkdir(parents=True, exist_ok=True)
    for split, source in (("train", train), ("val", val_root)):
        if not (data / split).exists():
            (data / split).symlink_to(source.resolve())
    return data


def _common(scale: Scale, seed: int = 0) -> List[str]:
    # --overwrite: a run is started again only when an earlier one was cut short; it replaces that one
    return ["--model", scale.model, "--img-size", str(scale.img_size), "-j", str(scale.workers), "--seed", str(seed),
            "--overwrite"]


def _last_layer(scale: Scale) -> int:
    import timm
    return len(timm.create_model(scale.model, pretrained=False).feature_info)


def _epochs(run_folder: Path) -> List[dict]:
    """The epoch records of a run's log.jsonl (none before it has one)."""
    log = run_folder / "log.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [r for r in records if r["event"] == "epoch"]


def _top1(run_folder: Path) -> List[float]:
    return [r["top1"] for r in _epochs(run_folder) if "top1" in r]


def _cpu_minutes() -> float:
    """CPU time of this process and its finished workers: a figure that a busy machine stretches far less than wall."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total / 60


# ---------------------------------------------------------------- the table

@dataclass(frozen=True)
class Plan:
    scale: Scale
    work: Path
    labels: Sequence[int]
    seeds: Sequence[int]
    pool: Path
    val: Path
    classes: Sequence[int]


def fashion_mnist(runner: Runner, source: Path, root: Path, scale: Scale) -> tuple:
    """(training pool, val split) ImageFolder trees from the idx files in `source` (Debian's package's)."""
    missing = [f"{prefix}-{kind}-idx{dims}-ubyte.gz" for prefix in ("train", "t10k")
               for kind, dims in (("images", 3), ("labels", 1))
               if not (source / f"{prefix}-{kind}-idx{dims}-ubyte.gz").is_file()]
    if missing:
        raise SystemExit(f"transfer.py: error: {source / missing[0]} not found: "
                         "install Fashion-MNIST with `apt-get install dataset-fashion-mnist`")
    pool, val = root / f"pool-{scale.train_pool}", root / f"val-{scale.val_images}"
    for folder, prefix, limit in ((pool, "train", scale.train_pool), (val, "t10k", scale.val_images)):
        if not folder.exists():
            runner.call(import_fashion, source, folder, prefix, limit, root.parent / "logs")
    return pool, val


def subsets(plan: Plan) -> Dict[tuple, Path]:
    """Every labelled split the rows share, keyed by (labels per class, seed): made before any row starts."""
    made = {}
    needed = [(n, copies_and_epochs(CLASSES * n, plan.scale)[0]) for n in plan.labels] + [(plan.scale.probe_labels, 1)]
    for n, copies in needed:
        for seed in plan.seeds:
            made[n, seed, copies] = link_subset(plan.pool, subset(plan.classes, n, seed), copies,
                                                plan.work / "subsets" / f"{n}x{copies}-s{seed}")
    return made


def row_results(row: str, plan: Plan, runner: Runner, datasets: Dict[str, Future], splits: Dict[tuple, Path]) -> dict:
    """Pre-train one row (scratch: save its initial weights), then fine-tune and probe it, all seeds at once."""
    scale, work = plan.scale, plan.work
    if row == "scratch":
        weights = runner.call(scratch_checkpoint, scale, work)
    else:
        weights = runner.call(pretrain, row, datasets[FRESH.get(row, row)].result(), scale, work)
    pending = {}
    for n in plan.labels:
        copies, epochs = copies_and_epochs(CLASSES * n, scale)
        for seed in plan.seeds:
            out = work / "finetune" / row / f"{n}-s{seed}"
            pending[f"finetune-{n}", seed] = runner.submit(
                finetune, None if row == "scratch" else weights, splits[n, seed, copies], plan.val, epochs, seed,
                scale, out, work / "logs" / f"finetune-{row}-{n}-s{seed}.txt")
    for seed in plan.seeds:
        pending["probe", seed] = runner.submit(
            probe, weights, splits[scale.probe_labels, seed, 1], plan.val, scale, work / "probe" / row / f"s{seed}",
            work / "logs" / f"probe-{row}-s{seed}.txt")
    entry: dict = {}
    for (key, seed), future in pending.items():
        entry.setdefault(key, {})[str(seed)] = future.result()
    return entry


def run_table(rows: Sequence[str], plan: Plan, runner: Runner) -> dict:
    """Every row's results; rows run side by side over the runner's workers, renders first."""
    results_path = plan.work / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    splits = subsets(plan)
    camera = photo(plan.work / "camera.png")
    datasets = {d: runner.submit(render, d, plan.scale, plan.work, camera)
                for d in dict.fromkeys(FRESH.get(r, r) for r in rows if r != "scratch")}
    with ThreadPoolExecutor(len(rows)) as threads:
        futures = {threads.submit(row_results, row, plan, runner, datasets, splits): row for row in rows}
        wait(futures)  # a failed row does not stop the others: their runs are kept, and a rerun resumes
    failed = [(futures[f], f.exception()) for f in futures if f.exception() is not None]
    for future in futures:
        if future.exception() is None:
            results.setdefault(futures[future], {}).update(future.result())
    results_path.write_text(json.dumps(results, indent=2))
    if failed:
        row, error = failed[0]
        raise SystemExit(f"transfer.py: error: {len(failed)} row(s) failed, the first: {row}: {error}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="default")
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated, from: " + ", ".join(ROWS))
    parser.add_argument("--labels", default="10,100,1000", help="labels per class of the fine-tuning runs")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--workers", type=int, default=None, help="loader workers per command [the scale's]")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="commands at a time, each on cpu_count / jobs threads [cpu_count]")
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--fashion-mnist", type=Path, default=FASHION,
                        help=f"folder of Fashion-MNIST's four idx .gz files [{FASHION}]")
    args = parser.parse_args()
    scale = SCALES[args.scale] if args.workers is None else replace(SCALES[args.scale], workers=args.workers)
    rows = [r for r in args.rows.split(",") if r]
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        raise SystemExit(f"transfer.py: error: unknown row {unknown[0]} (known: {', '.join(ROWS)})")
    if args.jobs < 1:
        raise SystemExit("transfer.py: error: --jobs must be at least 1")
    rows = (["scratch"] if "scratch" not in rows else []) + rows
    work = args.work / args.scale
    start = time.time()
    runner = Runner(args.jobs)
    try:
        pool, val = fashion_mnist(runner, args.fashion_mnist, work / "fashion-mnist", scale)
        plan = Plan(scale, work, [int(n) for n in args.labels.split(",")], [int(s) for s in args.seeds.split(",")],
                    pool, val, pool_labels(pool))
        results = run_table(rows, plan, runner)
    finally:
        runner.close()
    print(f"\n{scale.model} at {scale.img_size} px; pre-training: {scale.categories} classes x {scale.per_category} "
          f"images at {scale.render_size} px, {scale.pretrain_epochs} epochs; fine-tuning: "
          f"~{scale.finetune_samples} samples per run, top-1 on the first {scale.val_images} Fashion-MNIST test "
          f"images; seeds {args.seeds}; scale {args.scale}; {args.jobs} jobs; {(time.time() - start) / 60:.1f} min "
          f"wall, {_cpu_minutes():.1f} CPU-min; {os.cpu_count()} CPU(s)")
    print(json.dumps(asdict(scale)))
    print(table(results, [r for r in ROWS if r in results and r in rows], plan.labels))


if __name__ == "__main__":
    main()
