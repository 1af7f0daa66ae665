"""bench/transfer.py --scale paper: each row's paper preset, the plan's arithmetic, and the refusals, on CPU.

Nothing here renders a full dataset or trains: the plan runs with --dry-run, and the only render is the plan's
own 8-image measurement of one dataset."""
import json
import os
import re
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from fdsl_train import presets
from fdsl_train.cli import cli

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import transfer  # noqa: E402

PAPER = transfer.SCALES["paper"]
FINETUNE_IMAGES = PAPER.finetune_steps * PAPER.batch_size  # one fine-tuning run: the same at every label count


def _value(args, flag):
    return args[args.index(flag) + 1]


def _resolved(args):
    """The preset that fdsl-train resolves from a command's arguments, parsed by its own CLI."""
    context = cli.commands[args[0]].make_context(args[0], list(args[1:]))
    return presets.resolve(context.params["preset"], context.params)


@pytest.mark.parametrize("row", [r for r in transfer.ROWS if r != "scratch"])
def test_at_paper_scale_every_row_pretrains_with_its_papers_preset_for_its_samples(row, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"splits": {"train": {"shards": [{"file": "a.tar"}]}}}))
    args = transfer.pretrain_args(row, folder, PAPER, 0, tmp_path / "p")
    name = {"visualatom": "visualatom-vit", "1p-frac": "1p-frac", "1p-frac-sigma6": "1p-frac",
            "real1p": "1p-frac"}.get(row, "fdsl-vit")
    preset = presets.PRESETS[name]
    # the 1p-frac script's epochs pass over its 1,000 rendered images; a transfer epoch repeats them 1,000 times
    per = PAPER.per_category if name == "1p-frac" else 1
    assert _resolved(args) == replace(preset, epochs=preset.epochs // per, warmup_epochs=preset.warmup_epochs / per)
    assert _value(args, "--preset") == name and "--lr" not in args and "--model" not in args
    samples = int(_value(args, "--epochs")) * PAPER.categories * PAPER.per_category
    assert samples == (80_000_000 if name == "1p-frac" else 300_000_000)


def test_at_paper_scale_fine_tuning_normalises_as_the_rows_pretraining_and_takes_the_checkpoints_model(tmp_path):
    args = transfer.finetune_args(tmp_path / "w", tmp_path / "d", PAPER, 0, tmp_path / "f",
                                  transfer.row_norm("rcdb", PAPER))
    assert (_value(args, "--mean"), _value(args, "--std")) == ("0.485,0.456,0.406", "0.229,0.224,0.225")
    assert "--model" not in args and "--img-size" not in args
    assert transfer.row_norm("1p-frac", PAPER) == ("0.5,0.5,0.5",) * 2
    assert transfer.row_norm("scratch", PAPER) == transfer.row_norm("rcdb", transfer.SCALES["default"])


# The recipe that the CPU scales' commands resolved to before the presets followed the papers: lr_base and
# lr_base_size aside (the commands give an absolute --lr), every field the same.
CPU_PRETRAIN = dict(model="resnet10t", img_size=32, batch_size=64, epochs=6, opt="adamw", lr=0.002, momentum=0.9,
                    weight_decay=0.05, sched="cosine", warmup_epochs=1.0, warmup_lr=1e-06, min_lr=0.0,
                    decay_milestones=(30, 60), decay_rate=0.1, crop="rrc", scale=(0.25, 1.0), hflip=0.5, vflip=0.0,
                    color_jitter=0.0, aa=None, reprob=0.0, mixup=0.0, cutmix=0.0, smoothing=0.0, drop_path=0.0,
                    mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), loss="ce")
CPU_FINETUNE = dict(CPU_PRETRAIN, epochs=1, lr=0.001, warmup_epochs=0.2, min_lr=1e-05, decay_milestones=(),
                    scale=(0.5, 1.0), aa="")


def test_the_cpu_scales_commands_resolve_to_the_recipe_they_had(tmp_path):
    scale = transfer.SCALES["default"]
    pretrain = asdict(_resolved(transfer.pretrain_args("rcdb", tmp_path, scale, 0, tmp_path / "p")))
    finetune = asdict(_resolved(transfer.finetune_args(tmp_path / "w", tmp_path / "d", scale, 0, tmp_path / "f")))
    for found in (pretrain, finetune):
        del found["lr_base"], found["lr_base_size"]
    assert (pretrain, finetune) == (CPU_PRETRAIN, CPU_FINETUNE)


def test_row_costs_count_images_epochs_hours_and_disk():
    scale = transfer.replace(PAPER, categories=10, per_category=20, finetune_steps=10, finetune_epochs=1,
                             batch_size=32)
    per_image = {"rcdb": 3000.0, "1p-frac": 500.0}
    rcdb, frac, scratch = (transfer.row_cost(row, scale, [1, 5], per_image) for row in ("rcdb", "1p-frac", "scratch"))
    assert (rcdb.rendered, rcdb.epoch, rcdb.epochs, rcdb.pretrain_images) == (200, 200, 300, 60_000)
    assert (frac.rendered, frac.epoch, frac.epochs, frac.pretrain_images) == (10, 200, 4000, 800_000)
    assert rcdb.finetune_images == frac.finetune_images == scratch.finetune_images == 2 * 10 * 32
    assert (rcdb.disk, frac.disk, scratch.disk, scratch.pretrain_images) == (600_000, 5000, 0, 0)
    assert rcdb.gpu_hours(100.0) == pytest.approx((60_000 + 640) / 100 / 3600)
    costs = [scratch, rcdb, frac]
    assert transfer.peak_disk(costs, seeds=3, keep=False) == 600_000
    assert transfer.peak_disk(costs, seeds=3, keep=True) == 3 * 605_000


def _run(*args, env=None):
    return subprocess.run([sys.executable, str(ROOT / "bench" / "transfer.py"), *args], capture_output=True,
                          text=True, timeout=300, env=env)


def test_the_dry_run_prints_the_plan_with_its_totals_and_renders_nothing(tmp_path):
    done = _run("--scale", "paper", "--dry-run", "--step-rate", "2000", "--bytes-per-image", "30000",
                "--rows", "rcdb,1p-frac", "--seeds", "0,1", "--work", str(tmp_path))
    assert done.returncode == 0, done.stderr
    finetune = 2 * FINETUNE_IMAGES  # labels 10 and 100
    hours = {"scratch": finetune / 2000 / 3600, "rcdb": (300_000_000 + finetune) / 2000 / 3600,
             "1p-frac": (80_000_000 + finetune) / 2000 / 3600}
    rcdb = f"| rcdb | fdsl-vit | 1,000,000 | 1,000,000 | 300 | 300,000,000 | {finetune:,} | {hours['rcdb']:.1f} | 30.0"
    frac = f"| 1p-frac | 1p-frac | 1,000 | 1,000,000 | 80 | 80,000,000 | {finetune:,} | {hours['1p-frac']:.1f} | 0.0 |"
    assert rcdb in done.stdout and frac in done.stdout
    assert f"Total: {2 * sum(hours.values()):,.1f} GPU-hours for 2 seed(s)" in done.stdout
    assert "Disk: 30.0 GB of datasets at once (one dataset at a time" in done.stdout
    assert not any(tmp_path.iterdir())


def test_the_plan_measures_bytes_per_image_from_a_small_render_at_the_paper_size(tmp_path):
    done = _run("--scale", "paper", "--dry-run", "--step-rate", "2000", "--rows", "rcdb", "--seeds", "0",
                "--work", str(tmp_path))
    assert done.returncode == 0, done.stderr
    measured = tmp_path / "paper" / "measure" / "data" / "rcdb-s0"
    manifest = json.loads((measured / "manifest.json").read_text())
    assert manifest["config"]["size"] == PAPER.render_size
    per_image = sum(p.stat().st_size for p in measured.glob("*.tar")) / 8
    assert f"rcdb {per_image / 1e3:.0f} kB" in done.stdout
    assert f"| {per_image * 1e6 / 1e9:.1f} |" in done.stdout
    assert not (tmp_path / "paper" / "data").exists()  # the full dataset is never rendered by a plan


@pytest.mark.parametrize("args, message", [
    (["--scale", "paper", "--dry-run"], "--scale paper needs --step-rate"),
    (["--scale", "paper", "--step-rate", "0", "--dry-run"], "--step-rate must be above 0"),
    (["--scale", "paper", "--step-rate", "100", "--pretrain-epochs", "3"], "--pretrain-epochs is for the CPU scales"),
    (["--scale", "paper", "--step-rate", "100", "--jobs", "2", "--dry-run"],
     "--jobs 2 at --scale paper needs 2 devices"),
    (["--dry-run"], "--dry-run is an option of --scale paper"),
    (["--scale", "smoke", "--keep-datasets"], "--keep-datasets is an option of --scale paper"),
])
def test_refusals_are_one_line_before_anything_runs(args, message, tmp_path):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")  # no device, whatever the machine has
    done = _run(*args, "--work", str(tmp_path), env=env)
    assert done.returncode != 0 and done.stdout == ""
    assert re.fullmatch(r"transfer\.py: error: [^\n]+\n", done.stderr) and message in done.stderr
    assert not any(tmp_path.iterdir())


def _finished_pretraining(work, row, seed, epochs):
    out = transfer.pretrained(row, work, seed)
    out.mkdir(parents=True)
    (out / "model.safetensors").write_bytes(b"")
    (out / "log.jsonl").write_text("".join(json.dumps({"event": "epoch", "epoch": e}) + "\n" for e in range(epochs)))


@pytest.mark.parametrize("keep", [False, True])
def test_a_finished_pretraining_renders_nothing_and_its_dataset_goes_unless_kept(keep, tmp_path):
    scale = transfer.replace(PAPER, categories=2, per_category=2)
    plan = transfer.Plan(scale, tmp_path, [1], [0], tmp_path / "pool", tmp_path / "val", [])
    for row in ("rcdb", "1p-frac"):
        _finished_pretraining(tmp_path, row, 0, transfer.row_epochs(row, scale))
    leftover = tmp_path / "data" / "rcdb-s0"
    (leftover / "manifest.json").parent.mkdir(parents=True)
    (leftover / "manifest.json").write_text("{}")
    (tmp_path / "data" / "rcdb-s0-x2").mkdir()
    runner = transfer.Runner(1)
    try:
        assert transfer.pretrain_in_turn("rcdb", 0, plan, runner, tmp_path / "camera.png", keep) == leftover
        assert transfer.pretrain_in_turn("1p-frac", 0, plan, runner, tmp_path / "camera.png", keep)
    finally:
        runner.close()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == (["rcdb-s0", "rcdb-s0-x2"] if keep else [])
