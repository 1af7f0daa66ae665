"""A refused run leaves no folder it created: neither --output nor the parents it made (runs/); a folder that
existed before stays. Each command is refused once before its run folder is claimed and once after."""
from pathlib import Path

import pytest
from click.testing import CliRunner

from fdsl_train.cli import cli
from tests.train.conftest import FAST_ARGS, write_dataset

REFUSALS = {
    # pretrain checks the data before it claims --output
    "pretrain": (lambda data: ["pretrain", "--data", data, *FAST_ARGS, "--batch-size", "64"],
                 "20 samples are fewer than one batch per rank"),
    # finetune opens its validation split once the run folder is claimed
    "finetune": (lambda data: ["finetune", "--data", data, *FAST_ARGS], "has no 'validation' split"),
    # probe loads the checkpoint once the run folder is claimed
    "probe": (lambda data: ["probe", "--pretrained", "no-such-run", "--data", data, "--layers", "1"],
              "no checkpoint at no-such-run"),
}


def refused(command, data, output):
    build, words = REFUSALS[command]
    result = CliRunner().invoke(cli, [*map(str, build(data)), "--output", str(output)])
    assert result.exit_code == 2 and words in result.stderr, result.output


def folders(root: Path) -> set:
    return {path for path in root.rglob("*") if path.is_dir()}


@pytest.mark.parametrize("command", list(REFUSALS))
def test_a_refused_run_removes_the_folders_it_made(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = write_dataset(tmp_path / "data", [20])
    before = folders(tmp_path)
    refused(command, data, Path("runs/deep/run"))  # relative, as typed: ../runs/NAME in the card
    assert folders(tmp_path) == before


@pytest.mark.parametrize("command", list(REFUSALS))
def test_a_refused_run_keeps_the_folders_that_were_there(command, tmp_path):
    data = write_dataset(tmp_path / "data", [20])
    (tmp_path / "runs" / "kept").mkdir(parents=True)
    (tmp_path / "runs" / "other.txt").write_text("not the run's\n")
    refused(command, data, tmp_path / "runs" / "kept")
    refused(command, data, tmp_path / "runs" / "new")
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["kept", "other.txt"]
    assert not any((tmp_path / "runs" / "kept").iterdir())


@pytest.mark.parametrize("command", ["pretrain", "finetune"])  # probe has no --cache-dir
def test_a_refused_run_leaves_no_cache_folder(command, tmp_path):
    """--cache-dir is checked before the run, but made by its first copy: a refused run made none."""
    data = write_dataset(tmp_path / "data", [20])
    build, words = REFUSALS[command]
    args = [*map(str, build(data)), "--output", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache" / "new")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and words in result.stderr, result.output
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()


def test_a_cache_folder_that_cannot_be_made_is_refused_before_the_run(tmp_path):
    (tmp_path / "file").write_text("not a folder\n")
    data = write_dataset(tmp_path / "data", [20])
    args = ["pretrain", "--data", str(data), *FAST_ARGS, "--output", str(tmp_path / "run"),
            "--cache-dir", str(tmp_path / "file" / "cache")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and f"--cache-dir {tmp_path}/file/cache cannot be written" in result.stderr
    assert not (tmp_path / "run").exists()
