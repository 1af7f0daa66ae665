"""The `fdsl-gen` program ends without the interpreter's teardown: its exit status, output and exit
handlers must be those of an ordinary exit."""
import os
import subprocess
import sys

import pytest

# `fdsl-gen ARGS` as its console script runs it, with an exit handler that prints last.
PROGRAM = """
import atexit, os, sys
from fdsl_gen.cli import run
atexit.register(lambda: print("exit handler ran"))
atexit.register(lambda: print("OPENBLAS_NUM_THREADS", os.environ.get("OPENBLAS_NUM_THREADS")))
sys.argv = ["fdsl-gen", *sys.argv[1:]]
run()
print("not reached")
"""


def program(*args, env=None):
    return subprocess.run([sys.executable, "-c", PROGRAM, *map(str, args)], capture_output=True, text=True,
                          timeout=600, env=env)


def test_a_render_exits_0_with_its_dataset_whole_and_its_output_flushed(tmp_path):
    out = tmp_path / "rcdb"
    done = program("render", "rcdb", "--categories", 2, "--instances", 2, "--size", 16, "--workers", 1, "--out", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "exit handler ran"
    assert "4 images, 2 classes" in done.stderr  # the render's last line
    info = program("info", out)
    assert info.returncode == 0, info.stderr
    assert info.stdout.splitlines()[0].startswith("name        rcdb (rcdb")
    assert info.stdout.splitlines()[-1] == "exit handler ran"
    assert program("verify", out).returncode == 0


@pytest.mark.parametrize("args, status", [
    (("render", "rcdb", "--categories", 0), 2),  # a user error: one line
    (("no-such-command",), 2),  # a usage error
    (("--help",), 0),
])
def test_the_exit_status_is_the_commands(args, status, tmp_path):
    done = program(*args, *(("--out", tmp_path / "x") if args[0] == "render" else ()))
    assert done.returncode == status, done.stderr
    assert done.stdout.endswith("exit handler ran\n")
    assert "not reached" not in done.stdout
    if status == 2:
        assert len(done.stderr.strip().splitlines()) == 1


def test_python_dash_m_runs_the_program(tmp_path):
    done = subprocess.run([sys.executable, "-m", "fdsl_gen", "render", "rcdb", "--categories", "0", "--out",
                           str(tmp_path / "x")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 2
    assert done.stderr.startswith("fdsl-gen: error:")


def test_numpys_blas_threads_are_one_unless_the_user_says(tmp_path):
    """numpy starts OpenBLAS's threads at its import; fdsl-gen asks for one, or for what the user set."""
    environment = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    assert "OPENBLAS_NUM_THREADS 1" in program("--help", env=environment).stdout
    assert "OPENBLAS_NUM_THREADS 4" in program("--help", env={**environment, "OPENBLAS_NUM_THREADS": "4"}).stdout
