"""bench/gpu_check.py on the CPU: the same stages a GPU machine runs, at the tiny size, with 2 gloo ranks.

One check runs for the module (about 40 CPU seconds); the tests read its table and the files it left, and
give its checks real records that must fail.
"""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import gpu_check  # noqa: E402

TINY = gpu_check.SIZES["tiny"]


def check(work, *options, **env):
    return subprocess.run([sys.executable, str(BENCH / "gpu_check.py"), "--work", str(work), *options],
                          capture_output=True, text=True, env=dict(os.environ, **env), timeout=600)


@pytest.fixture(scope="module")
def cpu_check(tmp_path_factory):
    work = tmp_path_factory.mktemp("gpu_check")
    done = check(work, "--device", "cpu", "--size", "tiny")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    return work, done.stdout


def table(stdout):
    """{stage: (figure, how)} of the one table's rows."""
    lines = [line for line in stdout.splitlines() if line.startswith("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    assert rows[:2] == [["stage", "figure", "how"], ["---", "---", "---"]]
    assert ["stage", "figure", "how"] not in rows[2:]
    return {stage: (figure, how) for stage, figure, how in rows[2:]}


def test_every_stage_runs_on_the_cpu_and_every_row_has_a_number(cpu_check):
    _, stdout = cpu_check
    rows = table(stdout)
    assert list(rows) == [
        "render", "pretrain (torchrun, 2 rank(s), gloo)", "pretrain, batches per rank",
        "pretrain, weights across ranks", "pretrain, steady rate", "train step, synthetic input",
        "train step, shard pipeline, 1 worker(s)", "loader alone, 1 worker(s)", "loader alone, 2 worker(s)",
        "live: pretrain, rendered in the workers", "all stages"]
    for stage, (figure, _) in rows.items():
        assert re.search(r"\d", figure), (stage, figure)
        assert "FAILED" not in figure
    assert rows["pretrain (torchrun, 2 rank(s), gloo)"] == (f"{TINY.steps} of {TINY.steps} steps",
                                                            "1 loader worker(s) per rank, gpu-augment on")
    assert rows["pretrain, batches per rank"][0] == f"{TINY.steps} = {TINY.steps}"
    assert rows["live: pretrain, rendered in the workers"][0] == f"{TINY.live_steps} of {TINY.live_steps} steps"
    for stage in ("pretrain, steady rate", "train step, synthetic input", "loader alone, 2 worker(s)"):
        assert float(rows[stage][0].split()[0]) > 0


def test_the_runs_took_exactly_the_steps_asked_for(cpu_check):
    work, _ = cpu_check
    for folder, steps in (("pretrain", TINY.steps), ("live", TINY.live_steps)):
        records = [json.loads(line) for line in (work / folder / "log.jsonl").read_text().splitlines()]
        assert max(r["step"] for r in records if r["event"] == "step") == steps
        assert [r for r in records if r["event"] in ("stop", "epoch")][-1]["step"] == steps
    run = json.loads((work / "pretrain" / "run.json").read_text())
    assert run["world_size"] == 2 and run["device"] == "cpu" and run["gpu_augment"]
    assert json.loads((work / "live" / "run.json").read_text())["options"]["data"].startswith("live:")


def test_each_rank_reports_its_own_batches_and_the_same_weights(cpu_check):
    work, _ = cpu_check
    reports = [json.loads((work / "ranks" / f"rank-{rank}.json").read_text()) for rank in (0, 1)]
    assert [r["batches"] for r in reports] == [TINY.steps, TINY.steps]
    assert [r["backend"] for r in reports] == ["gloo", "gloo"]
    assert reports[0]["digest"] == reports[1]["digest"]


def test_the_train_step_figures_are_three_rounds_of_each_contender(cpu_check):
    work, _ = cpu_check
    found = json.loads((work / "train_step.json").read_text())
    assert found["steps"] == TINY.bench_steps and found["device"] == "cpu" and found["gpu_augment"]
    assert sorted(found["loader"]) == [str(count) for count in TINY.loader_workers]
    for rates in (found["synthetic"], found["pipeline"], *found["loader"].values()):
        assert len(rates) == 3 and min(rates) > 0


def test_a_step_count_other_than_the_asked_one_fails(cpu_check):
    work, _ = cpu_check
    records = gpu_check.log_records(work / "pretrain")
    gpu_check.check_steps(records, TINY.steps)
    with pytest.raises(gpu_check.Failed, match=f"asked for {TINY.steps + 1} steps"):
        gpu_check.check_steps(records, TINY.steps + 1)
    with pytest.raises(gpu_check.Failed, match="no end record"):
        gpu_check.check_steps([r for r in records if r["event"] == "step"], TINY.steps)
    beyond = dict(next(r for r in records if r["event"] == "step"), step=TINY.steps + 1)
    with pytest.raises(gpu_check.Failed, match=f"last step is {TINY.steps + 1}"):
        gpu_check.check_steps(records + [beyond], TINY.steps)


def test_ranks_with_different_weights_or_batches_or_devices_fail(cpu_check):
    work, _ = cpu_check
    reports = [json.loads((work / "ranks" / f"rank-{rank}.json").read_text()) for rank in (0, 1)]
    gpu_check.check_ranks(reports, 2, TINY.steps, "cpu")
    apart = [reports[0], dict(reports[1], digest=reports[1]["digest"][::-1])]
    with pytest.raises(gpu_check.Failed, match="different sets of weights"):
        gpu_check.check_ranks(apart, 2, TINY.steps, "cpu")
    with pytest.raises(gpu_check.Failed, match="batches per rank"):
        gpu_check.check_ranks([reports[0], dict(reports[1], batches=TINY.steps - 1)], 2, TINY.steps, "cpu")
    with pytest.raises(gpu_check.Failed, match="rank reports"):
        gpu_check.check_ranks(reports[:1], 2, TINY.steps, "cpu")
    with pytest.raises(gpu_check.Failed, match="expected nccl"):
        gpu_check.check_ranks(reports, 2, TINY.steps, "cuda")


def test_the_full_sample_holds_every_stage_in_one_epoch():
    full = gpu_check.SIZES["full"]
    assert gpu_check.images_needed(full, ranks=1, workers=16) == 100 * 128  # one H100: 100 steps of 128
    for ranks, workers in ((1, 16), (2, 8), (8, 16)):
        batches = gpu_check.images_needed(full, ranks, workers) // full.batch
        assert batches // ranks >= full.steps  # every rank's steps, as fdsl-train deals batches to ranks
        assert batches >= full.bench_warmup + 2 * workers + full.bench_steps  # a pipeline turn, prefetch included
        assert batches >= (2 + 4) * max(full.loader_workers)  # the loader alone at 16 workers


def ended(pid, within):
    """Whether process `pid` is gone, or dead and not yet reaped, within `within` seconds: a SIGKILL takes
    effect when the process is next scheduled, which on a loaded machine can take a moment."""
    stat, deadline = Path(f"/proc/{pid}/stat"), time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if stat.read_text().split(") ")[1].startswith(("Z", "X")):
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_a_stage_past_its_time_out_fails_and_every_process_under_it_ends(tmp_path, monkeypatch):
    monkeypatch.setitem(gpu_check.TIMEOUTS, "render", 5)
    pid_file = tmp_path / "child.pid"
    # the stage's command starts a child in a session of its own, as torchrun starts its ranks
    # both wait for a signal, not for a time: only the stage's time-out can end them
    script = ("import signal, subprocess, sys; "
              "child = subprocess.Popen([sys.executable, '-c', 'import signal; signal.pause()'], "
              "start_new_session=True); "
              f"open({str(pid_file)!r}, 'w').write(str(child.pid)); signal.pause()")
    with pytest.raises(gpu_check.Failed, match="no end after 5 s"):
        gpu_check.run("render", [sys.executable, "-c", script], dict(os.environ), tmp_path / "logs")
    assert ended(int(pid_file.read_text()), within=30)
    assert (tmp_path / "logs" / "render.log").read_text().startswith(f"$ {sys.executable} -c ")


def test_a_failing_command_fails_its_stage_with_its_last_line(tmp_path):
    script = "import sys; print('rendering'); sys.exit('bad --size')"
    with pytest.raises(gpu_check.Failed, match=r"exit status 1: bad --size \("):
        gpu_check.run("live", [sys.executable, "-c", script], dict(os.environ), tmp_path)
    assert "rendering" in (tmp_path / "live.log").read_text()


def test_a_failing_rank_is_named_by_its_exception_not_by_torchruns_closing_lines(tmp_path):
    script = ("import sys; print('[rank1]: KeyError: 3', file=sys.stderr); "
              "print('ChildFailedError: \\n  traceback : To enable traceback see: https://...\\n=====', "
              "file=sys.stderr); sys.exit(1)")
    with pytest.raises(gpu_check.Failed, match=r"exit status 1: \[rank1\]: KeyError: 3 \("):
        gpu_check.run("pretrain", [sys.executable, "-c", script], dict(os.environ), tmp_path)


def test_a_failed_render_ends_the_check_with_one_line_and_status_1(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    images = gpu_check.images_needed(TINY, ranks=2, workers=1)
    (work / f"fractaldb-{TINY.image_px}px-{images}").write_text("a file where the sample's folder goes")
    done = check(work, "--device", "cpu", "--size", "tiny", OMP_NUM_THREADS="1")
    assert done.returncode == 1
    failures = [line for line in done.stderr.splitlines() if "FAILED" in line]
    assert len(failures) == 1 and failures[0].startswith("gpu_check: render FAILED: exit status ")
    assert list(table(done.stdout)) == ["render", "all stages"]  # nothing ran without the sample
    assert not (work / "pretrain").exists()


def test_without_cuda_the_cuda_check_prints_one_line_and_exits_0(tmp_path):
    done = check(tmp_path / "work", "--device", "cuda", CUDA_VISIBLE_DEVICES="")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "gpu_check: no device: torch sees no CUDA GPU, nothing to check on this machine"]
    assert not (tmp_path / "work").exists()
