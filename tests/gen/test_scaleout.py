"""Shard ranges, job arrays, Dask, crash safety, concurrent writers, remote verify."""
import functools
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from helpers import HEAVY, HEAVY_SHARDS, SMALL, kill_when



def tars(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.tar"))}


def render_args(params_dir, out, *extra, options=SMALL):
    return ("render", "fractaldb", "--params", params_dir, "--out", out, *options, *extra)


def recorded(out):
    """How many shards a render into folder `out` has recorded as finished."""
    return len(list((out / ".render").glob("*.tar.json")))


def test_shard_ranges_add_up_to_the_whole_dataset(tmp_path, cli, params_dir, small_dataset):
    out = tmp_path / "ranges"
    assert cli(*render_args(params_dir, out, "--shards", "0:5")).exit_code == 0
    assert len(tars(out)) == 5 and not (out / "manifest.json").exists()
    assert cli(*render_args(params_dir, out, "--shards", "5:13")).exit_code == 0
    assert (out / "manifest.json").exists()
    assert tars(out) == tars(small_dataset)
    manifest = json.loads((out / "manifest.json").read_text())
    assert "--shards" not in manifest["command"] and "--params" in manifest["command"]


def test_slurm_array_tasks_share_the_shards(tmp_path, cli, params_dir, small_dataset):
    out = tmp_path / "array"
    for task in (3, 1, 2):
        env = {"SLURM_ARRAY_TASK_ID": str(task), "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "3"}
        result = CliRunnerWithEnv(env).invoke(render_args(params_dir, out))
        assert result.exit_code == 0, result.output
        assert (out / "manifest.json").exists() == (task == 2)
    assert tars(out) == tars(small_dataset)
    assert cli("verify", out).exit_code == 0


def test_indexed_job_needs_the_task_count(tmp_path, params_dir):
    result = CliRunnerWithEnv({"JOB_COMPLETION_INDEX": "0"}).invoke(render_args(params_dir, tmp_path / "k"))
    assert result.exit_code == 2 and "--num-tasks" in result.stderr
    result = CliRunnerWithEnv({"JOB_COMPLETION_INDEX": "1"}).invoke(
        render_args(params_dir, tmp_path / "k", "--num-tasks", 20))
    assert result.exit_code == 0 and list(tars(tmp_path / "k")) == ["fractaldb-train-000001.tar"]


class CliRunnerWithEnv:
    def __init__(self, env):
        self.env = env

    def invoke(self, args):
        from click.testing import CliRunner
        from fdsl_gen.cli import main
        clean = {k: None for k in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT",
                                   "JOB_COMPLETION_INDEX")}
        return CliRunner().invoke(main, [str(a) for a in args], env=dict(clean, **self.env))


def test_finalize_waits_for_every_shard(tmp_path, cli, params_dir):
    out = tmp_path / "fin"
    cli(*render_args(params_dir, out, "--task-index", 0, "--num-tasks", 2))
    result = cli("finalize", out)
    assert result.exit_code == 2 and "not finished" in result.stderr
    cli(*render_args(params_dir, out, "--task-index", 1, "--num-tasks", 2))
    (out / "manifest.json").unlink()
    result = cli("finalize", out)
    assert result.exit_code == 0 and (out / "manifest.json").exists() and (out / "preview.png").exists()


@pytest.mark.parametrize("extra,words", [
    (("--shards", "10:99"), "outside"),
    (("--shards", "3"), "A:B"),
    (("--task-index", 4, "--num-tasks", 2), "--task-index"),
    (("--engine", "dask"), "--scheduler"),
    (("--scheduler", "tcp://127.0.0.1:1"), "--engine dask"),
])
def test_bad_scale_out_options(tmp_path, cli, params_dir, extra, words):
    result = cli(*render_args(params_dir, tmp_path / "bad", *extra))
    assert result.exit_code == 2 and words in result.stderr


def test_unreachable_dask_scheduler(tmp_path, cli, params_dir):
    result = cli(*render_args(params_dir, tmp_path / "d", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9"))
    assert result.exit_code == 2 and "cannot reach the Dask scheduler" in result.stderr


def test_dask_local_cluster_gives_identical_shards(tmp_path, cli, params_dir, small_dataset):
    from distributed import LocalCluster
    out = tmp_path / "dask"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = cli(*render_args(params_dir, out, "--engine", "dask", "--scheduler", cluster.scheduler_address))
    assert result.exit_code == 0, result.output
    assert tars(out) == tars(small_dataset)


def test_dask_worker_killed_mid_render_is_replaced(tmp_path, params_dir, heavy_dataset):
    """kill -9 of a Dask worker while shards are in flight: its tasks run again elsewhere, same bytes."""
    from distributed import Client, LocalCluster
    out = tmp_path / "dask-killed"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        process = cli_process(params_dir, out, "--engine", "dask", "--scheduler", cluster.scheduler_address,
                              options=HEAVY)
        deadline = time.monotonic() + 120
        while recorded(out) < 2:
            assert process.poll() is None and time.monotonic() < deadline, "no shard was recorded"
            time.sleep(0.005)
        victim = next(iter(client.run(os.getpid).values()))
        os.kill(victim, signal.SIGKILL)
        assert recorded(out) < HEAVY_SHARDS, "the kill came after the last shard"
        assert process.wait(timeout=180) == 0, process.stderr.read()
    assert tars(out) == tars(heavy_dataset)


def cli_process(params_dir, out, *extra, options=SMALL, **popen):
    command = [sys.executable, "-m", "fdsl_gen", *map(str, render_args(params_dir, out, *extra, options=options))]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **popen)


def test_kill_9_mid_render_then_resume(tmp_path, params_dir, heavy_dataset, cli):
    out, reference = tmp_path / "killed", tars(heavy_dataset)
    for _ in range(3):
        wanted = recorded(out) + 2  # two more shards than the last run left: each run is killed mid-work
        process = cli_process(params_dir, out, "--workers", 2, options=HEAVY, start_new_session=True)
        kill_when(process, lambda: recorded(out) >= wanted)
        assert recorded(out) < HEAVY_SHARDS and not (out / "manifest.json").exists()
        # whatever sits under a final name is a whole shard, byte for byte
        assert all(reference[name] == data for name, data in tars(out).items())
    assert len(tars(out)) < HEAVY_SHARDS
    finished = cli_process(params_dir, out, "--workers", 2, options=HEAVY)
    assert finished.wait(timeout=120) == 0, finished.stderr.read()
    assert tars(out) == reference
    leftovers = [p for p in out.rglob("*") if ".tmp-" in p.name]
    assert leftovers == []
    assert cli("verify", out).exit_code == 0


def test_two_processes_in_one_folder(tmp_path, params_dir, small_dataset, cli):
    out = tmp_path / "both"
    first, second = cli_process(params_dir, out), cli_process(params_dir, out)
    assert first.wait(timeout=120) == 0 and second.wait(timeout=120) == 0
    assert tars(out) == tars(small_dataset)
    assert cli("verify", out).exit_code == 0


@pytest.fixture
def served(small_dataset):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(small_dataset))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_verify_a_dataset_over_http(served, cli):
    result = cli("verify", served + "/")
    assert result.exit_code == 0, result.output


def test_verify_reports_a_broken_remote_shard(tmp_path, small_dataset, cli):
    copy = tmp_path / "copy"
    shutil.copytree(small_dataset, copy)
    next(copy.glob("*-000003.tar")).unlink()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(copy))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = cli("verify", f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
    assert result.exit_code == 1 and "fractaldb-train-000003.tar: missing" in result.stderr


def test_verify_an_unreachable_url(cli):
    result = cli("verify", "http://127.0.0.1:9/data")
    assert result.exit_code == 2 and "cannot reach" in result.stderr
