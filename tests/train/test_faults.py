"""Faults and bad input, one row each, through the real `fdsl-train` command in a subprocess.

A row builds its input in a fresh folder and gives the command's arguments. The
run must end with the row's exit status; a failure prints exactly one line,
`fdsl-train: error: ...`, holding the row's words. Afterwards no file that was
there before has changed (unless the row asks for a change), a failed run has
left no weights or training state, a run folder the row keeps holds the same
files, and no temporary file remains.
"""
import functools
import http.server
import json
import os
import random
import socket
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional

import click
import pytest
import torch

from tests.train.conftest import FAST_ARGS, read_log, write_dataset, write_image_folder

REPO = Path(__file__).resolve().parents[2]
ARGS = [*FAST_ARGS, "--epochs", "1"]
SHARD = "toy-train-000001.tar"  # the shard each data fault damages


def toy(folder: Path) -> Path:
    """Two training shards of 20 samples and a validation shard."""
    return write_dataset(folder / "toy", [20, 20], extra_splits={"val": [8]})


def pretrain(data, *more) -> List[str]:
    return ["pretrain", "--data", str(data), *ARGS, *more]


def fake_run(folder: Path) -> Path:
    """A folder holding a run's files (their contents do not matter to the refusal)."""
    folder.mkdir(parents=True)
    for name in ("run.json", "log.jsonl", "model.safetensors", "config.json", "state.pt"):
        (folder / name).write_text(f"the old {name}\n")
    return folder


def state_file(folder: Path, content: bytes) -> Path:
    run = fake_run(folder)
    (run / "state.pt").write_bytes(content)
    return run


def finished_state(folder: Path, epochs: int) -> Path:
    run = fake_run(folder)
    torch.save({"model": {}, "optimizer": {}, "scaler": {}, "layout": {},
                "position": {"epoch": epochs, "batch": 0, "step": 5}}, run / "state.pt")
    return run


def cut_after(path: Path, samples: int) -> None:
    """Cut a shard inside the sample after its first `samples` samples."""
    with tarfile.open(path) as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
    keys = sorted({m.name.split(".")[0] for m in members})
    first_cut = next(m for m in members if m.name.startswith(keys[samples]))
    data = path.read_bytes()
    path.write_bytes(data[:first_cut.offset_data + 10])


def relabel(data: Path, num_classes: int) -> Path:
    for name in ("manifest.json", "_info.json"):
        document = json.loads((data / name).read_text())
        document["num_classes"] = num_classes
        (data / name).write_text(json.dumps(document))
    return data


def with_bad_digest(data: Path) -> Path:
    manifest = json.loads((data / "manifest.json").read_text())
    manifest["splits"]["train"]["shards"][1]["sha256"] = "0" * 64
    (data / "manifest.json").write_text(json.dumps(manifest))
    return data


def serve(root: Path, hang_on: str = "") -> str:
    """An http server of `root` whose requests for paths ending in `hang_on` get no answer; its base URL."""
    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if hang_on and self.path.endswith(hang_on):
                self.rfile.read()  # no answer: held until the client gives up and hangs up
                return
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


def silent_port() -> int:
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    silent_port.keep.append(listener)
    return listener.getsockname()[1]


silent_port.keep = []


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def image_tree(folder: Path, train: List[str], val: List[str]) -> Path:
    tree = write_image_folder(folder / "images", per_class=4)
    for split, keep in (("train", train), ("val", val)):
        for label, name in enumerate(keep):
            (tree / split / f"class{label}").rename(tree / split / name)
        for extra in (tree / split).glob("class*"):
            for file in extra.iterdir():
                file.unlink()
            extra.rmdir()
    return tree


def finetune(data, out, *more) -> List[str]:
    return ["finetune", "--data", str(data), "--output", str(out), *ARGS, *more]


def epoch_record(folder: Path) -> dict:
    records = read_log(folder, "epoch")
    assert len(records) == 1, records
    return records[0]


def lost_shard(folder: Path, out: str, samples: int) -> None:
    record = epoch_record(folder / out)
    assert record["skipped"] == samples and [Path(p).name for p in record["lost_shards"]] == [SHARD]
    lost = read_log(folder / out, "lost")
    assert [(Path(r["shard"]).name, r["samples"]) for r in lost] == [(SHARD, samples)]


def default_taken(folder: Path) -> List[str]:
    fake_run(folder / "runs" / "pretrain")
    return pretrain(toy(folder))


def no_folder(path: Path) -> None:
    assert not path.exists(), sorted(path.iterdir())


def skipped(run: Path, samples: int) -> None:
    assert epoch_record(run)["skipped"] == samples


@dataclass(frozen=True)
class Case:
    build: Callable[[Path], List[str]]  # writes the row's input under its folder; the command's arguments
    error: Optional[str]  # words of the one stderr line; None: the command succeeds
    check: Callable[[Path], None] = lambda folder: None  # the folder after the command
    changes: bool = False  # the command may rewrite files that were there before
    keeps: str = ""  # a run folder in which the command may create no file either
    seconds: float = 600  # the command must end within this (a hang would not; Python's start-up takes its part)


def damaged(how: Callable[[Path], None]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        data = toy(folder)
        how(data / SHARD)
        return data
    return build


truncated = damaged(lambda shard: cut_after(shard, 9))
random_bytes = damaged(lambda shard: shard.write_bytes(random.Random(0).randbytes(12_000)))
empty = damaged(lambda shard: shard.write_bytes(b""))

CASES = {
    # options
    "batch size 0": Case(lambda f: pretrain(toy(f), "-b", "0"), "'-b' / '--batch-size': 0 is not in the range x>=1"),
    "batch size -1": Case(lambda f: pretrain(toy(f), "-b", "-1"), "-1 is not in the range x>=1"),
    "image size 0": Case(lambda f: pretrain(toy(f), "--img-size", "0"), "'--img-size': 0 is not in the range"),
    "workers -1": Case(lambda f: pretrain(toy(f), "-j", "-1"), "'-j' / '--workers': -1 is not in the range x>=0"),
    "epochs 0": Case(lambda f: pretrain(toy(f), "--epochs", "0"), "'--epochs': 0 is not in the range x>=1"),
    "max-skipped not a number": Case(lambda f: pretrain(toy(f), "--max-skipped", "lots"),
                                     "'--max-skipped': expected a count (100), a share (0.01) or a percentage"),
    "max-skipped over 100%": Case(lambda f: pretrain(toy(f), "--max-skipped", "150%"), "a share lie in 0..1"),
    "io-timeout 0": Case(lambda f: pretrain(toy(f), "--io-timeout", "0"), "'--io-timeout': 0.0 is not in the range"),
    "io-timeout inf": Case(lambda f: pretrain(toy(f), "--io-timeout", "inf"), ": inf is not a finite number"),
    "io-timeout nan": Case(lambda f: pretrain(toy(f), "--io-timeout", "nan"), ": nan is not a finite number"),
    "max-skipped 1e9 is a count": Case(
        lambda f: pretrain(truncated(f), "--output", str(f / "r"), "--max-skipped", "1e9"), None,
        lambda f: lost_shard(f, "r", 11)),
    "max-skipped neither count nor share": Case(lambda f: pretrain(toy(f), "--max-skipped", "2.5"),
                                                "--max-skipped': a count must be a whole number >= 0"),
    "unknown optimizer": Case(lambda f: pretrain(toy(f), "--output", str(f / "r"), "--opt", "foo"),
                              "--opt foo: Optimizer foo not found", lambda f: no_folder(f / "r")),
    "unknown schedule": Case(lambda f: pretrain(toy(f), "--output", str(f / "r"), "--sched", "foo"),
                             "--sched foo: Unknown scheduler 'foo'", lambda f: no_folder(f / "r")),
    "unknown command": Case(lambda f: ["retrain"], "No such command 'retrain'"),
    "unknown option": Case(lambda f: ["--fast"], "No such option '--fast'"),
    # the run folder
    "output holds a run": Case(lambda f: pretrain(toy(f), "--output", str(fake_run(f / "run"))),
                               "already holds a run (run.json, log.jsonl, state.pt, model.safetensors, config.json): "
                               "pass --resume"),
    "output is a file": Case(lambda f: pretrain(toy(f), "--output", str(f / "toy" / "manifest.json")),
                             "is a file, not a folder"),
    "output inside a file": Case(lambda f: pretrain(toy(f), "--output", str(f / "toy" / "manifest.json" / "run")),
                                 "manifest.json/run cannot be written (Not a directory)"),
    "output where nothing is written": Case(lambda f: pretrain(toy(f), "--output", "/proc/fdsl-run"),
                                            "--output /proc/fdsl-run cannot be written"),
    "output read-only": Case(lambda f: pretrain(toy(f), "--output", str(read_only(f / "locked"))),
                             "locked cannot be written (", lambda f: no_files(f / "locked")),
    "overwrite replaces a run": Case(lambda f: pretrain(toy(f), "--output", str(fake_run(f / "run")), "--overwrite"),
                                     None, lambda f: epoch_record(f / "run"), changes=True),
    "resume and overwrite": Case(lambda f: pretrain(toy(f), "--resume", str(fake_run(f / "run")), "--overwrite"),
                                 "--resume continues a run and --overwrite replaces one"),
    "default folder taken": Case(default_taken, None, lambda f: epoch_record(f / "runs" / "pretrain-2")),
    "bad input leaves no run folder": Case(lambda f: finetune(image_tree(f, ["a"], ["a"]), f / "ft"), "has one class",
                                           lambda f: no_folder(f / "ft")),
    # training state
    "random state.pt": Case(
        lambda f: pretrain(toy(f), "--resume", str(state_file(f / "run", random.Random(0).randbytes(4000)))),
                            "state.pt is not a readable training state"),
    "truncated state.pt": Case(
        lambda f: pretrain(toy(f), "--resume", str(state_file(f / "run", _saved_state()[:300]))),
        "state.pt is not a readable training state"),
    "empty state.pt": Case(lambda f: pretrain(toy(f), "--resume", str(state_file(f / "run", b""))),
                           "state.pt is not a readable training state"),
    "state.pt of something else": Case(
        lambda f: pretrain(toy(f), "--resume", str(state_file(f / "run", _saved_state({"weights": 1})))),
        "is not a training state of fdsl-train (no model, optimizer, scaler, position, layout)"),
    "resume a finished run": Case(lambda f: pretrain(toy(f), "--resume", str(finished_state(f / "run", 1))),
                                  "already finished its 1 epochs; --epochs 1 asks for no more"),
    "resume a fine-tuning": Case(lambda f: pretrain(toy(f), "--resume", str(finetune_run(f)), "--epochs", "2"),
                                 "ft holds a finetune run: pretrain --resume continues pretrain runs only", keeps="ft"),
    "resume with other classes": Case(
        lambda f: pretrain(write_dataset(f / "two", [20, 20], num_classes=2), "--resume", str(pretrain_run(f)),
                           "--epochs", "2"),
        "run does not fit test_resnet with 2 classes: fc.weight is [4, 96] in the state, [2, 96] in the model",
        keeps="run"),
    # data
    "labels beyond num_classes": Case(lambda f: pretrain(relabel(toy(f), 2), "--output", str(f / "r")),
                                      "outside the data's 2 classes (0..1): its num_classes is smaller than its labels"),
    "more class names than classes": Case(lambda f: pretrain(named(f, 5, num_classes=3), "--output", str(f / "r")),
                                          "named/manifest.json lists 5 class_names but says num_classes 3",
                                          lambda f: no_folder(f / "r")),
    "fewer class names than classes": Case(lambda f: finetune(named(f, 3, num_classes=4), f / "ft"),
                                           "named/manifest.json lists 3 class_names but says num_classes 4",
                                           lambda f: no_folder(f / "ft")),
    "class names disagree in a probe": Case(lambda f: probe(weights(f / "w"), named(f, 5, num_classes=3), f / "p"),
                                            "named/manifest.json lists 5 class_names but says num_classes 3",
                                            lambda f: no_folder(f / "p")),
    "format_version a string": Case(lambda f: pretrain(versioned(toy(f), "2"), "--output", str(f / "r")),
                                    "toy/manifest.json is malformed: format_version must be a whole number",
                                    lambda f: no_folder(f / "r")),
    "every shard lost": Case(lambda f: pretrain(all_lost(f), "--output", str(f / "r")),
                             "lost 43 of 43 samples, more than --max-skipped 1% allows"),
    "truncated shard counted": Case(lambda f: pretrain(truncated(f), "--output", str(f / "r"), "--max-skipped", "50%"),
                                    None, lambda f: lost_shard(f, "r", 11)),
    "random-bytes shard counted": Case(
        lambda f: pretrain(random_bytes(f), "--output", str(f / "r"), "--max-skipped", "50%"),
        None, lambda f: lost_shard(f, "r", 20)),
    "empty shard counted": Case(lambda f: pretrain(empty(f), "--output", str(f / "r"), "--max-skipped", "20"),
                                None, lambda f: lost_shard(f, "r", 20)),
    "losses over --max-skipped": Case(lambda f: pretrain(truncated(f), "--output", str(f / "r")),
                                      "lost 11 of 40 samples, more than --max-skipped 1% allows: shard"),
    "cache-dir is a file": Case(
        lambda f: pretrain(serve(toy(f).parent) + "toy/", "--cache-dir", str(f / "toy" / "manifest.json"),
                           "--output", str(f / "r")),
        "toy/manifest.json is a file, not a folder", lambda f: no_folder(f / "r")),
    "cache-dir where nothing is written": Case(
        lambda f: pretrain(serve(toy(f).parent) + "toy/", "--cache-dir", "/proc/fdsl-cache", "--output", str(f / "r")),
        "--cache-dir /proc/fdsl-cache cannot be written", lambda f: no_folder(f / "r")),
    "cache-dir read-only": Case(
        lambda f: pretrain(serve(toy(f).parent) + "toy/", "--cache-dir", str(read_only(f / "locked")),
                           "--output", str(f / "r")),
        "locked cannot be written (", lambda f: no_folder(f / "r")),
    "digest mismatch in the cache": Case(
        lambda f: pretrain(serve(with_bad_digest(toy(f)).parent) + "toy/", "--cache-dir", str(f / "cache"),
                           "--output", str(f / "r")),
        f"{SHARD} lost 20 samples (ValueError:"),
    "server refuses": Case(lambda f: pretrain(f"http://127.0.0.1:{closed_port()}/toy/"),
                           "manifest.json: connection refused"),
    "server never answers": Case(lambda f: pretrain(f"http://127.0.0.1:{silent_port()}/toy/", "--io-timeout", "1"),
                                 "manifest.json: no answer within 1 s (--io-timeout)", seconds=240),
    "shards never come": Case(
        lambda f: pretrain(serve(toy(f).parent, hang_on=".tar") + "toy/", "--io-timeout", "1", "--output",
                           str(f / "r")),
        "no answer within 1 s (--io-timeout)", seconds=240),
    # fine-tuning
    "val class unknown to train": Case(lambda f: finetune(image_tree(f, ["a", "b"], ["a", "c"]), f / "ft"),
                                       "images/val has classes the training split lacks: c (it has: a, b)"),
    "undecodable image skipped": Case(
        lambda f: finetune(_junk_image(image_tree(f, ["a", "b"], ["a", "b"])), f / "ft", "--max-skipped", "1"),
        None, lambda f: skipped(f / "ft", 1)),
    "report names a fine-tuning's data": Case(lambda f: finetune(toy(f), f / "ft"), None,
                                              lambda f: reported_data(f / "ft")),
    # report
    "report plot is a folder": Case(lambda f: ["report", stub_run(f / "run"), "--plot", folder_at(f / "plots")],
                                    "plots is a folder: name the PNG file to write"),
    "report plot where nothing is written": Case(lambda f: ["report", stub_run(f / "run"), "--plot", "/proc/r.png"],
                                                 "--plot /proc/r.png: cannot write it"),
}


def _saved_state(value=None) -> bytes:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"state-{os.getpid()}-{threading.get_ident()}.pt"
    torch.save(value if value is not None else {"model": {"w": torch.zeros(64)}}, path)
    data = path.read_bytes()
    path.unlink()
    return data


def _junk_image(tree: Path) -> Path:
    (tree / "train" / "a" / "0000.png").write_bytes(b"not an image")
    return tree


def fdsl_train(args: List[str], cwd: Path) -> None:
    """Run fdsl-train as the rows do, to make a row's input (a run to resume)."""
    subprocess.run([sys.executable, "-m", "fdsl_train", *map(str, args)], check=True, capture_output=True,
                   env=_env(), cwd=cwd, timeout=600)


def finetune_run(folder: Path) -> Path:
    fdsl_train(finetune(write_image_folder(folder / "images", per_class=4), folder / "ft"), folder)
    return folder / "ft"


def pretrain_run(folder: Path) -> Path:
    fdsl_train(pretrain(toy(folder), "--output", folder / "run"), folder)
    return folder / "run"


def weights(folder: Path) -> Path:
    """model.safetensors and config.json of an untrained test_resnet of 4 classes."""
    from dataclasses import replace

    from fdsl_train import presets
    from fdsl_train.run import checkpoint, models

    model = models.create("test_resnet", num_classes=4, img_size=32)
    checkpoint.save_weights(model, folder, replace(presets.Preset(), model="test_resnet", img_size=32))
    return folder


def probe(pretrained: Path, data: Path, out: Path) -> List[str]:
    return ["probe", "--pretrained", str(pretrained), "--data", str(data), "--output", str(out), "-j", "0", "-b", "8",
            "--epochs", "1"]


def named(folder: Path, names: int, num_classes: int) -> Path:
    """A dataset of `num_classes` classes whose manifest lists `names` class names."""
    data = write_dataset(folder / "named", [20, 20], num_classes=num_classes, extra_splits={"val": [8]})
    manifest = json.loads((data / "manifest.json").read_text())
    manifest["class_names"] = [f"toy-{k:05d}" for k in range(names)]
    (data / "manifest.json").write_text(json.dumps(manifest))
    return data


def versioned(data: Path, version) -> Path:
    manifest = json.loads((data / "manifest.json").read_text())
    (data / "manifest.json").write_text(json.dumps(dict(manifest, format_version=version)))
    return data


def all_lost(folder: Path) -> Path:
    """43 training samples (5 batches of 8 leave 3 out) in shards that are all empty."""
    data = write_dataset(folder / "toy", [20, 20, 3], extra_splits={"val": [8]})
    for shard in data.glob("toy-train-*.tar"):
        shard.write_bytes(b"")
    return data


LOCKED: List[Path] = []


@pytest.fixture(autouse=True)
def unlock_folders():
    """Lift the immutable attribute `read_only` set for root, so that the test's folder can be removed."""
    yield
    while LOCKED:
        subprocess.run(["chattr", "-i", str(LOCKED.pop())], check=True)


def read_only(folder: Path) -> Path:
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:  # root writes through mode bits; the immutable attribute stops root too
        subprocess.run(["chattr", "+i", str(folder)], check=True)
        LOCKED.append(folder)
    return folder


def no_files(folder: Path) -> None:
    assert not list(folder.iterdir())


def folder_at(path: Path) -> Path:
    path.mkdir()
    return path


def stub_run(folder: Path) -> Path:
    """The run.json and log.jsonl of a run that has not finished an epoch yet."""
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"command": "pretrain", "dataset": {"source": "toy"},
                                                 "preset": {"model": "test_resnet", "batch_size": 8, "epochs": 1}}))
    (folder / "log.jsonl").write_text(json.dumps({"event": "start", "time": 1.0, "command": "pretrain"}) + "\n")
    return folder


def reported_data(run: Path) -> None:
    from fdsl_train.run.report import summary

    digest = read_log(run, "data")[0]["digest"]
    assert len(digest) == 16 and summary(run)["data"] == digest


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}  # tiny models: threads only contend


def snapshot(folder: Path) -> dict:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", list(CASES))
def test_fault(name, tmp_path):
    case = CASES[name]
    folder = tmp_path / "case"
    folder.mkdir()
    args = case.build(folder)
    before = snapshot(folder)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "fdsl_train", *map(str, args)], capture_output=True, text=True,
                          env=_env(), cwd=folder, timeout=case.seconds)
    assert time.monotonic() - start < case.seconds
    if case.error is None:
        assert proc.returncode == 0, proc.stderr[-3000:]
    else:
        assert proc.returncode == 2, proc.stderr[-3000:]
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("fdsl-train: error: "), proc.stderr[-3000:]
        assert case.error in lines[0], lines[0]
        made = {p.name for p in set(folder.rglob("*")) - set(before)}
        assert not made & {"model.safetensors", "state.pt", "config.json"}, made
    if not case.changes:
        assert all(path.read_bytes() == data for path, data in before.items())
    if case.keeps:
        kept = folder / case.keeps
        assert {p for p in kept.rglob("*") if p.is_file()} == {p for p in before if kept in p.parents}
    assert not [p for p in folder.rglob("*") if p.name.endswith((".tmp", ".part", ".partial"))]
    case.check(folder)


def _float_options():
    """(command, option, required options) of every option of fdsl-train that takes floats."""
    from fdsl_train.cli import cli

    found = []
    for name, command in cli.commands.items():
        required = [arg for p in command.params if p.required and isinstance(p, click.Option)
                    for arg in (p.opts[0], "x")]
        for param in command.params:
            floats = isinstance(param.type, click.types.FloatParamType) or param.name in NON_FINITE
            if isinstance(param, click.Option) and floats:
                found.append(pytest.param(name, param.opts[-1], required, id=f"{name} {param.opts[-1]}"))
    return found


NON_FINITE = {"scale": "0.5,nan", "mean": "0.5,0.5,nan", "std": "0.5,0.5,inf"}  # options of several numbers


@pytest.mark.parametrize("command,option,required", _float_options())
def test_float_options_refuse_non_finite_numbers(command, option, required, tmp_path):
    value = NON_FINITE.get(option.lstrip("-"), "nan")
    proc = subprocess.run([sys.executable, "-m", "fdsl_train", command, option, value, *required],
                          capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith(f"fdsl-train: error: Invalid value for '{option}'") and "finite" in lines[0], lines[0]
    assert not list(tmp_path.iterdir())
