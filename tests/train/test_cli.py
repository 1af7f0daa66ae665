"""Bad input: one line on stderr, exit status 2, no traceback."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fdsl_train.cli import cli

REPO = Path(__file__).resolve().parents[2]


def fails(args, message):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.stderr
    assert message in lines[0]
    return lines[0]


@pytest.fixture
def pretrained(shard_dir, tmp_path, fast_args):
    out = tmp_path / "pre"
    result = CliRunner().invoke(cli, ["pretrain", "--data", str(shard_dir), "--output", str(out),
                                      *fast_args, "--epochs", "1"])
    assert result.exit_code == 0, result.output
    return out


def test_missing_shards(shard_dir, tmp_path, fast_args):
    (shard_dir / "toy-train-000001.tar").unlink()
    fails(["pretrain", "--data", str(shard_dir), *fast_args], "missing shard")
    fails(["pretrain", "--data", str(tmp_path / "x-{000..003}.tar"), *fast_args], "missing shard")


def test_empty_shard_list(tmp_path, fast_args):
    fails(["pretrain", "--data", " ", *fast_args], "empty shard list")


def test_unknown_model(shard_dir, fast_args):
    fails(["pretrain", "--data", str(shard_dir), *fast_args, "--model", "no_such_net"], "unknown model 'no_such_net'")


def test_checkpoint_of_another_architecture(pretrained, image_folder, tmp_path, fast_args):
    fails(["finetune", "--pretrained", str(pretrained), "--data", str(image_folder), *fast_args,
           "--model", "test_vit", "--output", str(tmp_path / "ft")], "(test_resnet) does not fit test_vit")
    fails(["finetune", "--pretrained", str(pretrained), "--data", str(image_folder), *fast_args,
           "--model", "resnet18", "--output", str(tmp_path / "ft")], "does not fit resnet18")


def test_class_count_mismatch(shard_dir, image_folder, tmp_path, fast_args):
    fails(["pretrain", "--data", str(shard_dir), *fast_args, "--num-classes", "10"],
          "class-count mismatch: --num-classes 10, but")
    fails(["finetune", "--data", str(image_folder), *fast_args, "--num-classes", "3",
           "--output", str(tmp_path / "ft")], "class-count mismatch")


def test_folder_without_images(tmp_path, fast_args):
    (tmp_path / "empty" / "train" / "a").mkdir(parents=True)
    (tmp_path / "empty" / "val").mkdir()
    fails(["finetune", "--data", str(tmp_path / "empty"), *fast_args, "--output", str(tmp_path / "ft")],
          "no images in")
    (tmp_path / "bare").mkdir()
    fails(["finetune", "--data", str(tmp_path / "bare"), *fast_args, "--output", str(tmp_path / "ft")],
          "no images in")


def test_balance_fail_refuses_uneven_shards(shard_dir, fast_args, tmp_path):
    fails(["pretrain", "--data", str(shard_dir), *fast_args, "-j", "2", "--balance", "fail",
           "--output", str(tmp_path / "r")],
          "do not split evenly")


def test_probe_layers_out_of_range(pretrained, image_folder, tmp_path):
    fails(["probe", "--pretrained", str(pretrained), "--data", str(image_folder), "--layers", "1,9",
           "-j", "0", "--output", str(tmp_path / "p")], "--layers must lie in 1..5")


def test_a_real_process_prints_one_line_and_exits_2(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "fdsl_train", "pretrain", "--data", str(tmp_path / "nothing.tar")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"fdsl-train: error: missing shard: {tmp_path / 'nothing.tar'} (1 of 1 shards missing)"]


@pytest.mark.parametrize("option, value, words", [
    ("-b", "0", "'-b' / '--batch-size': 0 is not in the range x>=1"),
    ("-b", "-1", "-1 is not in the range x>=1"),
    ("--img-size", "0", "'--img-size': 0 is not in the range x>=1"),
    ("-j", "-1", "'-j' / '--workers': -1 is not in the range x>=0"),
    ("--epochs", "0", "'--epochs': 0 is not in the range x>=1"),
])
def test_out_of_range_options_are_one_line(shard_dir, fast_args, option, value, words):
    fails(["pretrain", "--data", str(shard_dir), *fast_args, option, value], words)


@pytest.mark.parametrize("content", [b"", b"\x00" * 300, b"not a state at all"])
def test_a_damaged_state_is_refused_in_one_line(shard_dir, fast_args, tmp_path, content):
    (tmp_path / "state.pt").write_bytes(content)
    fails(["pretrain", "--data", str(shard_dir), *fast_args, "--resume", str(tmp_path / "state.pt"),
           "--output", str(tmp_path / "r")], "state.pt is not a readable training state")


def test_errors_of_the_store_layer_are_the_same_one_line(shard_dir, fast_args, monkeypatch):
    """fdsl_gen's UserError is fdsl-train's: a bad FDSL_IO_TIMEOUT is refused by the store policy itself."""
    from fdsl_gen.errors import UserError as GenUserError
    from fdsl_train.errors import UserError

    assert UserError is GenUserError
    monkeypatch.setenv("FDSL_IO_TIMEOUT", "soon")
    fails(["pretrain", "--data", str(shard_dir), *fast_args], "FDSL_IO_TIMEOUT=soon: expected a number of seconds")


def test_recipe_is_refused_with_a_hint_to_use_preset(shard_dir, fast_args):
    """In fdsl a recipe is a dataset's (fdsl-gen render RECIPE); fdsl-train's presets are --preset."""
    line = fails(["pretrain", "--data", str(shard_dir), *fast_args, "--recipe", "fdsl-vit"], "--recipe is gone")
    assert "use --preset" in line
