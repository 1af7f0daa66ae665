"""One transfer protocol over every dataset family, with scratch and the papers' control datasets (version 2).

Every row pre-trains the same model for the same optimizer steps on a
dataset of the same number of classes, then fine-tunes it on Fashion-MNIST
at each label count and fits a linear probe on its frozen features.

Structure, as each family's paper trains it:
- categories x instances: fractaldb, exfractaldb, mvfractaldb, rcdb,
  visualatom, and the controls perlin and bezier;
- one image per class, repeated with augmentation: ofdb (one FractalDB
  image per category), 1p-frac and 1p-frac-sigma6 (L perturbations of one
  fractal, LPCE), real1p (L perturbations of one photo's edges, LPCE). Their
  shards are listed `per_category` times, so that an epoch holds as many
  images as a categories x instances epoch: the same steps.
- scratch: randomly initialised weights saved as a checkpoint, then
  fine-tuned and probed exactly like a pre-trained row;
- fractaldb-fresh (not in the default rows): fractaldb rendered live with
  new instances every epoch (`--fresh-epochs`).

Budget. Every fine-tuning run takes the same optimizer steps at the same
batch, whatever its label count: the labelled images are linked cyclically
(classes interleaved) into a split of finetune_steps x batch samples, one
epoch. Equal steps, not equal epochs: with a fixed number of passes the
larger label counts would also train longer, and labels and steps would be
confounded. The split must hold every labelled image at least once, so the
largest label count is bounded by the budget (checked). Scratch and every
pre-trained row get the same budget and recipe.

Seeds. Each seed is one replicate: it renders the datasets (render and
search seed 1 + seed), pre-trains (or initialises scratch) with it, draws
the labelled subsets with it (the same subsets for every row) and
fine-tunes with it. The spread covers pre-training and fine-tuning seeds
together. The gain of a row over scratch (or over a control) is paired by
replicate; its 95 % interval is Student's t over the per-replicate
differences (n - 1 degrees of freedom). A row "beats" another where the
whole interval is above zero.

Normalisation: mean = std = 0.5 on every channel, in pre-training,
fine-tuning and the probe, for every row, scratch included.

Fashion-MNIST comes from Debian's package (`apt-get install
dataset-fashion-mnist`, idx files in /usr/share/datasets/fashion-mnist),
converted once by `fdsl-train import-idx`.

Paper scale (`--scale paper`, for a GPU machine). Every row pre-trains
with its paper's preset (docs/recipes.md; ROW_PRESETS), for the preset's
epochs and batch, with the preset's normalisation, which its fine-tuning
and probe then use too; the protocol's budget and fine-tuning recipe stay.
The rows run one at a time (--jobs 1; more jobs than devices are refused,
and each job keeps to one device). A row renders its dataset when it
starts and deletes it after pre-training unless --keep-datasets, so the
disk holds one dataset at a time. Before anything runs, the plan is
printed: per row, images, epochs, GPU-hours at --step-rate (pre-training
images per second on one device, as bench/gpu_check reports it) and disk
at the paper's render size (bytes per image measured from an 8-image
render, or --bytes-per-image), with the totals; --dry-run prints only that.

Every stage is the fdsl-gen or fdsl-train command as typed, run by the
commands' own CLI entry point inside --jobs long-lived worker processes
(so torch and timm are imported once per worker, not once per run), each
on cpu_count / jobs math threads: small convolutions scale poorly over
threads, so two one-thread runs side by side do more work than one on two.
Each command's output goes to WORK/SCALE/logs/. A rerun skips every run
that finished.

    python bench/transfer.py                         # the whole table (default size, 2 CPU cores)
    python bench/transfer.py --scale smoke           # a few minutes: checks that every stage runs
    python bench/transfer.py --scale paper --step-rate 3000 --dry-run   # the paper-scale plan only
    python bench/transfer.py --rows fractaldb,perlin --labels 10 --seeds 0,1,2
"""
import argparse
import contextlib
import hashlib
import json
import multiprocessing
import os
import resource
import shutil
import statistics
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

FASHION = Path("/usr/share/datasets/fashion-mnist")
WORK = Path("runs/transfer")
CLASSES = 10  # Fashion-MNIST
NORM = "0.5,0.5,0.5"  # mean and std of every stage of every row


@dataclass(frozen=True)
class Scale:
    """Everything that sizes a run; the same for every row."""

    categories: int = 32  # pre-training classes of every dataset
    per_category: int = 100  # images per class (one-image rows: repeats of their one image)
    render_size: int = 48
    points: int = 10_000  # chaos-game points of the 2D fractal rows
    # resnet10t: a resnet18 step at 32 px is 2.3x slower here, most of it in the backward pass of the
    # 3x3 convolutions on layer4's 1x1 maps
    model: str = "resnet10t"
    img_size: int = 32
    pretrain_epochs: int = 6  # of categories x per_category images: the same steps for every row
    batch_size: int = 64
    finetune_steps: int = 64  # optimizer steps of every fine-tuning run, whatever its label count
    finetune_epochs: int = 1  # the steps split into this many epochs (a top-1 read after each)
    train_pool: int = 12_000  # first Fashion-MNIST training images the labelled subsets are drawn from
    val_images: int = 1000  # first Fashion-MNIST test images, the read-out
    probe_labels: int = 100  # labels per class of the linear probe's training set
    workers: int = 1  # loader workers per command
    paper_recipes: bool = False  # pre-train each row with its paper's preset (ROW_PRESETS), one row at a time


SCALES = {
    "default": Scale(),
    "smoke": Scale(categories=8, per_category=16, render_size=32, points=2000, img_size=32, pretrain_epochs=1,
                   batch_size=32, finetune_steps=8, finetune_epochs=1, train_pool=1200, val_images=200,
                   probe_labels=10),
    # the papers' pre-training size (1k classes x 1k images) on a GPU machine; model, epochs and batch of the
    # pre-training are each row's preset's (pretrain_epochs: fdsl-vit's, for the work folder's name)
    "paper": Scale(categories=1000, per_category=1000, render_size=362, points=200_000, model="deit_tiny_patch16_224",
                   img_size=224, pretrain_epochs=300, batch_size=256, finetune_steps=23_500, finetune_epochs=100,
                   train_pool=60_000, val_images=10_000, probe_labels=1000, workers=16, paper_recipes=True),
}

ROWS = ("scratch", "fractaldb", "fractaldb-fresh", "exfractaldb", "mvfractaldb", "rcdb", "visualatom", "ofdb",
        "1p-frac", "real1p", "perlin", "bezier", "1p-frac-sigma6")
DEFAULT_ROWS = tuple(r for r in ROWS if r != "fractaldb-fresh")
CONTROLS = ("perlin", "bezier", "1p-frac-sigma6")
# Rows that pre-train on another row's dataset, rendered live with new instances every epoch (--fresh-epochs):
# the same classes, images per epoch, epochs and options, so the same budget.
FRESH = {"fractaldb-fresh": "fractaldb"}
# One image per class, as their papers train them; repeated per_category times per epoch.
ONE_IMAGE = ("ofdb", "1p-frac", "1p-frac-sigma6", "real1p")
# At paper scale, the preset each row pre-trains with (docs/recipes.md). Every other row trains with fdsl-vit, the
# CVPR 2022 recipe: the one ViT recipe of the categories x instances sets (ofdb's own paper is not a preset).
ROW_PRESETS = {"visualatom": "visualatom-vit", "1p-frac": "1p-frac", "1p-frac-sigma6": "1p-frac", "real1p": "1p-frac"}
# Presets whose epochs are passes over one image per class, as the 1p-frac script counts them; a transfer epoch
# repeats those images per_category times, so these rows train preset epochs / per_category of them.
PER_CLASS_EPOCHS = ("1p-frac",)


def render_args(dataset: str, scale: Scale, photo: Path, seed: int) -> List[str]:
    """The fdsl-gen command of a dataset at one seed: scale.categories classes.

    categories x instances rows: scale.per_category images a class; ONE_IMAGE rows: one."""
    c, n, size, pts = str(scale.categories), str(scale.per_category), str(scale.render_size), str(scale.points)
    search = ["--search", "--search-seed", str(1 + seed)]
    return {
        "fractaldb": ["fractaldb", *search, "--categories", c, "--instances", n, "--points", pts],
        "exfractaldb": ["exfractaldb", *search, "--categories", c, "--instances", n],
        "mvfractaldb": ["mvfractaldb", *search, "--categories", c, "--instances", n],
        "rcdb": ["rcdb", "--categories", c, "--instances", n],
        "visualatom": ["visualatom", "--categories", c, "--instances", n],
        "ofdb": ["ofdb", *search, "--categories", c, "--instances", "1", "--points", pts],
        "1p-frac": ["1p-frac", "--classes", c, "--instances", "1", "--points", pts],
        # 5.9 +- 0.1 with the default 2 maps: up to 6, every singular value 1, where the shape dissolves
        "1p-frac-sigma6": ["1p-frac", "--classes", c, "--instances", "1", "--points", pts, "--sigma", "5.9"],
        "real1p": ["real1p", "--image", str(photo), "--classes", c],
        "perlin": ["perlin", "--categories", c, "--instances", n],
        "bezier": ["bezier", "--categories", c, "--instances", n],
    }[dataset] + ["--seed", str(1 + seed), "--size", size, "--quiet"]


def pretrain_data(row: str, folder: Path, scale: Scale) -> List[str]:
    """The --data arguments of a row's pre-training: its folder, or its shards repeated (one-image rows)."""
    if row in FRESH:
        return [f"live:{folder}", "--fresh-epochs"]
    if row not in ONE_IMAGE:
        return [str(folder)]
    return [repeated(folder, scale.per_category)]


def repeated(folder: Path, copies: int) -> str:
    """A shard list naming each shard of the dataset in `folder` `copies` times.

    The copies are symbolic links in a folder beside it (FOLDER-xN), the manifest.json linked too, so that
    the list keeps the dataset's class count and loss. A brace range keeps the list short: the paths written
    out one by one pass the system's path length limit, and fdsl-train looks --data up as a path first."""
    out = folder.with_name(f"{folder.name}-x{copies}")
    names = [s["file"] for s in json.loads((folder / "manifest.json").read_text())["splits"]["train"]["shards"]]
    if not out.exists():
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)  # left by a run cut short
        tmp.mkdir(parents=True)
        (tmp / "manifest.json").symlink_to((folder / "manifest.json").resolve())
        for k in range(copies):
            for name in names:
                (tmp / f"r{k:06d}-{name}").symlink_to((folder / name).resolve())
        tmp.rename(out)
    return "::".join(f"{out}/r{{000000..{copies - 1:06d}}}-{name}" for name in names)


def pretrain_args(row: str, folder: Path, scale: Scale, seed: int, out: Path) -> List[str]:
    """`fdsl-train pretrain` of a row: the same preset, options and steps for every row; at paper scale its
    paper's preset, for the preset's samples.

    LPCE rows get the manifest's loss; without mixup or smoothing it is the same cross-entropy."""
    data = ["pretrain", "--data", *pretrain_data(row, folder, scale), "--output", str(out)]
    if scale.paper_recipes:
        epochs, warmup = paper_schedule(row, scale)
        # --overwrite: a run is started again only when an earlier one was cut short; it replaces that one
        return data + ["--preset", row_preset(row), "-j", str(scale.workers), "--seed", str(seed), "--overwrite",
                       "--epochs", str(epochs), "--warmup-epochs", f"{warmup:g}"]
    return data + [*_common(scale, seed), "--preset", "fractaldb-resnet", "--crop", "rrc", "--scale", "0.25,1",
                   "--hflip", "0.5", "--opt", "adamw", "--lr", "2e-3", "--weight-decay", "0.05", "--sched", "cosine",
                   "--warmup-epochs", "1", "--warmup-lr", "1e-6", "-b", str(scale.batch_size),
                   "--epochs", str(scale.pretrain_epochs)]


def finetune_args(pretrained: Path, data: Path, scale: Scale, seed: int, out: Path,
                  norm: Tuple[str, str] = (NORM, NORM)) -> List[str]:
    """`fdsl-train finetune`: the same recipe for every row and label count (scratch: its saved initial weights),
    normalised by `norm` (mean, std): the protocol's, or at paper scale the row's pre-training's.

    Augmentation: RandomResizedCrop(0.5, 1) and horizontal flip 0.5, nothing else (no colour jitter, no label
    smoothing, no RandAugment, mixup, cutmix, erasing or drop path)."""
    epochs = scale.finetune_epochs
    return ["finetune", "--pretrained", str(pretrained), "--data", str(data), "--val-split", "val",
            "--output", str(out), *_common(scale, seed, norm), "--preset", "finetune", "-b", str(scale.batch_size),
            "--lr", "1e-3", "--epochs", str(epochs), "--warmup-epochs", f"{0.2 * epochs:g}", "--warmup-lr", "1e-6",
            "--scale", "0.5,1", "--hflip", "0.5", "--color-jitter", "0", "--smoothing", "0", "--aa", "",
            "--mixup", "0", "--cutmix", "0", "--reprob", "0", "--drop-path", "0"]


def _common(scale: Scale, seed: int, norm: Tuple[str, str] = (NORM, NORM)) -> List[str]:
    # at paper scale the rows' models differ by preset: fine-tuning takes each checkpoint's model and input size
    model = [] if scale.paper_recipes else ["--model", scale.model, "--img-size", str(scale.img_size)]
    # --overwrite: a run is started again only when an earlier one was cut short; it replaces that one
    return [*model, "-j", str(scale.workers), "--seed", str(seed), "--mean", norm[0], "--std", norm[1], "--overwrite"]


def row_preset(row: str) -> str:
    """The preset a row pre-trains with at paper scale."""
    return ROW_PRESETS.get(FRESH.get(row, row), "fdsl-vit")


def paper_schedule(row: str, scale: Scale) -> Tuple[int, float]:
    """(epochs, warm-up epochs) of a row's pre-training at paper scale, in epochs of categories x per_category.

    The preset's own, over the images its paper counts an epoch of: one per class for PER_CLASS_EPOCHS."""
    from fdsl_train import presets
    preset = presets.PRESETS[row_preset(row)]
    per = scale.per_category if row_preset(row) in PER_CLASS_EPOCHS else 1
    return max(1, round(preset.epochs / per)), preset.warmup_epochs / per


def row_epochs(row: str, scale: Scale) -> int:
    """Pre-training epochs of a row: the scale's, or at paper scale its preset's."""
    return paper_schedule(row, scale)[0] if scale.paper_recipes else scale.pretrain_epochs


def row_norm(row: str, scale: Scale) -> Tuple[str, str]:
    """(mean, std) of a row's fine-tuning: its pre-training's, which at paper scale is its preset's."""
    if not scale.paper_recipes or row == "scratch":
        return NORM, NORM
    from fdsl_train import presets
    preset = presets.PRESETS[row_preset(row)]
    return ",".join(f"{v:g}" for v in preset.mean), ",".join(f"{v:g}" for v in preset.std)


# ---------------------------------------------------------------- labelled subsets and the step budget

def subset(labels: Sequence[int], per_class: int, seed: int) -> List[int]:
    """Indices of `per_class` images of each class, drawn with `seed`, classes interleaved; the same for every row."""
    by_class = []
    for cls in range(CLASSES):
        pool = [i for i, label in enumerate(labels) if label == cls]
        if len(pool) < per_class:
            raise SystemExit(f"transfer.py: error: the training pool holds {len(pool)} images of class {cls}, "
                             f"fewer than {per_class}: raise --train-pool")
        # rank by a seeded hash: stable across Python versions, independent of pool order elsewhere
        pool.sort(key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).digest())
        by_class.append(pool[:per_class])
    # interleaved (one of each class in turn), so that a cyclic repeat cut anywhere stays balanced
    return [i for group in zip(*by_class) for i in group]


def epoch_samples(scale: Scale) -> int:
    """Samples in one fine-tuning epoch: finetune_steps / finetune_epochs full batches."""
    if scale.finetune_steps % scale.finetune_epochs:
        raise SystemExit(f"transfer.py: error: finetune_steps {scale.finetune_steps} is not a multiple of "
                         f"finetune_epochs {scale.finetune_epochs}")
    return scale.finetune_steps // scale.finetune_epochs * scale.batch_size


def budget(per_class: int, scale: Scale) -> Tuple[int, int]:
    """(optimizer steps, samples seen) of a fine-tuning run at `per_class` labels: the same for every label count.

    Refused when one epoch cannot hold every labelled image once."""
    samples = epoch_samples(scale)
    if samples < CLASSES * per_class:
        raise SystemExit(f"transfer.py: error: {per_class} labels per class ({CLASSES * per_class} images) exceed "
                         f"the {samples} samples of a fine-tuning epoch: fewer labels or more finetune_steps")
    steps = samples // scale.batch_size * scale.finetune_epochs
    return steps, steps * scale.batch_size


def link_subset(pool: Path, chosen: Sequence[int], samples: int, out: Path) -> Path:
    """An ImageFolder split of `samples` symbolic links cycling through the chosen pool images."""
    if out.exists():
        return out
    files = sorted(pool.rglob("*.png"))
    tmp = out.with_name(out.name + ".tmp")
    for k in range(samples):
        source = files[chosen[k % len(chosen)]]
        target = tmp / source.parent.name / f"{k:06d}-{source.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(source.resolve())
    tmp.rename(out)
    return out


def pool_labels(pool: Path) -> List[int]:
    """The class of every pool image, in sorted file order (ImageFolder class folders are 0..9)."""
    return [int(path.parent.name) for path in sorted(pool.rglob("*.png"))]


# ---------------------------------------------------------------- statistics

# Student's t, 0.975 quantile, by degrees of freedom: a table rather than a dependency for one quantile
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086}


def interval(values: Sequence[float]) -> Optional[Tuple[float, float, float]]:
    """(mean, low, high): the 95 % t-interval of the mean of `values`; None below two values."""
    if len(values) < 2:
        return None
    if len(values) - 1 not in T975:
        raise SystemExit(f"transfer.py: error: at most {max(T975) + 1} seeds (the t table's end)")
    mean = statistics.mean(values)
    half = T975[len(values) - 1] * statistics.stdev(values) / len(values) ** 0.5
    return mean, mean - half, mean + half


def paired(row: Dict[str, float], other: Dict[str, float]) -> List[float]:
    """row - other, seed by seed, over the seeds both have."""
    return [row[s] - other[s] for s in sorted(set(row) & set(other), key=int)]


def mean_sd(values: Sequence[float], digits: int = 1) -> str:
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f}"


def gain_text(found: Optional[Tuple[float, float, float]]) -> str:
    return "-" if found is None else f"{found[0]:+.1f} [{found[1]:+.1f}, {found[2]:+.1f}]"


def table(results: dict, rows: Sequence[str], keys: Sequence[str]) -> str:
    """Markdown: per row and read-out, top-1 mean ± sd over seeds and the paired gain over scratch with its interval;
    last, the final pre-training loss (mean ± sd over seeds)."""
    head = ["row"] + [f"{_title(k)} top-1 | gain [95 % CI]" for k in keys] + ["pre-training loss"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * (2 + 2 * len(keys))]
    scratch = results.get("scratch", {})
    for row in rows:
        cells = [row]
        for key in keys:
            runs = results.get(row, {}).get(key, {})
            gain = "-" if row == "scratch" else gain_text(interval(paired(runs, scratch.get(key, {}))))
            cells += [mean_sd(list(runs.values())), gain]
        loss = list(results.get(row, {}).get("pretrain-loss", {}).values())
        cells.append(mean_sd(loss, digits=2))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def findings(results: dict, rows: Sequence[str], keys: Sequence[str]) -> List[str]:
    """In words, per row: where it beats scratch and which controls it beats, beyond the 95 % interval."""
    lines = []
    for row in rows:
        if row == "scratch":
            continue
        said = []
        for key in keys:
            runs = results.get(row, {}).get(key, {})
            versus = [other for other in ("scratch", *CONTROLS) if other != row and other in results]
            beaten = [o for o in versus if _above(interval(paired(runs, results[o].get(key, {}))))]
            below = [o for o in versus if _above(interval(paired(results[o].get(key, {}), runs)))]
            said.append(f"{_title(key)}: beats {', '.join(beaten) or 'none'}"
                        + (f"; below {', '.join(below)}" if below else ""))
        lines.append(f"- {row}: " + "; ".join(said))
    return lines


def _above(found: Optional[Tuple[float, float, float]]) -> bool:
    return found is not None and found[1] > 0


def _title(key: str) -> str:
    return "probe" if key == "probe" else f"{key.split('-')[1]}/class"


# ---------------------------------------------------------------- running commands

def _start_worker(threads: int, slots=None, devices: int = 0) -> None:
    # before torch is imported in this process: its OpenMP pool is sized once
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    if devices:  # one device per worker, so that no two runs share one
        with slots.get_lock():
            slot, slots.value = slots.value, slots.value + 1
        os.environ["CUDA_VISIBLE_DEVICES"] = str(slot % devices)
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

    def __init__(self, jobs: int, devices: int = 0):
        threads = max(1, (os.cpu_count() or 1) // jobs)
        # spawn: workers must not inherit this process's threads
        spawn = multiprocessing.get_context("spawn")
        self.pool = ProcessPoolExecutor(jobs, mp_context=spawn, initializer=_start_worker,
                                        initargs=(threads, spawn.Value("i", 0), devices))

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


def render(dataset: str, scale: Scale, work: Path, camera: Path, seed: int) -> Path:
    folder = work / "data" / f"{dataset}-s{seed}"
    if not (folder / "manifest.json").exists():
        command("fdsl-gen", "render", *render_args(dataset, scale, camera, seed), "--out", str(folder),
                "--workers", "1", log=work / "logs" / f"render-{dataset}-s{seed}.txt")
    return folder


def pretrain(row: str, data: Path, scale: Scale, work: Path, seed: int) -> Path:
    out = pretrained(row, work, seed)
    if not pretrain_done(row, scale, work, seed):
        command("fdsl-train", *pretrain_args(row, data, scale, seed, out),
                log=work / "logs" / f"pretrain-{row}-s{seed}.txt")
    return out


def pretrained(row: str, work: Path, seed: int) -> Path:
    return work / "pretrain" / f"{row}-s{seed}"


def pretrain_done(row: str, scale: Scale, work: Path, seed: int) -> bool:
    out = pretrained(row, work, seed)
    return (out / "model.safetensors").exists() and len(_epochs(out)) >= row_epochs(row, scale)


def scratch_preset(scale: Scale):
    """The preset recorded with scratch's weights: the probe reads its normalisation, the same as every row's."""
    from fdsl_train import presets
    mean = tuple(float(v) for v in NORM.split(","))
    return presets.resolve("fractaldb-resnet", {"model": scale.model, "img_size": scale.img_size, "mean": mean,
                                                "std": mean})


def scratch_checkpoint(scale: Scale, work: Path, seed: int) -> Path:
    """Randomly initialised weights (this seed) in a run folder: fine-tuned and probed like any pre-trained row."""
    out = work / "pretrain" / f"scratch-s{seed}"
    if not (out / "model.safetensors").exists():
        import torch

        from fdsl_train.run import checkpoint, models
        torch.manual_seed(seed)
        model = models.create(scale.model, num_classes=scale.categories, img_size=scale.img_size)
        checkpoint.save_weights(model, out, scratch_preset(scale))
    return out


def finetune(weights: Path, train: Path, val_root: Path, seed: int, scale: Scale, out: Path, log: Path,
             norm: Tuple[str, str] = (NORM, NORM)) -> Tuple[float, int]:
    """(final top-1, optimizer steps) of one fine-tuning run."""
    if len(_epochs(out)) < scale.finetune_epochs:
        command("fdsl-train", *finetune_args(weights, _splits(out, train, val_root), scale, seed, out, norm),
                log=log)
    last = _epochs(out)[-1]
    return last["top1"], last["step"]


def probe(pretrained: Path, train: Path, val_root: Path, scale: Scale, out: Path, log: Path) -> float:
    """Linear probe on the last feature level (global average of the final stage or block)."""
    if not (out / "probe.json").exists():
        command("fdsl-train", "probe", "--pretrained", str(pretrained), "--data", str(_splits(out, train, val_root)),
                "--output", str(out), "--layers", str(_last_layer(scale)), "-j", str(scale.workers), "--epochs", "50",
                "--val-split", "val", "--overwrite", log=log)
    return next(iter(json.loads((out / "probe.json").read_text()).values()))


def _splits(out: Path, train: Path, val_root: Path) -> Path:
    """An ImageFolder root beside the run folder: links to the labelled split and the read-out images."""
    data = out.with_name(out.name + "-data")
    data.mkdir(parents=True, exist_ok=True)
    for split, source in (("train", train), ("val", val_root)):
        if not (data / split).exists():
            (data / split).symlink_to(source.resolve())
    return data


def _last_layer(scale: Scale) -> int:
    import timm
    return len(timm.create_model(scale.model, pretrained=False).feature_info)


def _epochs(run_folder: Path) -> List[dict]:
    """The epoch records of a run's log.jsonl (none before it has one)."""
    log = run_folder / "log.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [r for r in records if r["event"] == "epoch"]


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
    for n in plan.labels:
        samples = budget(n, plan.scale)[1] // plan.scale.finetune_epochs
        for seed in plan.seeds:
            made[n, seed] = link_subset(plan.pool, subset(plan.classes, n, seed), samples,
                                        plan.work / "subsets" / f"{n}x{samples}-s{seed}")
    for seed in plan.seeds:
        n = plan.scale.probe_labels
        chosen = subset(plan.classes, n, seed)
        made["probe", seed] = link_subset(plan.pool, chosen, len(chosen), plan.work / "subsets" / f"probe{n}-s{seed}")
    return made


def replicate(row: str, seed: int, plan: Plan, runner: Runner, datasets: Dict[tuple, Future],
              splits: Dict[tuple, Path]) -> dict:
    """One seed of one row: pre-train (scratch: save its initial weights), then fine-tune and probe."""
    scale, work = plan.scale, plan.work
    if row == "scratch":
        weights = runner.call(scratch_checkpoint, scale, work, seed)
        entry: dict = {}
    else:
        weights = runner.call(pretrain, row, datasets[FRESH.get(row, row), seed].result(), scale, work, seed)
        last = _epochs(weights)[-1]
        entry = {"pretrain-steps": last["step"], "pretrain-loss": last["loss"]}
    pending = {}
    for n in plan.labels:
        out = work / "finetune" / row / f"{n}-s{seed}"
        pending[n] = runner.submit(finetune, weights, splits[n, seed], plan.val, seed, scale, out,
                                   work / "logs" / f"finetune-{row}-{n}-s{seed}.txt", row_norm(row, scale))
    probed = runner.submit(probe, weights, splits["probe", seed], plan.val, scale, work / "probe" / row / f"s{seed}",
                           work / "logs" / f"probe-{row}-s{seed}.txt")
    for n, future in pending.items():
        entry[f"finetune-{n}"], entry[f"finetune-{n}-steps"] = future.result()
    entry["probe"] = probed.result()
    return entry


def replicate_in_turn(row: str, seed: int, plan: Plan, runner: Runner, splits: Dict[tuple, Path], camera: Path,
                      keep_dataset: bool) -> dict:
    """One seed of one row at paper scale: pre-training in turn, then fine-tuning and probe as in `replicate`."""
    rendered: Future = Future()
    rendered.set_result(pretrain_in_turn(row, seed, plan, runner, camera, keep_dataset))
    return replicate(row, seed, plan, runner, {(FRESH.get(row, row), seed): rendered}, splits)


def pretrain_in_turn(row: str, seed: int, plan: Plan, runner: Runner, camera: Path, keep_dataset: bool) -> Path:
    """A row's pre-training at paper scale: its dataset rendered only while its pre-training is still to run,
    and deleted after it unless `keep_dataset`. Returns the dataset's folder (gone once deleted)."""
    dataset = FRESH.get(row, row)
    folder = plan.work / "data" / f"{dataset}-s{seed}"
    if row == "scratch":
        return folder
    if not pretrain_done(row, plan.scale, plan.work, seed):
        runner.call(render, dataset, plan.scale, plan.work, camera, seed)
        runner.call(pretrain, row, folder, plan.scale, plan.work, seed)
    if not keep_dataset:
        remove_dataset(folder)
    return folder


def remove_dataset(folder: Path) -> None:
    """A rendered dataset and the folders of links to it (FOLDER-xN)."""
    for path in (folder, *folder.parent.glob(f"{folder.name}-x*")):
        shutil.rmtree(path, ignore_errors=True)


def run_table(rows: Sequence[str], plan: Plan, runner: Runner, keep_datasets: bool = True) -> dict:
    """Every row's results by seed; rows and seeds run side by side over the runner's workers, renders first;
    at paper scale one after another, each rendering its dataset as it starts."""
    results_path = plan.work / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    splits = subsets(plan)
    camera = photo(plan.work / "camera.png")
    tasks = [(row, seed) for seed in plan.seeds for row in rows]
    in_turn = plan.scale.paper_recipes
    if not in_turn:
        datasets = {(d, s): runner.submit(render, d, plan.scale, plan.work, camera, s)
                    for d in dict.fromkeys(FRESH.get(r, r) for r in rows if r != "scratch") for s in plan.seeds}
    with ThreadPoolExecutor(1 if in_turn else len(tasks)) as threads:
        if in_turn:
            futures = {threads.submit(replicate_in_turn, row, seed, plan, runner, splits, camera, keep_datasets):
                       (row, seed) for row, seed in tasks}
        else:
            futures = {threads.submit(replicate, row, seed, plan, runner, datasets, splits): (row, seed)
                       for row, seed in tasks}
        wait(futures)  # a failed run does not stop the others: their runs are kept, and a rerun resumes
    failed = [(futures[f], f.exception()) for f in futures if f.exception() is not None]
    for future, (row, seed) in futures.items():
        if future.exception() is None:
            for key, value in future.result().items():
                results.setdefault(row, {}).setdefault(key, {})[str(seed)] = value
    results_path.write_text(json.dumps(results, indent=2))
    if failed:
        (row, seed), error = failed[0]
        raise SystemExit(f"transfer.py: error: {len(failed)} run(s) failed, the first: {row} seed {seed}: {error}")
    return results


# ---------------------------------------------------------------- the paper-scale plan

@dataclass(frozen=True)
class RowCost:
    """What one seed of one row costs at paper scale."""

    row: str
    preset: str
    rendered: int  # images of its dataset
    epoch: int  # images per pre-training epoch (one-image rows: their images repeated)
    epochs: int
    pretrain_images: int
    finetune_images: int  # over every label count
    disk: float  # bytes of its dataset

    def gpu_hours(self, images_per_s: float) -> float:
        return (self.pretrain_images + self.finetune_images) / images_per_s / 3600


def row_cost(row: str, scale: Scale, labels: Sequence[int], per_image: Dict[str, float]) -> RowCost:
    """A row's cost: `per_image` gives each dataset's bytes per image at the scale's render size."""
    finetune_images = sum(budget(n, scale)[1] for n in labels)
    if row == "scratch":
        return RowCost(row, "-", 0, 0, 0, 0, finetune_images, 0.0)
    dataset = FRESH.get(row, row)
    rendered = scale.categories * (1 if dataset in ONE_IMAGE else scale.per_category)
    epoch, epochs = scale.categories * scale.per_category, row_epochs(row, scale)
    return RowCost(row, row_preset(row), rendered, epoch, epochs, epoch * epochs, finetune_images,
                   rendered * per_image[dataset])


def bytes_per_image(datasets: Sequence[str], scale: Scale, work: Path, camera: Path) -> Dict[str, float]:
    """Shard bytes per image of each dataset at the scale's render size and points, from a render of 4 classes
    (x 2 images where a class has several) in WORK/measure, kept for the next plan."""
    tiny = replace(scale, categories=4, per_category=2)
    measured = {}
    for dataset in datasets:
        folder = render(dataset, tiny, work / "measure", camera, 0)
        images = tiny.categories * (1 if dataset in ONE_IMAGE else tiny.per_category)
        measured[dataset] = sum(p.stat().st_size for p in folder.glob("*.tar")) / images
    return measured


def free_bytes(work: Path) -> int:
    """Free space on the file system that holds `work` (or would: its nearest existing parent)."""
    folder = work.resolve()
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def peak_disk(costs: Sequence[RowCost], seeds: int, keep: bool) -> float:
    """Bytes of datasets on disk at once: the largest one, or with every dataset kept all of them."""
    return sum(c.disk for c in costs) * seeds if keep else max((c.disk for c in costs), default=0.0)


def plan_text(costs: Sequence[RowCost], seeds: int, images_per_s: float, keep: bool, disk_from: str,
              free: int) -> str:
    """The plan, in Markdown: one line per row, then the totals."""
    lines = ["Paper-scale plan: each row pre-trains with its paper's preset, one run at a time on one device.", "",
             "| row | preset | images rendered | images per epoch | epochs | pre-training images | "
             "fine-tuning images | GPU-hours per seed | dataset disk (GB) |", "|" + " --- |" * 9]
    for c in costs:
        lines.append(f"| {c.row} | {c.preset} | {c.rendered:,} | {c.epoch:,} | {c.epochs} | {c.pretrain_images:,} | "
                     f"{c.finetune_images:,} | {c.gpu_hours(images_per_s):.1f} | {c.disk / 1e9:.1f} |")
    hours = sum(c.gpu_hours(images_per_s) for c in costs) * seeds
    held = "every dataset kept (--keep-datasets)" if keep else "one dataset at a time, deleted after pre-training"
    lines += ["", f"Total: {hours:,.1f} GPU-hours for {seeds} seed(s) ({hours / 24:,.1f} days on one device) at "
                  f"{images_per_s:g} images/s (--step-rate: pre-training images per second on one device, "
                  "applied to fine-tuning too; the probe not counted).",
              f"Disk: {peak_disk(costs, seeds, keep) / 1e9:,.1f} GB of datasets at once ({held}), "
              f"{free / 1e9:,.1f} GB free; run folders and Fashion-MNIST come on top. Bytes per image: {disk_from}."]
    return "\n".join(lines)


def steps_seen(results: dict, rows: Sequence[str], stage: str) -> List[int]:
    """The distinct optimizer-step counts that the runs' logs record for `stage` (pretrain or finetune)."""
    return sorted({v for row in rows for key, runs in results.get(row, {}).items()
                   if key.startswith(stage) and key.endswith("-steps") for v in runs.values()})


def work_folder(root: Path, name: str, scale: Scale) -> Path:
    """WORK/SCALE, or WORK/SCALE-peN for another pre-training length than the scale's: a rerun must never
    fine-tune on checkpoints of another length."""
    if scale.pretrain_epochs == SCALES[name].pretrain_epochs:
        return root / name
    return root / f"{name}-pe{scale.pretrain_epochs}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="default")
    parser.add_argument("--rows", default=",".join(DEFAULT_ROWS), help="comma-separated, from: " + ", ".join(ROWS))
    parser.add_argument("--labels", default="10,100", help="labels per class of the fine-tuning runs")
    parser.add_argument("--seeds", default="0,1,2", help="replicates: pre-training, subset and fine-tuning seed")
    parser.add_argument("--workers", type=int, default=None, help="loader workers per command [the scale's]")
    parser.add_argument("--pretrain-epochs", type=int, default=None,
                        help="pre-training epochs of every row [the scale's]; its runs go to WORK/SCALE-peN")
    parser.add_argument("--jobs", type=int, default=None,
                        help="commands at a time, each on cpu_count / jobs threads [cpu_count; paper: 1]")
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--fashion-mnist", type=Path, default=FASHION,
                        help=f"folder of Fashion-MNIST's four idx .gz files [{FASHION}]")
    paper = parser.add_argument_group("--scale paper")
    paper.add_argument("--step-rate", type=float, default=None,
                       help="pre-training images per second on one device (bench/gpu_check's figure): the plan's "
                            "GPU-hours")
    paper.add_argument("--bytes-per-image", type=float, default=None,
                       help="the plan's disk per image [measured: a render of 8 images per dataset at the paper size]")
    paper.add_argument("--keep-datasets", action="store_true", help="keep each dataset after its pre-training")
    paper.add_argument("--dry-run", action="store_true", help="print the plan only")
    args = parser.parse_args()
    scale = SCALES[args.scale] if args.workers is None else replace(SCALES[args.scale], workers=args.workers)
    check_paper_options(args, scale)
    if args.pretrain_epochs is not None:
        if args.pretrain_epochs < 1:
            raise SystemExit("transfer.py: error: --pretrain-epochs must be at least 1")
        scale = replace(scale, pretrain_epochs=args.pretrain_epochs)
    work = work_folder(args.work, args.scale, scale)
    rows = [r for r in args.rows.split(",") if r]
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        raise SystemExit(f"transfer.py: error: unknown row {unknown[0]} (known: {', '.join(ROWS)})")
    jobs = args.jobs if args.jobs is not None else 1 if scale.paper_recipes else os.cpu_count() or 1
    if jobs < 1:
        raise SystemExit("transfer.py: error: --jobs must be at least 1")
    devices = check_devices(jobs) if scale.paper_recipes and jobs > 1 else 0
    try:
        labels, seeds = [int(n) for n in args.labels.split(",")], [int(s) for s in args.seeds.split(",")]
    except ValueError:
        raise SystemExit("transfer.py: error: --labels and --seeds are comma-separated integers") from None
    steps = {budget(n, scale)[0] for n in labels}  # refuses a label count the budget cannot hold
    rows = (["scratch"] if "scratch" not in rows else []) + rows
    if scale.paper_recipes and not show_plan(rows, scale, labels, len(seeds), work, args):
        return
    start = time.time()
    runner = Runner(jobs, devices)
    try:
        pool, val = fashion_mnist(runner, args.fashion_mnist, work / "fashion-mnist", scale)
        plan = Plan(scale, work, labels, seeds, pool, val, pool_labels(pool))
        results = run_table(rows, plan, runner, keep_datasets=args.keep_datasets or not scale.paper_recipes)
    finally:
        runner.close()
    shown = [r for r in ROWS if r in results and r in rows]
    keys = [f"finetune-{n}" for n in labels] + ["probe"]
    epochs = "each row's preset's epochs (the plan)" if scale.paper_recipes else f"{scale.pretrain_epochs} epochs"
    print(f"\n{scale.model} at {scale.img_size} px; pre-training: {scale.categories} classes, "
          f"{scale.categories * scale.per_category} images per epoch at {scale.render_size} px, "
          f"{epochs}, steps per run (logged) {steps_seen(results, shown, 'pretrain')}; "
          f"fine-tuning: {sorted(steps)} steps of {scale.batch_size} per run at every label count, steps per run "
          f"(logged) {steps_seen(results, shown, 'finetune')}; top-1 on the first {scale.val_images} Fashion-MNIST "
          f"test images; seeds {args.seeds}; scale {args.scale}; {jobs} jobs; "
          f"{(time.time() - start) / 60:.1f} min wall, {_cpu_minutes():.1f} CPU-min; {os.cpu_count()} CPU(s); "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(json.dumps(asdict(scale)))
    print(table(results, shown, keys))
    print("\nBeyond the 95 % interval (paired by seed):")
    print("\n".join(findings(results, shown, keys)))


def check_paper_options(args: argparse.Namespace, scale: Scale) -> None:
    """Refuse, in one line, the paper scale's options elsewhere and a paper-scale run without a step rate."""
    given = [f"--{k.replace('_', '-')}" for k in ("step_rate", "bytes_per_image", "keep_datasets", "dry_run")
             if getattr(args, k) not in (None, False)]
    if not scale.paper_recipes:
        if given:
            raise SystemExit(f"transfer.py: error: {given[0]} is an option of --scale paper")
        return
    if args.pretrain_epochs is not None:
        raise SystemExit("transfer.py: error: --pretrain-epochs is for the CPU scales: at --scale paper each row "
                         "trains its preset's epochs")
    if args.step_rate is None:
        raise SystemExit("transfer.py: error: --scale paper needs --step-rate: pre-training images per second on "
                         "one device, as bench/gpu_check reports it")
    for name in ("step_rate", "bytes_per_image"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            raise SystemExit(f"transfer.py: error: --{name.replace('_', '-')} must be above 0")


def check_devices(jobs: int) -> int:
    """The device count, refused when below `jobs`: at paper scale a run takes one device of its own."""
    import torch
    found = torch.cuda.device_count()
    if jobs > found:
        raise SystemExit(f"transfer.py: error: --jobs {jobs} at --scale paper needs {jobs} devices, one per run; "
                         f"{found} found")
    return found


def show_plan(rows: Sequence[str], scale: Scale, labels: Sequence[int], seeds: int, work: Path,
              args: argparse.Namespace) -> bool:
    """Print the paper-scale plan; True when the run is to go on (no --dry-run, and the disk suffices)."""
    datasets = list(dict.fromkeys(FRESH.get(r, r) for r in rows if r != "scratch"))
    if args.bytes_per_image is not None:
        per_image = dict.fromkeys(datasets, args.bytes_per_image)
        disk_from = f"{args.bytes_per_image:g} for every dataset (--bytes-per-image)"
    else:
        per_image = bytes_per_image(datasets, scale, work, photo(work / "camera.png"))
        disk_from = (f"measured from 8 images per dataset at {scale.render_size} px ("
                     + ", ".join(f"{d} {v / 1e3:.0f} kB" for d, v in per_image.items()) + ")")
    costs = [row_cost(row, scale, labels, per_image) for row in rows]
    free = free_bytes(work)
    print(plan_text(costs, seeds, args.step_rate, args.keep_datasets, disk_from, free), flush=True)
    if args.dry_run:
        return False
    if peak_disk(costs, seeds, args.keep_datasets) > free:
        raise SystemExit("transfer.py: error: the plan's datasets need more disk than is free (above)")
    return True


if __name__ == "__main__":
    main()
