"""Every `sh` block of the dataset card and of the model card runs as printed, on the dataset it describes.

Each line runs in bash, in the folder the card says (the dataset folder; the
folder a training ran in), with this interpreter's bin folder first on PATH,
so that `python`, `fdsl-train` and `fdsl-gen` are this environment's. A
training command (the card's pretrain line, timm's train.py) would run its
preset's hundreds of epochs: it runs until its first epoch is written down,
which is past every check it makes of the data, then it is stopped. Where the
card says what to add on a machine without CUDA, it is added there.

timm's validate.py and train.py are scripts of timm's source repository, in
neither its wheel nor its sdist: FDSL_TIMM_SOURCE names a checkout of the tag
of the installed timm, whose two scripts are copied at test time.
"""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch
from click.testing import CliRunner

from fdsl_gen.card import PRESET_BATCH
from fdsl_gen.cli import main as fdsl_gen
from fdsl_train.cli import cli as fdsl_train
from fdsl_train.presets import PRESETS

TIMM_SOURCE = "FDSL_TIMM_SOURCE"
# perlin needs no parameter files: 2 classes x 8 images, half of each class for validation
RENDER = ("render", "perlin", "--categories", "2", "--instances", "8", "--size", "32", "--val-fraction", "0.5",
          "--samples-per-shard", "4", "--workers", "1", "--quiet")


@pytest.fixture
def dataset(tmp_path):
    out = tmp_path / "data" / "perlin"
    result = CliRunner().invoke(fdsl_gen, [*RENDER, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def timm_scripts(tmp_path_factory):
    """A folder holding timm's train.py and validate.py of the installed timm's version."""
    source = os.environ.get(TIMM_SOURCE)
    if not source:
        pytest.skip(f"set {TIMM_SOURCE} to a checkout of timm's source at tag v{timm.__version__}: its train.py "
                    "and validate.py are in neither its wheel nor its sdist")
    version = re.search(r"__version__ = '([^']+)'", (Path(source) / "timm" / "version.py").read_text()).group(1)
    assert version == timm.__version__, f"{source} holds timm {version}, the installed timm is {timm.__version__}"
    folder = tmp_path_factory.mktemp("timm-scripts")
    for script in ("train.py", "validate.py"):
        shutil.copy(Path(source) / script, folder / script)
    return folder


def sh_lines(card: Path):
    """The lines of every `sh` block of a card, in order."""
    blocks = re.findall(r"^```sh\n(.*?)^```$", card.read_text(), re.M | re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def run_line(line, cwd, done=None, timeout=600):
    """Run one printed command line in bash inside `cwd`; its output. With `done`, a check of what the command
    has written: once it holds, the command is stopped (its process group ended) instead of waited for."""
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    log = cwd / f".output-{abs(hash(line))}.txt"
    with open(log, "w") as sink:
        process = subprocess.Popen(["bash", "-c", line], cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        stopped = _wait(process, done, timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=60)
    output = log.read_text()
    log.unlink()
    assert stopped or process.returncode == 0, f"{line}\n{output[-3000:]}"
    return output


def _wait(process, done, timeout):
    """True once `done()` holds while `process` runs; False when the process ends first."""
    for _ in range(int(timeout / 0.5)):
        if done is not None and done():
            return True
        try:
            process.wait(timeout=0.5)
            return done is not None and done()
        except subprocess.TimeoutExpired:
            continue
    raise AssertionError(f"still running after {timeout} s")


def epoch_logged(run: Path):
    """Whether an fdsl-train run folder's log holds its first epoch."""
    text = (run / "log.jsonl").read_text() if (run / "log.jsonl").is_file() else ""
    return any(json.loads(line)["event"] == "epoch" for line in text[:text.rfind("\n") + 1].splitlines())


def summary_rows(work: Path):
    """The complete lines of train.py's summary.csv (its header, then one row per epoch) so far."""
    found = list(work.glob("output/train/*/summary.csv"))
    text = found[0].read_text() if found else ""
    return text[:text.rfind("\n") + 1].splitlines()


def cpu_options(card: Path):
    """What the card says to add on a machine without CUDA, where this is one."""
    if torch.cuda.is_available():
        return ""
    return " " + re.search(r"On a machine without CUDA,\s+add `([^`]+)`", card.read_text()).group(1)


def test_the_card_batch_is_every_presets():
    assert {preset.batch_size for preset in PRESETS.values()} == {PRESET_BATCH}


def test_every_sh_block_of_the_dataset_card_runs_as_printed(dataset):
    card = dataset / "README.md"
    pretrain, reproduce = sh_lines(card)
    assert pretrain == "fdsl-train pretrain --data . --output ../runs/perlin --batch-size 8"  # 8 train samples
    run = dataset.parent / "runs" / "perlin"
    run_line(pretrain, dataset, done=lambda: epoch_logged(run))
    epoch = next(r for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if r["event"] == "epoch")
    assert epoch["batches"] == 1 and 0 <= epoch["top1"] <= 100  # the whole split in one batch, then validation
    assert shlex.split(reproduce)[-2:] == ["--out", "perlin"]
    run_line(reproduce, dataset)
    assert (dataset / "perlin" / "SHA256SUMS").read_text() == (dataset / "SHA256SUMS").read_text()


def test_a_dataset_of_a_preset_batch_or_more_is_pretrained_with_the_preset_batch(tmp_path):
    from fdsl_gen.card import batch_option
    manifest = {"splits": {"train": {"num_samples": PRESET_BATCH}}}
    assert batch_option(manifest) == ""
    manifest["splits"]["train"]["num_samples"] = PRESET_BATCH - 1
    assert batch_option(manifest) == f" --batch-size {PRESET_BATCH - 1}"


# (command, --data as given from the work folder, what timm's scripts are told of the data, its validation split)
TRAININGS = {
    "shards": ("pretrain", "../data/perlin", "--dataset wds/perlin --data-dir ../data/perlin", "validation"),
    "image folder": ("finetune", "../folder", "--data-dir ../folder", "val"),
}


@pytest.mark.parametrize("data", sorted(TRAININGS))
def test_every_sh_block_of_the_model_card_runs_as_printed(data, dataset, image_folder, timm_scripts, tmp_path,
                                                          fast_args, monkeypatch):
    """validate.py evaluates the weights on the data's validation split (the shards through wds/NAME, an
    ImageFolder tree as it is); train.py trains on the same data from the weights. Both from the folder the
    training ran in, where timm's scripts are put."""
    command, source, told, val = TRAININGS[data]
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = CliRunner().invoke(fdsl_train, [command, "--data", source, "--output", "runs/m", *fast_args,
                                             "--epochs", "1"])
    assert result.exit_code == 0, result.output
    for script in timm_scripts.iterdir():
        shutil.copy(script, work / script.name)
    card = work / "runs" / "m" / "README.md"
    validate, train = sh_lines(card)
    assert validate.startswith(f"python validate.py {told} --split {val} --model test_resnet ")
    assert train.startswith(f"python train.py {told}{' --val-split val' * (val == 'val')} --model test_resnet ")
    assert "--batch-size 8" in train
    output = run_line(validate + cpu_options(card), work)
    results = json.loads(output[output.index("--result\n") + len("--result\n"):])
    assert results["model"] == "test_resnet" and 0 <= results["top1"] <= 100
    run_line(train + cpu_options(card), work, done=lambda: len(summary_rows(work)) >= 2)
    assert summary_rows(work)[0].startswith("epoch,train_loss,eval_loss,eval_top1,")  # trained, then evaluated


def test_the_model_card_gives_the_script_options_for_data_elsewhere(shard_dir, tmp_path, fast_args, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = f"pipe:cat {shard_dir}/toy-train-00000{{0..2}}.tar"  # no folder timm's scripts read
    result = CliRunner().invoke(fdsl_train, ["pretrain", "--data", source, "--samples-per-shard", "20",
                                             "--num-classes", "4", "--output", "runs/m", *fast_args, "--epochs", "1"])
    assert result.exit_code == 0, result.output
    card = (tmp_path / "runs" / "m" / "README.md").read_text()
    assert not sh_lines(tmp_path / "runs" / "m" / "README.md")
    assert f"The run's data (`{source}`) is not a local folder these\nscripts read." in card
    assert "`--model test_resnet --num-classes 4 --checkpoint runs/m/model.safetensors --img-size 32 " in card
