"""bench/common.py: medians with their spread, ratios round by round, turns, CPU time; catalys1's wrapper's refusal."""
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import common  # noqa: E402


def test_spread_is_the_median_with_min_and_max_and_reads_negative_values():
    assert common.spread([3.0, 1.0, 2.0]) == "2.0 (1.0 to 3.0)"
    assert common.spread([-24.6, 53.6, -18.4]) == "-18.4 (-24.6 to 53.6)"


def test_ratios_are_taken_round_by_round():
    # medians alone would give 4 / 2 = 2.00; the rounds' own ratios are 2, 2 and 3
    assert common.ratio_spread([2.0, 4.0, 9.0], [1.0, 2.0, 3.0]) == "2.00 (2.00 to 3.00)x"


def test_contenders_take_turns_within_every_round():
    calls = []
    results = common.interleaved({"a": lambda: calls.append("a") or len(calls),
                                  "b": lambda: calls.append("b") or len(calls)}, 3)
    assert calls == ["a", "b"] * 3
    assert results == {"a": [1, 3, 5], "b": [2, 4, 6]}


def test_warm_up_rounds_run_first_and_are_dropped():
    calls = []
    results = common.interleaved({"a": lambda: calls.append("a") or len(calls),
                                  "b": lambda: calls.append("b") or len(calls)}, 2, warmup=1)
    assert calls == ["a", "b"] * 3
    assert results == {"a": [3, 5], "b": [4, 6]}


def test_fewer_than_three_rounds_are_refused():
    with pytest.raises(SystemExit, match="at least 3 rounds"):
        common.check_rounds(2)
    common.check_rounds(3)


def test_cpu_time_counts_a_child_waited_for():
    child = [sys.executable, "-c", "sum(i * i for i in range(2_000_000))"]
    _, wall, cpu = common.timed(lambda: subprocess.run(child, check=True))
    assert cpu > 0.05  # the child's loop alone is well over this; this process only waits
    assert wall > 0


# Run in a process of its own: a forkserver started in the test process would serve every later test's
# loader workers, without the modules fdsl_train preloads into its own (set_forkserver_preload comes too late).
FORKSERVER_WORKER = """
import multiprocessing, sys
sys.path.insert(0, sys.argv[1])
import common

def burn():
    sum(i * i for i in range(2_000_000))

def run_worker(target):
    worker = context.Process(target=target)
    worker.start()
    worker.join(timeout=120)
    return worker.exitcode

if __name__ == "__main__":
    context = multiprocessing.get_context("forkserver")
    assert run_worker(int) == 0  # the forkserver's own start, not timed
    exitcode, _, cpu = common.timed(lambda: run_worker(burn))
    print(exitcode, cpu)
"""


def test_cpu_time_counts_a_worker_started_by_a_forkserver(tmp_path):
    # fdsl_train's loader workers are the forkserver's children: RUSAGE_CHILDREN alone misses them
    script = tmp_path / "forkserver_worker.py"
    script.write_text(FORKSERVER_WORKER)
    done = subprocess.run([sys.executable, str(script), str(BENCH)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    exitcode, cpu = done.stdout.split()
    assert exitcode == "0"
    assert float(cpu) > 0.05  # the worker's loop alone is well over this; the timing process only waits


def test_catalys1_wrapper_refuses_a_folder_without_the_generator(tmp_path):
    done = subprocess.run([sys.executable, str(BENCH / "catalys1_generator.py"), str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"catalys1_generator: {tmp_path} holds no fractal_learning/training/datamodule/datasets/generator.py"]
