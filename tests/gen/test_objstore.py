"""Rendering into, publishing to and reading from an S3 prefix (moto's server, see tests/conftest.py)."""
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import HEAVY, HEAVY_SHARDS, SMALL, assert_one_line_error, kill_when


def render_args(params_dir, out, *extra, options=SMALL):
    return ("render", "fractaldb", "--params", params_dir, "--out", out, *options, *extra)


def local_tars(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.tar"))}


def bucket_tars(bucket, prefix):
    return {key.rsplit("/", 1)[1]: bucket.get(key) for key in bucket.keys(prefix + "/") if key.endswith(".tar")}


def test_render_to_s3_with_two_workers_is_byte_identical(s3, cli, params_dir, small_dataset):
    result = cli(*render_args(params_dir, f"{s3.url}/fdb", "--workers", 2))
    assert result.exit_code == 0, result.output
    assert bucket_tars(s3, "fdb") == local_tars(small_dataset)
    manifest = json.loads(s3.get("fdb/manifest.json"))
    assert manifest["splits"] == json.loads((small_dataset / "manifest.json").read_text())["splits"]
    assert s3.get("fdb/SHA256SUMS") == (small_dataset / "SHA256SUMS").read_bytes()
    assert "fdb/.render/fractaldb-train-000000.tar.json" in s3.keys("fdb/")
    assert not any(key.endswith(".lock") or ".tmp-" in key for key in s3.keys())
    info = cli("info", f"{s3.url}/fdb")
    assert info.exit_code == 0 and "train       800 samples in 13 shards" in info.output


def test_a_second_render_reads_and_skips_every_shard(s3, cli, params_dir, small_dataset):
    assert cli(*render_args(params_dir, f"{s3.url}/fdb", "--workers", 1)).exit_code == 0
    s3.requests.counts.clear()
    assert cli(*render_args(params_dir, f"{s3.url}/fdb", "--workers", 1)).exit_code == 0
    assert s3.requests.count("PUT", ".tar") - s3.requests.count("PUT", ".tar.json") == 0


def cli_process(params_dir, out, *extra, options=SMALL, **popen):
    command = [sys.executable, "-m", "fdsl_gen", *map(str, render_args(params_dir, out, *extra, options=options))]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **popen)


def test_kill_9_mid_render_then_resume(s3, params_dir, heavy_dataset, cli):
    out, reference = f"{s3.url}/killed", local_tars(heavy_dataset)

    def recorded():
        return sum(key.endswith(".tar.json") for key in s3.keys("killed/.render/"))

    for _ in range(3):
        wanted = recorded() + 2  # two more shards than the last run left: each run is killed mid-work
        process = cli_process(params_dir, out, "--workers", 2, options=HEAVY, start_new_session=True)
        kill_when(process, lambda: recorded() >= wanted)
        assert recorded() < HEAVY_SHARDS and "killed/manifest.json" not in s3.keys()
        # whatever sits under a final name is a whole shard, byte for byte
        assert all(reference[name] == data for name, data in bucket_tars(s3, "killed").items())
    assert len(bucket_tars(s3, "killed")) < HEAVY_SHARDS
    finished = cli_process(params_dir, out, "--workers", 2, options=HEAVY)
    assert finished.wait(timeout=120) == 0, finished.stderr.read()
    assert bucket_tars(s3, "killed") == reference
    assert cli("verify", out).exit_code == 0


def test_put_new_creates_once(s3):
    from fdsl_gen.storage import open_store
    store = open_store(f"{s3.url}/once")
    assert store.put_new("claim.json", b"first") is True
    assert store.put_new("claim.json", b"second") is False
    assert s3.get("once/claim.json") == b"first"
    assert s3.requests.count("PUT", "claim.json") == 2  # both asked the server: the refusal is the store's


def test_renders_with_other_settings_started_together(s3, params_dir, cli):
    """Exactly one configuration takes a new prefix (a conditional PUT); the other gets one line naming it."""
    sizes = (32, 48)
    processes = [cli_process(params_dir, f"{s3.url}/race", "--size", size) for size in sizes]
    codes = [p.wait(timeout=120) for p in processes]
    assert sorted(codes) == [0, 2], [p.stderr.read() for p in processes]
    winner = sizes[codes.index(0)]
    lines = processes[codes.index(2)].stderr.read().decode().strip().splitlines()
    assert len(lines) == 1 and f"--size {winner}" in lines[0] and "race" in lines[0], lines
    assert json.loads(s3.get("race/manifest.json"))["image"]["height"] == winner
    assert cli("verify", f"{s3.url}/race").exit_code == 0


def test_a_claim_that_appears_after_the_check_is_never_taken_for_ours(s3):
    """An object store has no lock: another render may claim between a render's check and its own claim."""
    from fdsl_gen.errors import UserError
    from fdsl_gen.lifecycle import _create_claim
    from fdsl_gen.encode import ENCODER
    from fdsl_gen.storage import open_store
    theirs = {"fingerprint": "1" * 64, "recipe": "rcdb", "name": "rcdb",
              "manifest": {"command": "theirs", "png_encoder": ENCODER}}
    s3.put("taken/.render/config.json", json.dumps(theirs).encode())
    with pytest.raises(UserError, match="claimed by another render .rcdb rcdb: theirs."):
        _create_claim(open_store(f"{s3.url}/taken"), dict(theirs, fingerprint="2" * 64))
    assert json.loads(s3.get("taken/.render/config.json")) == theirs


def test_the_claim_of_another_render_is_named(s3, params_dir, cli):
    """An object store cannot tell a live claim from a dead one: the user is told which file to delete."""
    out = f"{s3.url}/claimed"
    assert cli(*render_args(params_dir, out, "--shards", "0:1")).exit_code == 0
    for key in s3.keys("claimed/"):
        if key.endswith(".tar") or key.endswith(".tar.json"):
            s3.client.delete_object(Bucket=s3.name, Key=key)
    result = cli(*render_args(params_dir, out, "--size", 40))
    assert_one_line_error(result, "claimed by another render", "--size 48", f"delete {out}/.render/config.json")
    assert not any(key.endswith(".tar") for key in s3.keys("claimed/"))


def test_job_array_into_one_prefix_then_finalize(s3, cli, params_dir, small_dataset):
    out = f"{s3.url}/array"
    assert cli(*render_args(params_dir, out, "--task-index", 0, "--num-tasks", 2)).exit_code == 0
    assert "array/manifest.json" not in s3.keys()
    assert_one_line_error(cli("finalize", out), "6 shards not finished")
    assert cli(*render_args(params_dir, out, "--task-index", 1, "--num-tasks", 2)).exit_code == 0
    manifest = s3.get("array/manifest.json")  # the last task wrote it
    s3.client.delete_object(Bucket=s3.name, Key="array/manifest.json")
    result = cli("finalize", out)
    assert result.exit_code == 0, result.output
    assert s3.get("array/manifest.json") == manifest
    assert bucket_tars(s3, "array") == local_tars(small_dataset)


def test_dask_cluster_writes_into_one_prefix(s3, cli, params_dir, small_dataset):
    from distributed import LocalCluster
    out = f"{s3.url}/dask"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = cli(*render_args(params_dir, out, "--engine", "dask", "--scheduler", cluster.scheduler_address))
    assert result.exit_code == 0, result.output
    assert bucket_tars(s3, "dask") == local_tars(small_dataset)
    assert "dask/manifest.json" in s3.keys("dask/")


def test_publish_twice_uploads_once(s3, cli, small_dataset):
    out = f"{s3.url}/pub"
    first = cli("publish", small_dataset, out, "--quiet")
    assert first.exit_code == 0, first.output
    files = sorted(p.relative_to(small_dataset).as_posix() for p in small_dataset.rglob("*")
                   if p.is_file() and not p.name.endswith(".lock"))
    assert [k[len("pub/"):] for k in s3.keys("pub/")] == files
    assert s3.get("pub/manifest.json") == (small_dataset / "manifest.json").read_bytes()
    s3.requests.counts.clear()
    second = cli("publish", small_dataset, out, "--quiet")
    assert second.exit_code == 0 and "0 files uploaded" in second.output
    assert s3.requests.count("PUT") == 0 and s3.requests.count("POST") == 0
    assert cli("verify", out).exit_code == 0


def test_publish_resumes_after_a_partial_upload(s3, cli, small_dataset):
    out = f"{s3.url}/resumed"
    assert cli("publish", small_dataset, out, "--quiet").exit_code == 0
    s3.client.delete_object(Bucket=s3.name, Key="resumed/manifest.json")
    s3.client.delete_object(Bucket=s3.name, Key="resumed/fractaldb-train-000004.tar")
    result = cli("publish", small_dataset, out, "--quiet")
    assert result.exit_code == 0 and "2 files uploaded" in result.output


def test_verify_catches_a_flipped_byte(s3, cli, small_dataset):
    out = f"{s3.url}/flip"
    assert cli("publish", small_dataset, out, "--quiet").exit_code == 0
    key = "flip/fractaldb-train-000007.tar"
    data = bytearray(s3.get(key))
    data[5000] ^= 1
    s3.put(key, bytes(data))
    result = cli("verify", out)
    assert result.exit_code == 1
    assert result.stderr.strip() == "fractaldb-train-000007.tar: sha256 does not match the manifest"


def test_verify_on_s3_checks_every_file_against_sha256sums(s3, cli, small_dataset):
    out = f"{s3.url}/sums"
    assert cli("publish", small_dataset, out, "--quiet").exit_code == 0
    s3.put("sums/README.md", s3.get("sums/README.md") + b"edited")
    s3.put("sums/notes.txt", b"stray")
    result = cli("verify", out)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == ["README.md: sha256 does not match SHA256SUMS",
                                                  "notes.txt: not listed in SHA256SUMS"]


def test_publish_refuses_a_file_that_does_not_match_sha256sums(s3, cli, small_dataset, tmp_path):
    source = tmp_path / "copy"
    shutil.copytree(small_dataset, source)
    (source / "preview.png").write_bytes(b"not the rendered preview")
    assert_one_line_error(cli("publish", source, f"{s3.url}/bad", "--quiet"), "preview.png: sha256 does not match")
    assert "bad/manifest.json" not in s3.keys("bad/")


def test_a_refused_publish_leaves_the_prefix_as_it_was(s3, cli, small_dataset, tmp_path):
    """A damaged folder is refused before anything is uploaded: into a new prefix, or one half published."""
    source = tmp_path / "copy"
    shutil.copytree(small_dataset, source)
    shard = source / "fractaldb-train-000003.tar"
    shard.write_bytes(shard.read_bytes()[:3000])
    assert_one_line_error(cli("publish", source, f"{s3.url}/new", "--quiet"), "fractaldb-train-000003.tar", "sha256")
    assert s3.keys() == []
    assert cli("publish", small_dataset, f"{s3.url}/half", "--quiet").exit_code == 0
    s3.client.delete_object(Bucket=s3.name, Key="half/manifest.json")
    before = {key: s3.get(key) for key in s3.keys()}
    (source / "fractaldb-train-000005.tar").write_bytes(b"other")
    assert_one_line_error(cli("publish", source, f"{s3.url}/half", "--quiet"), "fractaldb-train-000003.tar")
    assert {key: s3.get(key) for key in s3.keys()} == before
    shard.unlink()
    (source / "fractaldb-train-000004.tar").unlink()
    assert_one_line_error(cli("publish", source, f"{s3.url}/half", "--quiet"), "fractaldb-train-000003.tar",
                          "is missing (2 listed files are)")
    assert {key: s3.get(key) for key in s3.keys()} == before


def test_preview_of_an_s3_dataset(s3, cli, small_dataset, tmp_path):
    assert cli("publish", small_dataset, f"{s3.url}/pv", "--quiet").exit_code == 0
    result = cli("preview", f"{s3.url}/pv", "--out", tmp_path / "sheet.png", "--classes", 2)
    assert result.exit_code == 0 and (tmp_path / "sheet.png").read_bytes()[:4] == b"\x89PNG"


def test_a_prefix_holding_another_dataset_is_refused(s3, cli, params_dir, small_dataset):
    out = f"{s3.url}/taken"
    assert cli("publish", small_dataset, out, "--quiet").exit_code == 0
    assert_one_line_error(cli(*render_args(params_dir, out, "--seed", 2)), "another dataset")
    s3.put("foreign/notes.txt", b"mine")
    assert_one_line_error(cli("publish", small_dataset, f"{s3.url}/foreign"), "not empty")
    assert s3.keys("foreign/") == ["foreign/notes.txt"]


def test_a_missing_bucket(s3, cli, params_dir):
    assert_one_line_error(cli(*render_args(params_dir, "s3://fdsl-no-such-bucket/ds")), "no such bucket")
    assert_one_line_error(cli("verify", "s3://fdsl-no-such-bucket/ds"), "no such bucket")


def test_refused_credentials(cli, params_dir, monkeypatch, tmp_path):
    # a second moto server that checks credentials: it knows no access key at all
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", "from moto.server import ThreadedMotoServer; import signal; "
                               f"ThreadedMotoServer('127.0.0.1', {port}, verbose=False).start(); signal.pause()"],
                              env=dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="0"), stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        for name, value in (("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}"), ("AWS_ACCESS_KEY_ID", "unknown"),
                            ("AWS_SECRET_ACCESS_KEY", "unknown"), ("AWS_CONFIG_FILE", str(tmp_path / "none"))):
            monkeypatch.setenv(name, value)
        assert_one_line_error(cli(*render_args(params_dir, "s3://fdsl-bucket/ds")), "access refused")
        assert_one_line_error(cli("verify", "s3://fdsl-bucket/ds"), "access refused")
    finally:
        server.kill()
        server.wait()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"no server on port {port}")


@pytest.mark.parametrize("command", ["render", "verify"])
def test_an_unreachable_endpoint_fails_in_seconds(s3, cli, params_dir, monkeypatch, command):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    started = time.time()
    args = render_args(params_dir, f"{s3.url}/ds") if command == "render" else ("verify", f"{s3.url}/ds")
    assert_one_line_error(cli(*args), "cannot reach")
    assert time.time() - started < 60


def readme_commands(heading):
    """The fdsl-gen lines of the bash blocks in one README section."""
    section = (Path(__file__).resolve().parents[2] / "README.md").read_text().split(heading, 1)[1]
    section = re.split(r"\n##+ ", section, maxsplit=1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [shlex.split(line) for block in blocks for line in block.splitlines() if line.startswith("fdsl-gen ")]


def test_readme_object_store_commands_work_as_printed(s3, cli, small_dataset, monkeypatch, tmp_path):
    s3.client.create_bucket(Bucket="my-bucket")
    monkeypatch.chdir(tmp_path)
    shutil.copytree(small_dataset, tmp_path / "shards" / "fractaldb-small")
    commands = readme_commands("### Object stores")
    assert [words[1] for words in commands] == ["render", "verify", "info", "publish"]
    for words in commands:
        result = cli(*words[1:])
        assert result.exit_code == 0, (words, result.output)
    listed = s3.client.list_objects_v2(Bucket="my-bucket")["Contents"]
    keys = {o["Key"] for o in listed}
    assert {"fractaldb-small/manifest.json", "fractaldb-published/manifest.json"} <= keys
