import gzip
import json
import os
import subprocess
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import transfer  # noqa: E402


def test_subsets_hold_n_per_class_repeat_per_seed_and_differ_between_seeds():
    labels = [i % 10 for i in range(500)]
    one = transfer.subset(labels, 7, seed=0)
    assert len(one) == 70 and sorted({labels[i] for i in one}) == list(range(10))
    assert all(sum(labels[i] == c for i in one) == 7 for c in range(10))
    assert transfer.subset(labels, 7, seed=0) == one and transfer.subset(labels, 7, seed=1) != one
    assert set(transfer.subset(labels, 5, seed=0)) != set(transfer.subset(labels, 5, seed=2))


def test_a_pool_too_small_for_the_label_count_stops_with_one_line():
    with pytest.raises(SystemExit, match="fewer than 60: raise --train-pool"):
        transfer.subset([i % 10 for i in range(100)], 60, seed=0)


def test_every_label_count_sees_about_the_same_samples():
    """About the budget each, except a labelled set larger than the budget: one pass over it, no more."""
    scale = transfer.SCALES["default"]
    for n in (10, 100, 1000):
        images = 10 * n
        copies, epochs = transfer.copies_and_epochs(images, scale)
        assert 0 < epochs <= scale.finetune_epochs
        seen = images * copies * epochs
        if images > scale.finetune_samples:
            assert (copies, epochs) == (1, 1), n
        else:
            assert 0.8 * scale.finetune_samples <= seen <= 1.6 * scale.finetune_samples, (n, seen)


def test_linked_subset_is_an_image_folder_of_the_chosen_files(tmp_path):
    pool = tmp_path / "pool"
    for i in range(40):
        folder = pool / str(i % 10)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:05d}.png").write_bytes(b"%d" % i)
    labels = transfer.pool_labels(pool)
    chosen = transfer.subset(labels, 2, seed=3)
    out = transfer.link_subset(pool, chosen, 3, tmp_path / "sub")
    files = sorted(out.rglob("*.png"))
    assert len(files) == 2 * 10 * 3 and sorted({f.parent.name for f in files}) == [str(c) for c in range(10)]
    assert all(f.is_symlink() and f.read_bytes() == f.resolve().read_bytes() for f in files)


def test_table_reports_mean_std_and_the_paired_gain_over_scratch():
    results = {"scratch": {"finetune-10": {"0": 50.0, "1": 60.0, "2": 55.0}, "probe": {"0": 30.0}},
               "fractaldb": {"finetune-10": {"0": 52.0, "1": 63.0, "2": 56.0}, "probe": {"0": 40.0}}}
    text = transfer.table(results, ["scratch", "fractaldb"], [10])
    lines = text.splitlines()
    assert lines[2] == "| scratch | 55.0 ± 5.0 | - | 30.0 ± 0.0 | - |"
    assert lines[3] == "| fractaldb | 57.0 ± 5.6 | 2.0 ± 1.0 | 40.0 ± 0.0 | 10.0 ± 0.0 |"


def test_every_row_renders_the_same_classes_and_images():
    scale = transfer.SCALES["smoke"]
    for row in transfer.ROWS[1:]:
        args = transfer.render_args(row, scale, Path("photo.png"))
        if row == "real1p":  # one image per class: the same images as classes
            assert args[args.index("--classes") + 1] == str(scale.categories * scale.per_category)
            continue
        count = args[args.index("--classes" if "--classes" in args else "--categories") + 1]
        per = args[args.index("--instances") + 1]
        assert (count, per) == (str(scale.categories), str(scale.per_category))
        assert args[args.index("--size") + 1] == str(scale.render_size)
    sigma6 = transfer.render_args("1p-frac-sigma6", scale, Path("p"))
    assert float(sigma6[sigma6.index("--sigma") + 1]) + 0.1 >= 6  # drawn within +-0.1: reaches 6


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
def test_every_row_s_render_command_is_accepted_and_renders_its_classes(tmp_path, row):
    scale = transfer.replace(transfer.SCALES["smoke"], categories=2, per_category=2, render_size=16, points=200)
    camera = transfer.photo(tmp_path / "camera.png")
    folder = transfer.render(row, scale, tmp_path, camera)
    manifest = json.loads((folder / "manifest.json").read_text())
    expected = scale.categories * scale.per_category if row == "real1p" else scale.categories
    assert manifest["num_classes"] == expected


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


def test_the_table_runs_end_to_end_and_a_rerun_resumes_without_training(tmp_path):
    fashion = _fashion_like(tmp_path / "fashion")
    command = [sys.executable, str(Path(transfer.__file__)), "--scale", "smoke", "--rows", "fractaldb", "--labels",
               "10", "--seeds", "0,1", "--work", str(tmp_path / "work"), "--fashion-mnist", str(fashion)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr
    work = tmp_path / "work" / "smoke"
    results = json.loads((work / "results.json").read_text())
    assert sorted(results) == ["fractaldb", "scratch"]
    for row in results.values():
        assert sorted(row) == ["finetune-10", "probe"]
        assert all(sorted(runs) == ["0", "1"] and all(0 <= v <= 100 for v in runs.values()) for runs in row.values())
    table = first.stdout.splitlines()[-4:]
    assert table[2].startswith("| scratch | ") and table[3].startswith("| fractaldb | ")
    logs = sorted(p.name for p in (work / "logs").iterdir())
    assert "render-fractaldb.txt" in logs and "pretrain-fractaldb.txt" in logs
    assert len([n for n in logs if n.startswith("finetune-")]) == 4 and len([n for n in logs if n.startswith("probe-")]) == 4
    stamps = {p: p.stat().st_mtime_ns for p in work.rglob("log.jsonl")}
    again = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-4:] == table
    assert {p: p.stat().st_mtime_ns for p in work.rglob("log.jsonl")} == stamps  # nothing trained again


def test_missing_fashion_mnist_files_are_one_line_naming_the_first(tmp_path):
    fashion = _fashion_like(tmp_path / "fashion")
    (fashion / "t10k-labels-idx1-ubyte.gz").unlink()
    done = subprocess.run([sys.executable, str(Path(transfer.__file__)), "--work", str(tmp_path / "work"),
                           "--fashion-mnist", str(fashion)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"transfer.py: error: {fashion / 't10k-labels-idx1-ubyte.gz'} not found: "
                           "install Fashion-MNIST with `apt-get install dataset-fashion-mnist`\n")
