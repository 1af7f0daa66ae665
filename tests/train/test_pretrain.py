import json

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from fdsl_train.cli import cli


def pretrain(*args):
    result = CliRunner().invoke(cli, ["pretrain", *args])
    assert result.exit_code == 0, result.output + str(result.exception)
    return result


def test_loss_falls_on_the_toy_set(shard_dir, tmp_path, fast_args, log_records):
    out = tmp_path / "run"
    result = pretrain("--data", str(shard_dir), "--output", str(out), *fast_args, "--epochs", "4")
    epochs = log_records(out, "epoch")
    assert [e["epoch"] for e in epochs] == [0, 1, 2, 3]
    assert epochs[-1]["loss"] < 0.5 * epochs[0]["loss"]
    assert all(e["batches"] == 83 // 8 and e["skipped"] == 0 for e in epochs)
    # the toy set has a val split: top-1 on it after every epoch, in the log and on the console
    assert all(0 <= e["top1"] <= 100 for e in epochs) and epochs[-1]["top1"] >= 50
    assert f"epoch 3: loss {epochs[-1]['loss']:.4g}, " in result.output
    assert f", top1 {epochs[-1]['top1']:.4g}" in result.output
    steps = log_records(out, "step")
    assert len(steps) == 4 * 10 and all(s["samples_per_s"] > 0 for s in steps)
    assert {"model.safetensors", "config.json", "state.pt", "run.json", "log.jsonl"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "run.json").read_text())["preset"]["model"] == "test_resnet"


def test_1p_frac_dataset_trains_with_lpce_over_l_classes(make_dataset, tmp_path, fast_args, log_records):
    data = make_dataset(tmp_path / "frac", [24, 24], num_classes=6, loss="lpce")
    out = tmp_path / "run"
    result = pretrain("--data", str(data), "--output", str(out), *fast_args, "--epochs", "1")
    assert "6 classes, loss lpce" in result.output
    run = json.loads((out / "run.json").read_text())["preset"]
    assert run["loss"] == "lpce"
    assert load_file(str(out / "model.safetensors"))["fc.weight"].shape[0] == 6
    assert "top1" not in log_records(out, "epoch")[0]  # no val split, no evaluation


def test_a_val_split_smaller_than_a_batch_is_still_scored(make_dataset, tmp_path, fast_args, log_records):
    data = make_dataset(tmp_path / "small-val", [16, 16], extra_splits={"val": [5]})
    out = tmp_path / "run"
    pretrain("--data", str(data), "--output", str(out), *fast_args, "--epochs", "1")
    assert 0 <= log_records(out, "epoch")[0]["top1"] <= 100  # 5 samples, batches of 8


def test_without_a_preset_lpce_datasets_get_the_1p_frac_preset(make_dataset, tmp_path, fast_args):
    data = make_dataset(tmp_path / "frac", [16, 16], num_classes=4, loss="lpce")
    out = tmp_path / "run"
    pretrain("--data", str(data), "--output", str(out), *fast_args, "--epochs", "1")
    preset = json.loads((out / "run.json").read_text())["preset"]
    assert (preset["vflip"], preset["lr_base_size"]) == (0.5, 512)


def test_corrupt_samples_are_reported_per_epoch(make_dataset, tmp_path, fast_args, log_records):
    data = make_dataset(tmp_path / "bad", [16, 16], corrupt=(2, 20))
    out = tmp_path / "run"
    pretrain("--data", str(data), "--output", str(out), *fast_args, "--max-skipped", "10%")
    assert all(e["skipped"] == 2 and e["batches"] == 4 and e["lost_shards"] == [] for e in log_records(out, "epoch"))


def test_strict_stops_at_a_corrupt_sample(make_dataset, tmp_path, fast_args):
    data = make_dataset(tmp_path / "bad", [16, 16], corrupt=(2,))
    result = CliRunner().invoke(cli, ["pretrain", "--data", str(data), "--output", str(tmp_path / "r"),
                                      *fast_args, "--strict"])
    assert result.exit_code == 2
    assert "corrupt sample" in result.stderr and "000000002" in result.stderr


@pytest.mark.parametrize("workers", ["0", "2"])
def test_mid_epoch_resume_matches_an_uninterrupted_run(shard_dir, tmp_path, fast_args, workers):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    args = [*fast_args, "-j", workers, "--data", str(shard_dir)]
    pretrain(*args, "--output", str(straight))
    result = pretrain(*args, "--output", str(stopped), "--stop-after-steps", "3")
    assert "stopped at step 3 (epoch 0, batch 3)" in result.output
    pretrain(*args, "--output", str(stopped), "--resume", str(stopped))
    a = load_file(str(straight / "model.safetensors"))
    b = load_file(str(stopped / "model.safetensors"))
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)
    assert torch.load(stopped / "state.pt", weights_only=False)["position"] == {"epoch": 2, "batch": 0, "step": 20}
