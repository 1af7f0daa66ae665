"""What a run shows while it goes: TensorBoard events, W&B, curves.png, plain progress lines, `report`."""
import hashlib
import json
import re
import sys
import time

import pytest
from click.testing import CliRunner
from google.protobuf.message import DecodeError
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from fdsl_train.run import curves
from fdsl_train.cli import cli


def invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output + str(result.exception)
    return result


@pytest.fixture
def finetuned(shard_dir, tmp_path, fast_args):
    """A two-epoch run from scratch on shards with a val split, so that every figure is logged."""
    out = tmp_path / "run"
    result = invoke("finetune", "--data", shard_dir, "--output", out, *fast_args)
    return out, result


def test_event_files_hold_the_logged_scalars(finetuned, log_records):
    out, _ = finetuned
    events = EventAccumulator(str(out), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()

    def series(tag):
        return [(e.step, e.value) for e in events.Scalars(tag)]

    steps, epochs = log_records(out, "step"), log_records(out, "epoch")
    assert series("train/loss") == [(s["step"], pytest.approx(s["loss"])) for s in steps]
    assert series("train/lr") == [(s["step"], pytest.approx(s["lr"])) for s in steps]
    assert series("train/samples_per_s") == [(s["step"], pytest.approx(s["samples_per_s"])) for s in steps]
    assert series("epoch/loss") == [(e["step"], pytest.approx(e["loss"])) for e in epochs]
    assert series("epoch/skipped") == [(e["step"], e["skipped"]) for e in epochs]
    assert series("val/top1") == [(e["step"], pytest.approx(e["top1"])) for e in epochs]
    assert len(epochs) == 2 and len(steps) == 2 * (83 // 8)
    preset = events.Tensors("preset/text_summary")[0].tensor_proto.string_val[0].decode()
    assert json.loads(preset.replace("\n    ", "\n")) == json.loads((out / "run.json").read_text())["preset"]


def test_curves_png_is_drawn_at_the_expected_size(finetuned):
    out, _ = finetuned
    with Image.open(out / "curves.png") as image:
        image.verify()
    with Image.open(out / "curves.png") as image:
        assert image.format == "PNG" and image.size == curves.SIZE
        # three panels with lines on them: far from one flat colour
        assert len(image.convert("RGB").getcolors(maxcolors=100000)) > 50


def test_curves_are_read_back_from_the_log(finetuned, log_records):
    out, _ = finetuned
    read = curves.read(out)
    assert read.loss == [s["loss"] for s in log_records(out, "step")]
    assert read.top1 == [e["top1"] for e in log_records(out, "epoch")]


def test_output_to_a_file_stays_small_per_epoch(shard_dir, tmp_path, fast_args, log_records):
    out = tmp_path / "run"
    result = invoke("pretrain", "--data", shard_dir, "--output", out, *fast_args, "--epochs", "3")
    assert "\r" not in result.output
    lines = result.output.splitlines()
    for epoch in log_records(out, "epoch"):
        progress = [line for line in lines if line.startswith(f"epoch {epoch['epoch']}: ") and " batch, " in line]
        # one line at the end of the epoch, and one more for each 30 seconds it took
        assert 0 < len(progress) <= 1 + epoch["seconds"] // 30 and all(len(line) < 160 for line in progress)
        step = 10 * (epoch["epoch"] + 1)
        assert re.match(rf"epoch {epoch['epoch']}: 10/10 batch, [\d.e+]+ batch/s, ETA 0:00:00, step {step}, "
                        r"loss [\d.]+, samples_s \d+$", progress[-1]), progress
    seconds = sum(e["seconds"] for e in log_records(out, "epoch"))
    assert len(result.output.encode()) < 400 + 3 * 200 + (3 + seconds // 30) * 160, result.output


def test_report_compares_two_runs(shard_dir, tmp_path, fast_args, log_records, monkeypatch):
    monkeypatch.chdir(tmp_path)
    invoke("pretrain", "--data", shard_dir, "--output", "runs/pretrain", *fast_args, "--epochs", "1")
    invoke("finetune", "--data", shard_dir, "--output", "runs/finetune", *fast_args, "--seed", "1")
    result = invoke(*"report runs/pretrain runs/finetune".split())  # as the README prints it
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["run", "model", "data"] and len(lines) == 3
    pre, fine = tmp_path / "runs/pretrain", tmp_path / "runs/finetune"
    digest = log_records(pre, "data")[0]["digest"]
    shards = json.loads((shard_dir / "manifest.json").read_text())["splits"]["train"]["shards"]
    assert digest == hashlib.sha256("\n".join(s["sha256"] for s in shards).encode()).hexdigest()[:16]
    loss = {run: f"{log_records(run, 'epoch')[-1]['loss']:.4f}" for run in (pre, fine)}
    # both evaluate the toy set's val split: pretrain because the dataset has one
    best = {run: f"{max(e['top1'] for e in log_records(run, 'epoch')):.2f}" for run in (pre, fine)}
    expected = {"runs/pretrain": [digest, "1/1", loss[pre], best[pre]],
                "runs/finetune": [digest, "2/2", loss[fine], best[fine]]}  # the same shards
    for line in lines[1:]:
        cells = line.split()
        assert cells[1] == "test_resnet" and cells[2:6] == expected.pop(cells[0])
        assert float(cells[6]) > 0 and re.match(r"\d+:\d\d:\d\d$", cells[7])
    assert not expected
    with Image.open(tmp_path / "report.png") as image:
        assert image.size == curves.SIZE
    assert curves.read(pre).top1 == [log_records(pre, "epoch")[0]["top1"]]  # the val panel of curves.png


def test_report_refuses_a_folder_that_is_not_a_run(tmp_path):
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr == f"fdsl-train: error: {tmp_path} is not a run folder: it has no run.json\n"


def wandb_history(run_file):
    """{step: logged values} from a W&B transaction log: LevelDB log blocks of wandb's protobuf records."""
    from wandb.proto import wandb_internal_pb2

    data, block, position, pieces, history = run_file.read_bytes(), 32768, 7, b"", {}
    assert data[:4] == b":W&B"
    while position + 7 <= len(data):
        if block - position % block < 7:  # a block's tail too short for a record header is padding
            position += block - position % block
            continue
        length, kind = int.from_bytes(data[position + 4:position + 6], "little"), data[position + 6]
        pieces += data[position + 7:position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a whole record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pieces)
            pieces = b""
            if record.WhichOneof("record_type") == "history":
                history[record.history.step.num] = {
                    i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item}
    return history


def settled_history(run_file, steps, timeout=60):
    """The history once wandb's service has written every one of `steps`: it writes the file after finish()."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            history = wandb_history(run_file)
        except DecodeError:  # a record half written
            history = {}
        if set(steps) <= set(history) or time.monotonic() > deadline:
            return history
        time.sleep(0.1)


def test_log_wandb_writes_an_offline_run(shard_dir, tmp_path, fast_args, monkeypatch, log_records):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = tmp_path / "run"
    invoke("finetune", "--data", shard_dir, "--output", out, *fast_args, "--epochs", "1", "--log-wandb")
    steps, epoch = log_records(out, "step"), log_records(out, "epoch")[0]
    history = settled_history(next((out / "wandb").glob("offline-run-*/run-*.wandb")), [s["step"] for s in steps])
    assert sorted(history) == [s["step"] for s in steps]
    assert [history[s["step"]]["train/loss"] for s in steps] == [pytest.approx(s["loss"]) for s in steps]
    last = history[epoch["step"]]
    assert (last["epoch/loss"], last["val/top1"]) == (pytest.approx(epoch["loss"]), pytest.approx(epoch["top1"]))


def test_log_wandb_without_the_package_is_one_line(shard_dir, tmp_path, fast_args, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # what `import wandb` meets when it is not installed
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["pretrain", "--data", str(shard_dir), "--output", str(out), *fast_args,
                                      "--log-wandb"])
    assert result.exit_code == 2
    assert result.stderr == "fdsl-train: error: --log-wandb needs the wandb package: pip install wandb\n"
    assert not out.exists()
