"""fdsl-train reads datasets of both contract versions: format 1 (split `val`) and format 2 (`validation`)."""
import json
import re
import shlex

import pytest
from click.testing import CliRunner

from fdsl_gen.cli import main as fdsl_gen
from fdsl_train.cli import cli as fdsl_train
from fdsl_train.errors import UserError
from fdsl_train.data.shards import resolve


@pytest.fixture(scope="module")
def onepfrac(tmp_path_factory):
    """A format 2 dataset as fdsl-gen writes it: 1p-frac, 4 perturbation classes, a validation split."""
    out = tmp_path_factory.mktemp("v2") / "1p-frac"
    args = ["render", "1p-frac", "--classes", 4, "--instances", 8, "--size", 32, "--points", 3000,
            "--val-fraction", 0.25, "--samples-per-shard", 12, "--workers", 1, "--quiet", "--out", out]
    result = CliRunner().invoke(fdsl_gen, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return out


def test_format_1_val_split_serves_as_validation(shard_dir):
    assert json.loads((shard_dir / "manifest.json").read_text())["format_version"] == 1
    assert resolve(str(shard_dir), split="validation").sizes == (16, 8)
    (shard_dir / "manifest.json").unlink()  # timm's _info.json alone
    assert resolve(str(shard_dir), split="validation").sizes == (16, 8)


def test_format_2_folder_of_fdsl_gen(onepfrac):
    manifest = json.loads((onepfrac / "manifest.json").read_text())
    assert manifest["format_version"] == 2 and manifest["loss"] == "lpce"
    assert manifest["class_names"] == [f"1p-frac-perturbation-{k:05d}" for k in range(4)]
    validation = resolve(str(onepfrac), split="validation")
    assert validation.num_samples == manifest["splits"]["validation"]["num_samples"] == 8
    assert validation.num_classes == 4 and validation.loss == "lpce"
    with pytest.raises(UserError, match="has no 'val' split"):
        resolve(str(onepfrac), split="val")


def test_a_newer_format_is_refused(shard_dir):
    manifest = json.loads((shard_dir / "manifest.json").read_text())
    (shard_dir / "manifest.json").write_text(json.dumps(dict(manifest, format_version=3)))
    with pytest.raises(UserError, match="format_version 3"):
        resolve(str(shard_dir))


def test_card_names_lpce_and_its_pretrain_command_runs(onepfrac, tmp_path, monkeypatch, fast_args):
    card = (onepfrac / "README.md").read_text()
    assert "Loss: LPCE" in card
    command, = re.findall(r"^## Pre-training\n.*?^```sh\n(.*?)\n```$", card, re.M | re.S)
    words = shlex.split(command)
    assert words[:2] == ["fdsl-train", "pretrain"]
    monkeypatch.chdir(onepfrac)
    # the card's command as printed, then a tiny model and one short epoch for the test
    result = CliRunner().invoke(fdsl_train, words[1:] + fast_args + ["--epochs", "1"])
    assert result.exit_code == 0, result.output
    run = json.loads((onepfrac.parent / "runs" / "1p-frac" / "run.json").read_text())
    assert run["preset"]["loss"] == "lpce" and "4 classes, loss lpce" in result.output


def test_finetune_evaluates_on_the_validation_split_by_default(onepfrac, tmp_path, fast_args, log_records):
    out = tmp_path / "ft"
    result = CliRunner().invoke(fdsl_train, ["finetune", "--data", str(onepfrac), "--output", str(out), *fast_args,
                                             "--epochs", "1"])
    assert result.exit_code == 0, result.output
    (epoch,) = log_records(out, "epoch")
    assert 0 <= epoch["top1"] <= 100
