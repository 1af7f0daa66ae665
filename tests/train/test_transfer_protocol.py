import gzip
import json
import os
import statistics
import subprocess
import sys
from collections import Counter
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from fdsl_train.data import shards

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import transfer  # noqa: E402

NORM = [0.5, 0.5, 0.5]


def test_subsets_hold_n_per_class_interleaved_repeat_per_seed_and_differ_between_seeds():
    labels = [i % 10 for i in range(500)]
    one = transfer.subset(labels, 7, seed=0)
    assert len(one) == 70 and all(sum(labels[i] == c for i in one) == 7 for c in range(10))
    assert [labels[i] for i in one[:20]] == list(range(10)) * 2  # one of each class in turn
    assert transfer.subset(labels, 7, seed=0) == one and transfer.subset(labels, 7, seed=1) != one
    assert set(transfer.subset(labels, 5, seed=0)) != set(transfer.subset(labels, 5, seed=2))


def test_a_pool_too_small_for_the_label_count_stops_with_one_line():
    with pytest.raises(SystemExit, match="fewer than 60: raise --train-pool"):
        transfer.subset([i % 10 for i in range(100)], 60, seed=0)


@pytest.mark.parametrize("name", sorted(transfer.SCALES))
def test_every_label_count_gets_the_same_steps_and_samples_at_every_scale(name):
    scale = transfer.SCALES[name]
    fitting = [n for n in (1, 10, 100, 1000) if 10 * n <= scale.finetune_steps * scale.batch_size]
    assert 10 in fitting
    budgets = {transfer.budget(n, scale) for n in fitting}
    assert budgets == {(scale.finetune_steps, scale.finetune_steps * scale.batch_size)}


def test_the_default_labels_fit_the_default_budget_and_a_larger_set_is_refused():
    scale = transfer.SCALES["default"]
    assert transfer.budget(10, scale) == transfer.budget(100, scale)
    too_many = scale.finetune_steps * scale.batch_size // 10 + 1
    with pytest.raises(SystemExit, match=f"{too_many} labels per class .* exceed"):
        transfer.budget(too_many, scale)


def test_a_fine_tuning_epoch_is_whole_batches_or_refused():
    scale = transfer.replace(transfer.SCALES["smoke"], finetune_steps=9, finetune_epochs=2)
    with pytest.raises(SystemExit, match="not a multiple of finetune_epochs 2"):
        transfer.epoch_samples(scale)
    assert transfer.epoch_samples(transfer.replace(scale, finetune_steps=10)) == 5 * scale.batch_size


def test_the_linked_split_cycles_through_every_chosen_image_with_classes_balanced(tmp_path):
    pool = tmp_path / "pool"
    for i in range(60):
        folder = pool / str(i % 10)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:05d}.png").write_bytes(b"%d" % i)
    chosen = transfer.subset(transfer.pool_labels(pool), 3, seed=3)
    out = transfer.link_subset(pool, chosen, 64, tmp_path / "sub")
    files = sorted(out.rglob("*.png"))
    assert len(files) == 64 and all(f.is_symlink() for f in files)
    uses = Counter(f.resolve().name for f in files)
    assert len(uses) == 30 and set(uses.values()) == {2, 3}  # 64 = 2 x 30 + 4: every image twice, four thrice
    per_class = Counter(f.parent.name for f in files)
    assert max(per_class.values()) - min(per_class.values()) <= 1


def test_interval_is_student_t_over_the_paired_differences():
    row = {"0": 60.0, "1": 63.5, "2": 58.0, "3": 61.0}
    scratch = {"0": 50.0, "1": 55.0, "2": 49.0, "3": 57.0, "9": 1.0}  # seed 9 has no partner: left out
    diffs = [10.0, 8.5, 9.0, 4.0]
    assert transfer.paired(row, scratch) == diffs
    mean, low, high = transfer.interval(diffs)
    half = stats.t.ppf(0.975, 3) * np.std(diffs, ddof=1) / 2
    assert mean == pytest.approx(7.875) and (low, high) == pytest.approx((7.875 - half, 7.875 + half), abs=1e-3)
    assert transfer.interval([3.0]) is None
    assert all(transfer.T975[df] == pytest.approx(stats.t.ppf(0.975, df), abs=1e-3) for df in transfer.T975)


def test_table_and_findings_report_the_interval_and_which_rows_beat_which():
    results = {"scratch": {"finetune-10": {"0": 50.0, "1": 60.0, "2": 55.0}, "probe": {"0": 30.0, "1": 31.0}},
               "fractaldb": {"finetune-10": {"0": 52.0, "1": 63.0, "2": 56.0}, "probe": {"0": 40.0, "1": 40.0},
                             "pretrain-loss": {"0": 3.0, "1": 3.1, "2": 3.2}},
               "perlin": {"finetune-10": {"0": 40.0, "1": 50.0, "2": 46.0}, "probe": {"0": 40.0, "1": 45.0}}}
    lines = transfer.table(results, ["scratch", "fractaldb", "perlin"], ["finetune-10", "probe"]).splitlines()
    half = stats.t.ppf(0.975, 2) * statistics.stdev([2.0, 3.0, 1.0]) / 3 ** 0.5
    assert lines[2] == "| scratch | 55.0 ± 5.0 | - | 30.5 ± 0.7 | - | - |"
    assert lines[3].startswith(f"| fractaldb | 57.0 ± 5.6 | +2.0 [{2 - half:+.1f}, {2 + half:+.1f}] | 40.0 ± 0.0 |")
    assert lines[3].endswith("| 3.10 ± 0.10 |")
    said = transfer.findings(results, ["scratch", "fractaldb", "perlin"], ["finetune-10", "probe"])
    # fractaldb - scratch: 2, 3, 1 (interval reaches below 0); - perlin: 12, 13, 10; probe - scratch: 10, 9 (1 df)
    assert said[0] == "- fractaldb: 10/class: beats perlin; probe: beats scratch"
    assert said[1] == "- perlin: 10/class: beats none; below scratch; probe: beats none"


def test_categories_rows_render_categories_x_instances_and_one_image_rows_one_image_per_class():
    scale = transfer.SCALES["default"]
    for row in set(transfer.ROWS) - {"scratch", *transfer.FRESH}:
        args = transfer.render_args(row, scale, Path("photo.png"), seed=2)
        count = args[args.index("--classes" if "--classes" in args else "--categories") + 1]
        per = args[args.index("--instances") + 1] if "--instances" in args else "1"  # real1p: always 1
        expected = "1" if row in transfer.ONE_IMAGE else str(scale.per_category)
        assert (count, per) == (str(scale.categories), expected), row
        assert args[args.index("--size") + 1] == str(scale.render_size)
        assert args[args.index("--seed") + 1] == "3"
    assert {"1p-frac", "1p-frac-sigma6", "real1p", "ofdb"} == set(transfer.ONE_IMAGE)
    sigma6 = transfer.render_args("1p-frac-sigma6", scale, Path("p"), seed=0)
    assert float(sigma6[sigma6.index("--sigma") + 1]) + 0.1 >= 6  # drawn within +-0.1: reaches 6


def _value(args, flag):
    return args[args.index(flag) + 1]


@pytest.mark.parametrize("row", transfer.ROWS)
def test_pretraining_and_fine_tuning_normalise_alike_in_every_row(row, tmp_path):
    scale = transfer.SCALES["default"]
    finetune = transfer.finetune_args(tmp_path / "w", tmp_path / "d", scale, 0, tmp_path / "f")
    norm = {(_value(finetune, "--mean"), _value(finetune, "--std"))}
    if row == "scratch":
        preset = transfer.scratch_preset(scale)
        assert list(preset.mean) == list(preset.std) == NORM
        norm.add((",".join(map(str, preset.mean)), ",".join(map(str, preset.std))))
    else:
        folder = tmp_path / "data"
        folder.mkdir()
        (folder / "manifest.json").write_text(json.dumps({"splits": {"train": {"shards": [{"file": "a.tar"}]}}}))
        pretrain = transfer.pretrain_args(row, folder, scale, 0, tmp_path / "p")
        norm.add((_value(pretrain, "--mean"), _value(pretrain, "--std")))
    assert norm == {("0.5,0.5,0.5", "0.5,0.5,0.5")}


def test_fine_tuning_states_every_augmentation_and_turns_the_rest_off(tmp_path):
    args = transfer.finetune_args(tmp_path / "w", tmp_path / "d", transfer.SCALES["default"], 0, tmp_path / "f")
    assert _value(args, "--scale") == "0.5,1" and _value(args, "--hflip") == "0.5"
    for flag in ("--color-jitter", "--smoothing", "--mixup", "--cutmix", "--reprob", "--drop-path"):
        assert _value(args, flag) == "0", flag
    assert _value(args, "--aa") == ""


def test_a_refused_command_is_one_line_naming_it_and_its_log(tmp_path):
    log = tmp_path / "logs" / "info.txt"
    with pytest.raises(RuntimeError) as refused:
        transfer.command("fdsl-gen", "info", str(tmp_path / "absent"), log=log)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"fdsl-gen info {tmp_path / 'absent'}")
    assert message.endswith(f"(see {log})")
    text = log.read_text()
    assert text.startswith(f"$ fdsl-gen info {tmp_path / 'absent'}\n") and "fdsl-gen: error:" in text


def test_a_command_runs_through_its_cli_in_the_caller_with_its_output_in_the_log(tmp_path):
    out, log = tmp_path / "perlin", tmp_path / "render.txt"
    transfer.command("fdsl-gen", "render", "perlin", "--categories", "2", "--instances", "2", "--size", "16",
                     "--workers", "1", "--out", str(out), log=log)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["num_classes"] == 2
    assert log.read_text().startswith("$ fdsl-gen render perlin --categories 2 --instances 2 --size 16")


def test_a_worker_that_dies_is_reported_not_waited_for():
    runner = transfer.Runner(1)
    try:
        with pytest.raises(BrokenProcessPool):
            runner.submit(os._exit, 3).result(timeout=120)
    finally:
        runner.close()


@pytest.mark.parametrize("row", [r for r in transfer.ROWS if r not in ("scratch", *transfer.FRESH)])
def test_every_row_renders_its_structure_and_pretrains_on_the_same_samples_per_epoch(tmp_path, row):
    scale = transfer.replace(transfer.SCALES["smoke"], categories=2, per_category=3, render_size=16, points=200)
    camera = transfer.photo(tmp_path / "camera.png")
    folder = transfer.render(row, scale, tmp_path, camera, seed=0)
    manifest = json.loads((folder / "manifest.json").read_text())
    images = manifest["splits"]["train"]["num_samples"]
    assert manifest["num_classes"] == 2
    assert images == (2 if row in transfer.ONE_IMAGE else 6)
    assert manifest["loss"] == ("lpce" if row in ("1p-frac", "1p-frac-sigma6", "real1p") else "ce")
    data = transfer.pretrain_data(row, folder, scale)
    assert len(data) == 1
    seen = shards.resolve(data[0])
    assert seen.num_samples == 6 and seen.loss == manifest["loss"] and seen.num_classes == 2


def test_a_one_image_dataset_repeated_many_times_is_a_short_shard_list(tmp_path):
    scale = transfer.replace(transfer.SCALES["smoke"], categories=2, per_category=1000, render_size=16, points=200)
    folder = transfer.render("ofdb", scale, tmp_path, tmp_path / "unused.png", seed=0)
    data = transfer.pretrain_data("ofdb", folder, scale)[0]
    assert len(data) < 200  # the paths written out would pass PATH_MAX (4096)
    seen = shards.resolve(data)
    assert seen.num_samples == 2000 and seen.num_classes == 2 and len(seen.urls) == 1000
    assert transfer.pretrain_data("ofdb", folder, scale) == [data]  # the links are made once


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def _fashion_like(folder: Path) -> Path:
    """The four idx files of a Fashion-MNIST with the smoke scale's 1200 / 200 images: a bar per class."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 1200), ("t10k", 200)):
        labels = np.arange(count) % 10
        images = rng.integers(0, 60, (count, 28, 28))
        for i, label in enumerate(labels):
            images[i, 2 + 2 * label: 5 + 2 * label, 4:24] = 255
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(_idx(images))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(_idx(labels))
    return folder


def test_the_table_runs_end_to_end_with_equal_steps_and_a_rerun_resumes_without_training(tmp_path):
    fashion = _fashion_like(tmp_path / "fashion")
    command = [sys.executable, str(Path(transfer.__file__)), "--scale", "smoke", "--rows", "fractaldb,1p-frac",
               "--labels", "1,10", "--seeds", "0,1", "--work", str(tmp_path / "work"), "--fashion-mnist", str(fashion)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr
    scale = transfer.SCALES["smoke"]
    work = tmp_path / "work" / "smoke"
    results = json.loads((work / "results.json").read_text())
    assert sorted(results) == ["1p-frac", "fractaldb", "scratch"]
    for name, row in results.items():
        for key in ("finetune-1", "finetune-10", "probe"):
            assert sorted(row[key]) == ["0", "1"] and all(0 <= v <= 100 for v in row[key].values())
        # equal steps at every label count, and the same pre-training steps for both structures
        assert {v for k in ("finetune-1-steps", "finetune-10-steps") for v in row[k].values()} == {scale.finetune_steps}
        if name != "scratch":
            steps = scale.pretrain_epochs * scale.categories * scale.per_category // scale.batch_size
            assert set(row["pretrain-steps"].values()) == {steps}
    for config in (work / "pretrain").glob("*/config.json"):  # the probe's normalisation, scratch's included
        cfg = json.loads(config.read_text())["pretrained_cfg"]
        assert cfg["mean"] == cfg["std"] == NORM, config
    for run in (work / "finetune").glob("*/*/run.json"):
        preset = json.loads(run.read_text())["preset"]
        assert preset["mean"] == preset["std"] == NORM and preset["smoothing"] == preset["color_jitter"] == 0
    lines = first.stdout.splitlines()
    start = lines.index("| row | 1/class top-1 | gain [95 % CI] | 10/class top-1 | gain [95 % CI] | probe top-1 | "
                        "gain [95 % CI] | pre-training loss |")
    assert [line.split(" |")[0] for line in lines[start + 2:start + 5]] == ["| scratch", "| fractaldb", "| 1p-frac"]
    assert lines[start + 6] == "Beyond the 95 % interval (paired by seed):"
    assert lines[start + 7].startswith("- fractaldb: 1/class: beats ")
    stamps = {p: p.stat().st_mtime_ns for p in work.rglob("log.jsonl")}
    again = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[start:] == lines[start:]
    assert {p: p.stat().st_mtime_ns for p in work.rglob("log.jsonl")} == stamps  # nothing trained again


def test_missing_fashion_mnist_files_are_one_line_naming_the_first(tmp_path):
    fashion = _fashion_like(tmp_path / "fashion")
    (fashion / "t10k-labels-idx1-ubyte.gz").unlink()
    done = subprocess.run([sys.executable, str(Path(transfer.__file__)), "--work", str(tmp_path / "work"),
                           "--fashion-mnist", str(fashion)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"transfer.py: error: {fashion / 't10k-labels-idx1-ubyte.gz'} not found: "
                           "install Fashion-MNIST with `apt-get install dataset-fashion-mnist`\n")


def test_a_label_count_beyond_the_budget_is_one_line_before_any_work(tmp_path):
    done = subprocess.run([sys.executable, str(Path(transfer.__file__)), "--scale", "smoke", "--labels", "10,1000",
                           "--work", str(tmp_path / "work")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and done.stdout == "" and not (tmp_path / "work").exists()
    assert done.stderr.startswith("transfer.py: error: 1000 labels per class (10000 images) exceed the 256 samples")


def test_another_pre_training_length_gets_a_work_folder_of_its_own(tmp_path):
    default = transfer.SCALES["default"]
    assert transfer.work_folder(tmp_path, "default", default) == tmp_path / "default"
    longer = transfer.replace(default, pretrain_epochs=default.pretrain_epochs + 2)
    assert transfer.work_folder(tmp_path, "default", longer) == tmp_path / f"default-pe{longer.pretrain_epochs}"
    done = subprocess.run([sys.executable, str(Path(transfer.__file__)), "--pretrain-epochs", "0",
                           "--work", str(tmp_path / "work")], capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stderr) == (1, "transfer.py: error: --pretrain-epochs must be at least 1\n")
    assert not (tmp_path / "work").exists()
