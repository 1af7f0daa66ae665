"""The fault suite: bad input and faults, each through the real `fdsl-gen` process.

Every row runs the CLI as a user would and checks three things: the exit
code, stderr (one line `fdsl-gen: error: ...` naming the culprit, or nothing
for a run that must succeed), and the folder left behind (nothing lost,
nothing that looks complete, no temporary files).
"""
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fdsl_gen.runner import POOL_RESTARTS
from helpers import children

TINY = ("--size", 32, "--points", 2000, "--counts", 1, "--weight-k", 0.1, "--flips", 1, "--quiet")
ARRAY_VARIABLES = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT", "JOB_COMPLETION_INDEX")
TIMEOUT = 120  # a hang fails the row instead of stalling the suite


def fdsl_gen(*args, env=None, cwd=None, **popen):
    """`fdsl-gen ARGS` in a child process with no job-array variables unless `env` sets them."""
    environ = {k: v for k, v in os.environ.items() if k not in ARRAY_VARIABLES}
    environ.update(env or {})
    command = [sys.executable, "-m", "fdsl_gen", *map(str, args)]
    return subprocess.run(command, env=environ, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, **popen)


def render(params, out, *extra):
    return ("render", "fractaldb", "--params", params, "--out", out, *TINY, *extra)


def temporaries(root):
    return sorted(str(p) for p in Path(root).rglob("*") if ".tmp" in p.name)


@dataclass
class Fault:
    """One row: the command (with {params}, {out} and {tmp} filled in) and what it must leave."""
    args: tuple
    words: tuple = ()
    code: int = 2
    env: dict = field(default_factory=dict)
    setup: object = None   # (tmp) -> None: prepares the scene
    check: object = None   # (tmp) -> None: extra checks of the folder afterwards
    created: bool = False  # whether the run may create {out}
    popen: dict = field(default_factory=dict)  # more arguments for subprocess.run


def untouched(tmp):
    assert sorted(p.name for p in (tmp / "out").iterdir()) == ["notes.txt"]
    assert (tmp / "out" / "notes.txt").read_text() == "mine"


def foreign_folder(tmp):
    (tmp / "out").mkdir()
    (tmp / "out" / "notes.txt").write_text("mine")


def nothing_made(tmp):
    assert not list(tmp.glob("s3*"))


def nothing_outside(tmp):
    assert sorted(p.name for p in tmp.iterdir()) == ["ds", "params"]


def params_with(text, mode="w"):
    def setup(tmp):
        shutil.rmtree(tmp / "params")
        (tmp / "params").mkdir()
        with open(tmp / "params" / "00000.csv", mode) as handle:
            handle.write(text)
    return setup


def manifest_is(text):
    return lambda tmp: (tmp / "ds" / "manifest.json").write_text(text)


def manifest_with(**fields):
    def setup(tmp):
        manifest = json.loads((tmp / "ds" / "manifest.json").read_text())
        (tmp / "ds" / "manifest.json").write_text(json.dumps(dict(manifest, **fields)))
    return setup


def shard_file_is(name):
    def setup(tmp):
        manifest = json.loads((tmp / "ds" / "manifest.json").read_text())
        manifest["splits"]["train"]["shards"][0]["file"] = name
        (tmp / "ds" / "manifest.json").write_text(json.dumps(manifest))
    return setup


def damage(keep):
    """Cut the first shard to `keep` bytes, or (0) replace it with random bytes."""
    def setup(tmp):
        shard = tmp / "ds" / "fractaldb-train-000000.tar"
        data = shard.read_bytes()
        shard.write_bytes(data[:keep] if keep else random.Random(0).randbytes(len(data)))
    return setup


def rendered_then_killed_in_finalize(tmp):
    """The dataset rendered, then its manifest gone and two temporaries left, as a kill in finalize leaves it."""
    assert fdsl_gen(*render(tmp / "params", tmp / "out")).returncode == 0
    (tmp / "out" / "manifest.json").unlink()
    for name in (".manifest.json.tmp-4242", ".README.md.tmp-4242"):
        (tmp / "out" / name).write_text("half")


def warm_render(tmp):
    """A render of the same shape elsewhere, so that no kernel cache is written under a file-size limit."""
    assert fdsl_gen(*render(tmp / "params", tmp / "warm", "--samples-per-shard", 64)).returncode == 0
    shutil.rmtree(tmp / "warm")


def limit_file_size():
    resource.setrlimit(resource.RLIMIT_FSIZE, (32 * 1024, resource.RLIM_INFINITY))  # Python ignores SIGXFSZ


def corrected_render_takes_the_folder(tmp):
    assert not any((tmp / "out").glob("*.tar"))
    result = fdsl_gen(*render(tmp / "params", tmp / "out", "--size", 40))
    assert result.returncode == 0 and (tmp / "out" / "manifest.json").exists(), result.stderr


R = ("render", "fractaldb", "--params", "{params}", "--out", "{out}", *TINY)
FAULTS = {
    # Options out of bounds, for memory or for sense: caught before anything is written.
    "seed-negative": Fault((*R, "--seed", -1), ("--seed",)),
    "seed-huge": Fault((*R, "--seed", 2**64), ("--seed",)),
    "size-huge": Fault((*R, "--size", 60000), ("--size", "8192")),
    "points-float": Fault((*R, "--points", "1e20"), ("--points",)),
    "points-huge": Fault((*R, "--points", 10**20), ("--points",)),
    "instances-huge": Fault((*R, "--instances", 10**9), ("--instances",)),
    "samples-per-shard-zero": Fault((*R, "--samples-per-shard", 0), ("--samples-per-shard",)),
    "samples-per-shard-huge": Fault((*R, "--samples-per-shard", 10**9), ("--samples-per-shard",)),
    "val-fraction-no-train": Fault((*R, "--instances", 20, "--val-fraction", 0.999), ("no training group",)),
    "val-fraction-no-val": Fault((*R, "--instances", 20, "--val-fraction", 0.001), ("no validation group",)),
    "val-fraction-nan": Fault((*R, "--val-fraction", "nan"), ("--val-fraction", "finite")),
    "fill-rate-inf": Fault(("render", "fractaldb", "--search", "--fill-rate", "inf", "--out", "{out}"),
                           ("--fill-rate", "finite")),
    "weight-k-inf": Fault((*R, "--weight-k", "inf"), ("--weight-k", "finite")),
    "sigma-nan": Fault(("render", "1p-frac", "--sigma", "nan", "--out", "{out}"), ("--sigma", "finite")),
    "noise-max-inf": Fault(("render", "rcdb", "--noise-max", "inf", "--out", "{out}"), ("--noise-max", "finite")),
    "shift-minus-inf": Fault(("render", "perlin", "--shift", "-inf", "--out", "{out}"), ("--shift", "finite")),
    "variance-nan": Fault(("search", "exfractaldb", "--variance", "nan", "--out", "{out}"), ("--variance", "finite")),
    # The plan's options are checked before an inline search, which takes minutes with these defaults.
    "val-fraction-nan-before-search": Fault(("render", "fractaldb", "--search", "--val-fraction", "nan",
                                             "--out", "{out}"), ("--val-fraction", "finite")),
    "samples-per-shard-zero-before-search": Fault(("render", "ofdb", "--search", "--samples-per-shard", 0,
                                                   "--out", "{out}"), ("--samples-per-shard",)),
    "workers-zero": Fault((*R, "--workers", 0), ("--workers",)),
    "unknown-option": Fault((*R, "--colour", "red"), ("--colour",)),
    "unknown-recipe": Fault(("render", "nosuchdb"), ("nosuchdb",)),
    # Names are names: no way out of --out, no clash with a neighbour.
    "name-escapes": Fault((*R, "--name", "../escaped"), ("--name",), check=nothing_outside),
    "name-with-slash": Fault((*R, "--name", "a/b"), ("--name",)),
    "name-hidden": Fault((*R, "--name", ".hidden"), ("--name",)),
    "name-empty": Fault((*R, "--name", ""), ("--name",)),
    # Refused folders stay as they were.
    "out-foreign": Fault(R, ("not empty",), setup=foreign_folder, check=untouched, created=True),
    # a URL with no bucket: Path() would make it the local folder "s3:"
    "out-url-without-bucket": Fault((*R, "--out", "s3://"), ("s3:// names no bucket",), check=nothing_made),
    "out-is-a-file": Fault(R, ("cannot create output folder",), setup=lambda tmp: (tmp / "out").write_text("x"),
                           created=True),
    # Parameter files: text, finite, in a sane range, not degenerate.
    "csv-binary": Fault(R, ("00000.csv", "not a text file"), setup=params_with(b"\x89PNG\r\n\x1a\n\xff\xfe", "wb")),
    "csv-all-zero": Fault(R, ("00000.csv", "collapses"), setup=params_with("0,0,0,0,0,0,1\n0,0,0,0,0,0,1\n")),
    "csv-huge-values": Fault(R, ("00000.csv", "beyond"), setup=params_with("1e300,0,0,0.5,0,0,1\n0.5,0,0,0.5,1,0,1\n")),
    "weights-all-zero": Fault((*R, "--weights", "{tmp}/weights.csv"), ("weights.csv", "all zeros"),
                              setup=lambda tmp: (tmp / "weights.csv").write_text("0,0,0,0,0,0\n")),
    # A search that cannot succeed stops, and leaves no part of a set behind.
    "search-unreachable": Fault(("search", "fractaldb", "--categories", 1, "--fill-rate", 1.0, "--max-trials", 20,
                                 "--points", 2000, "--size", 64, "--out", "{out}", "--quiet"), ("20 trials",),
                                created=True, check=lambda tmp: not any((tmp / "out").glob("*.csv"))),
    # Reading a dataset back: a damaged folder is named, not a traceback.
    "verify-manifest-list": Fault(("verify", "{tmp}/ds"), ("not an fdsl manifest",), setup=manifest_is("[]")),
    "info-manifest-keys": Fault(("info", "{tmp}/ds"), ("malformed", "name"),
                                setup=manifest_is('{"format": "fdsl-shards"}')),
    "preview-manifest-keys": Fault(("preview", "{tmp}/ds"), ("malformed",), setup=manifest_is(
        '{"format": "fdsl-shards", "name": "x", "num_classes": 2, "image": {}, "config": {}, "splits": {"train": 1}}')),
    "verify-shard-outside": Fault(("verify", "{tmp}/ds"), ("not a file name",), setup=shard_file_is("../other.tar")),
    "verify-version-string": Fault(("verify", "{tmp}/ds"), ("format_version must be a whole number", "'2'"),
                                   setup=manifest_with(format_version="2")),
    "info-version-float": Fault(("info", "{tmp}/ds"), ("format_version must be a whole number", "2.5"),
                                setup=manifest_with(format_version=2.5)),
    "publish-version-string": Fault(("publish", "{tmp}/ds", "{out}"), ("format_version must be a whole number",),
                                    setup=manifest_with(format_version="2")),
    "preview-truncated-shard": Fault(("preview", "{tmp}/ds"), ("000000.tar", "damaged"), setup=damage(3000)),
    "preview-random-shard": Fault(("preview", "{tmp}/ds"), ("000000.tar", "damaged"), setup=damage(0)),
    "preview-out-is-a-folder": Fault(("preview", "{tmp}/ds", "--out", "{tmp}"), ("is a folder",)),
    "preview-huge-sheet": Fault(("preview", "{tmp}/ds", "--classes", 100000, "--per-class", 100000), ("--classes",)),
    "info-url-kept": Fault(("info", "http://127.0.0.1:9/data"), ("http://127.0.0.1:9/data/manifest.json",)),
    # A full disk names the file; a render that failed before its first shard does not block a corrected one.
    "disk-full": Fault((*R, "--samples-per-shard", 64), ("fractaldb-train-00000", ".tar", "File too large"),
                       setup=warm_render, popen={"preexec_fn": limit_file_size}, created=True,
                       check=corrected_render_takes_the_folder),
    # The run that finishes a dataset clears what killed runs left.
    "temporaries-of-killed-runs": Fault(R, code=0, setup=rendered_then_killed_in_finalize, created=True),
    # Job arrays: the environment is input too.
    "slurm-id-not-a-number": Fault(R, ("SLURM_ARRAY_TASK_ID",),
                                   env={"SLURM_ARRAY_TASK_ID": "abc", "SLURM_ARRAY_TASK_COUNT": "4"}),
    "task-index-alone": Fault((*R, "--task-index", 3), ("--num-tasks",)),
    "num-tasks-zero": Fault((*R, "--task-index", 0, "--num-tasks", 0), ("--num-tasks must be at least 1",)),
    "index-without-count": Fault(R, ("JOB_COMPLETION_INDEX",), env={"JOB_COMPLETION_INDEX": "2"}),
}


@pytest.fixture
def scene(tmp_path, params_dir, small_dataset):
    shutil.copytree(params_dir, tmp_path / "params")
    shutil.copytree(small_dataset, tmp_path / "ds")
    return tmp_path


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault(scene, name):
    fault = FAULTS[name]
    if fault.setup:
        fault.setup(scene)
    words = {"params": scene / "params", "out": scene / "out", "tmp": scene}
    args = [str(a).format(**words) for a in fault.args]
    result = fdsl_gen(*args, env=fault.env, cwd=scene, **fault.popen)
    assert result.returncode == fault.code, result.stderr
    lines = result.stderr.strip().splitlines()
    if fault.code == 0:
        assert lines == [] and (scene / "out" / "manifest.json").exists()
        assert fdsl_gen("verify", scene / "out").returncode == 0
    else:
        assert len(lines) == 1 and lines[0].startswith("fdsl-gen: error: "), result.stderr
        assert all(word in lines[0] for word in fault.words), (lines[0], fault.words)
        assert (scene / "out").exists() == fault.created
        assert not (scene / "out" / "manifest.json").exists()
    assert temporaries(scene) == []
    if fault.check:
        fault.check(scene)


def recorded(out):
    return len(list((out / ".render").glob("*.tar.json")))


def kill_workers(process, out, times):
    """kill -9 a worker of `process` `times` times (-1: until it ends), each once the pool has recorded one
    more shard; returns how many of the kills came while shards were still to do."""
    interrupted, deadline = 0, time.monotonic() + TIMEOUT
    while times and process.poll() is None:
        wanted = recorded(out) + 1
        while recorded(out) < wanted and process.poll() is None:
            assert time.monotonic() < deadline, "the pool recorded no shard"
            time.sleep(0.005)
        workers = children(process.pid)
        if not workers or process.poll() is not None:
            continue
        try:
            os.kill(workers[0], signal.SIGKILL)
        except ProcessLookupError:  # the pool ended it first
            continue
        times -= 1
        shards = sum(json.loads((out / ".render" / "config.json").read_text())["shards"].values())
        interrupted += recorded(out) < shards
        while workers[0] in children(process.pid):
            time.sleep(0.005)
    return interrupted


SLOW = ("--points", 2_000_000, "--samples-per-shard", 1, "--workers", 2)


@pytest.mark.parametrize("kills,code", [(1, 0), (-1, 1)])
def test_worker_killed(scene, kills, code):
    """A pool that loses a worker starts again; one that keeps losing them stops with one line."""
    command = [sys.executable, "-m", "fdsl_gen", *map(str, render(scene / "params", scene / "out", *SLOW))]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    interrupted = kill_workers(process, scene / "out", kills)
    assert process.wait(timeout=TIMEOUT) == code
    assert interrupted == kills if kills > 0 else interrupted >= POOL_RESTARTS + 1  # the first pool and its restarts
    lines = process.stderr.read().strip().splitlines()
    assert temporaries(scene / "out") == [] or code
    if code:
        assert len(lines) == 1 and "run the same command again to resume" in lines[0], lines
        assert not (scene / "out" / "manifest.json").exists()
        assert fdsl_gen(*render(scene / "params", scene / "out", *SLOW)).returncode == 0
    assert lines == [] or code
    assert fdsl_gen("verify", scene / "out").returncode == 0
    assert temporaries(scene / "out") == []


def sized(params, out, size):
    return ("render", "fractaldb", "--params", params, "--out", out, *TINY[2:], "--size", size, "--workers", 1)


@pytest.mark.parametrize("round", range(3))
def test_renders_with_other_settings_started_together(scene, round):
    """Exactly one configuration takes a new folder; the other gets one line naming it."""
    out, sizes = scene / "out", (32, 48)
    command = [sys.executable, "-m", "fdsl_gen"]
    processes = [subprocess.Popen([*command, *map(str, sized(scene / "params", out, size))], stderr=subprocess.PIPE,
                                  text=True) for size in sizes]
    codes = [p.wait(timeout=TIMEOUT) for p in processes]
    assert sorted(codes) == [0, 2], [p.stderr.read() for p in processes]
    winner = sizes[codes.index(0)]
    lines = processes[codes.index(2)].stderr.read().strip().splitlines()
    assert len(lines) == 1 and f"--size {winner}" in lines[0] and "another dataset" in lines[0], lines
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["image"]["height"] == winner
    assert {len(fields["png"]) > 0 and png_side(fields["png"]) for fields in samples(out)} == {winner}
    assert fdsl_gen("verify", out).returncode == 0


def samples(out):
    from fdsl_gen.tarformat import iter_samples
    return [fields for tar in sorted(out.glob("*.tar")) for _, fields in iter_samples(tar.read_bytes())]


def png_side(data):
    import io

    from PIL import Image
    with Image.open(io.BytesIO(data)) as image:
        return image.height


def held_claim(params, out, size):
    """The claim a live render of another size holds, from this process."""
    from fdsl_gen.lifecycle import claim
    from fdsl_gen.plan import Plan
    from fdsl_gen.registry import create_recipe
    recipe = create_recipe("fractaldb", params=str(params), size=size, points=2000, counts=1, weight_k=0.1,
                           flips=1)
    plan = Plan(recipe.num_classes, recipe.samples_per_class, recipe.group_size, 1, 1000)
    return claim(out, recipe, plan, "fractaldb", "fdsl-gen render fractaldb --size 48 (held)")


def test_a_live_claim_is_refused_and_a_dead_one_released(scene):
    out = scene / "out"
    with held_claim(scene / "params", out, 48):
        result = fdsl_gen(*sized(scene / "params", out, 32))
        assert result.returncode == 2 and "being rendered by another dataset" in result.stderr
        assert "--size 48 (held)" in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert not list(out.glob("*.tar"))
    # the holder ended before its first shard: its claim holds nothing to lose
    assert fdsl_gen(*sized(scene / "params", out, 32)).returncode == 0
    assert json.loads((out / "manifest.json").read_text())["image"]["height"] == 32
    assert fdsl_gen("verify", out).returncode == 0


def test_a_shard_recorded_for_another_config_is_never_skipped(scene):
    out = scene / "out"
    assert fdsl_gen(*render(scene / "params", out)).returncode == 0
    record_file = sorted((out / ".render").glob("*.tar.json"))[0]
    record = json.loads(record_file.read_text())
    record_file.write_text(json.dumps(dict(record, config="0" * 64)))
    result = fdsl_gen("verify", out)
    assert result.returncode == 1 and f"{record['file']}: its render record names another config" in result.stderr
    assert fdsl_gen(*render(scene / "params", out)).returncode == 0
    assert json.loads(record_file.read_text()) == record  # rendered and recorded again
    assert fdsl_gen("verify", out).returncode == 0


def test_params_spelled_another_way_resume_the_same_dataset(scene):
    out = scene / "out"
    assert fdsl_gen(*render(scene / "params", out)).returncode == 0
    records = {p.name: p.stat().st_mtime_ns for p in (out / ".render").glob("*.tar.json")}
    result = fdsl_gen(*render("./params/", "out"), cwd=scene)
    assert result.returncode == 0, result.stderr
    assert {p.name: p.stat().st_mtime_ns for p in (out / ".render").glob("*.tar.json")} == records


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_dask_scheduler_lost(scene):
    """A render waiting on a Dask scheduler that dies stops with one line instead of waiting forever."""
    address = f"tcp://127.0.0.1:{free_port()}"
    log = scene / "scheduler.log"
    with open(log, "w") as handle:
        scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                      "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
                                     stdout=handle, stderr=subprocess.STDOUT)
    try:
        wait_for_line(log, "Scheduler at")
        command = [sys.executable, "-m", "fdsl_gen",
                   *map(str, render(scene / "params", scene / "out", "--engine", "dask", "--scheduler", address))]
        process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True,
                                   env=dict(os.environ, DASK_DISTRIBUTED__CLIENT__HEARTBEAT="100ms"))
        wait_for_client(address)  # the render waits for workers that never come
    finally:
        scheduler.kill()
        scheduler.wait()
    code = process.wait(timeout=TIMEOUT)
    lines = process.stderr.read().strip().splitlines()
    assert code == 1, lines[-3:]
    assert len(lines) == 1 and "lost the Dask scheduler" in lines[0] and "run the same command" in lines[0]
    assert not (scene / "out" / "manifest.json").exists()


def wait_for_client(address):
    """Until the render's client has started: the scheduler has had a heartbeat from it, and a client sends
    them only once its handshake is over."""
    from distributed import Client
    with Client(address, timeout="30s") as client:
        deadline, first_seen = time.monotonic() + TIMEOUT, {}
        while True:
            assert time.monotonic() < deadline, "the render's client never started"
            seen = client.run_on_scheduler(lambda dask_scheduler: {
                name: state.last_seen for name, state in dask_scheduler.clients.items()})
            others = {name: at for name, at in seen.items() if name not in (client.id, "fire-and-forget")}
            if any(at > first_seen.setdefault(name, at) for name, at in others.items()):
                return
            time.sleep(0.05)


def wait_for_line(log, words):
    deadline = time.time() + TIMEOUT
    while words not in log.read_text():
        assert time.time() < deadline, log.read_text()
        time.sleep(0.2)


def test_real1p_scales_16_bit_pictures(scene):
    """A 16-bit grey photo renders as its 8-bit twin, not as a picture clipped to white."""
    import numpy as np
    from PIL import Image
    levels = (np.add.outer(np.arange(96), np.arange(96)) * 3 % 256).astype(np.uint16)
    Image.fromarray(levels * 257).save(scene / "wide.png")
    Image.fromarray(levels.astype(np.uint8)).save(scene / "narrow.png")
    for picture in ("wide", "narrow"):
        result = fdsl_gen("render", "real1p", "--image", scene / f"{picture}.png", "--classes", 4, "--size", 64,
                          "--quiet", "--out", scene / picture)
        assert result.returncode == 0, result.stderr
    assert Image.open(scene / "wide.png").mode == "I;16"
    wide, narrow = (sorted((scene / p).glob("*.tar")) for p in ("wide", "narrow"))
    assert [t.read_bytes() for t in wide] == [t.read_bytes() for t in narrow] != []


@pytest.mark.parametrize("spec,words", [
    ("live:nosuch?size=32", ("live:nosuch?size=32: unknown recipe 'nosuch'", "known: 1p-frac, bezier")),
    ("live:nosuch", ("live:nosuch: not a dataset folder, and unknown recipe 'nosuch'", "rcdb")),
    ("live:rcdb?size=nan", ("size", "'nan'")),
    ("live:rcdb?noise_max=inf", ("noise_max", "finite")),
    ("live:bezier?jitter=nan", ("jitter", "finite")),
])
def test_live_source_refused(tmp_path, monkeypatch, spec, words):
    """A live source (`fdsl-train --data live:...`) is refused in one line naming what is wrong with it."""
    from fdsl_gen.errors import UserError
    from fdsl_gen.live import open_live
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as refused:
        open_live(spec)
    assert all(word in str(refused.value) for word in words), (str(refused.value), words)
    assert "\n" not in str(refused.value) and list(tmp_path.iterdir()) == []


def test_live_plan_options_checked_before_the_recipe(monkeypatch):
    """No recipe (here a search of 1000 categories) is built for a source whose plan is refused anyway."""
    from fdsl_gen import live
    monkeypatch.setattr(live, "create_recipe", lambda *args, **options: pytest.fail("recipe built first"))
    with pytest.raises(live.UserError, match="^val_fraction must be a finite number, not nan$"):
        live.open_live("live:fractaldb?search&val_fraction=nan")


def test_live_manifest_version_must_be_a_whole_number(scene):
    from fdsl_gen.errors import UserError
    from fdsl_gen.live import open_live
    manifest_with(format_version="2")(scene)
    with pytest.raises(UserError, match="format_version must be a whole number, 1 or more, not '2'"):
        open_live(f"live:{scene / 'ds'}")


def test_preview_out_creates_missing_folders(scene):
    assert "missing folders on its path are created" in " ".join(fdsl_gen("preview", "--help").stdout.split())
    result = fdsl_gen("preview", scene / "ds", "--out", scene / "sheets" / "new" / "sheet.png", "--classes", 2)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert (scene / "sheets" / "new" / "sheet.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("disable,quiet", [("", False), ("1", False), ("", True)])
def test_publish_progress_off_a_terminal(scene, disable, quiet):
    """stderr a file: plain progress lines as a render writes them, none with TQDM_DISABLE=1 or --quiet."""
    result = fdsl_gen("publish", scene / "ds", scene / "copy", *(("--quiet",) if quiet else ()),
                      env={"TQDM_DISABLE": disable})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{scene / 'copy'}: complete, ")
    files = len([p for p in (scene / "ds").rglob("*") if p.is_file() and not p.name.endswith(".lock")])
    if disable or quiet:
        assert result.stderr == ""
    else:
        assert "\r" not in result.stderr and result.stderr.startswith(f"publish: {files}/{files} file, ")
        assert len(result.stderr.splitlines()) == 1  # a quick publish: the closing line only
    assert fdsl_gen("verify", scene / "copy").returncode == 0
