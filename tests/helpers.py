"""Assertions, option sets and process helpers several test files (and bench/soak.py) share."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import skimage.data

# A small FractalDB render: 4 categories of the session's params x 200 images, 48 px.
SMALL = ("--size", 48, "--points", 3000, "--counts", 2, "--weight-k", 0.1, "--samples-per-shard", 64, "--quiet")
# A render that kill tests interrupt: 50 shards of 4 images, 2M points each, a few CPU seconds in all,
# so that most of the work is still to do when the first shards are recorded.
HEAVY = ("--size", 64, "--points", 2_000_000, "--counts", 2, "--flips", 1, "--weight-k", 0.1,
         "--samples-per-shard", 4, "--quiet")
HEAVY_SHARDS = 50


# The smallest build of each recipe (tests/gen/test_contracts.py renders it); "{ifs2d}"/"{ifs3d}" name parameter folders.
TINY = {
    "fractaldb": dict(params="{ifs2d}", size=32, points=500, instances=3),
    "ofdb": dict(params="{ifs2d}", size=32, points=500, instances=2),
    "1p-frac": dict(classes=2, size=32, points=500, instances=2),
    "real1p": dict(image=f"{skimage.data.data_dir}/camera.png", classes=2, size=32),
    "exfractaldb": dict(params="{ifs3d}", size=32, points=300, instances=4, views=2),
    "mvfractaldb": dict(params="{ifs3d}", size=32, points=300, instances=12),
    "rcdb": dict(categories=2, instances=2, size=32, polygons_max=10),
    "visualatom": dict(categories=2, instances=2, size=32, orbits_max=10, vertices_max=300),
    "perlin": dict(categories=2, instances=2, size=32),
    "bezier": dict(categories=2, instances=2, size=32),
}


def loaded_after(statement, prefixes):
    """The modules named with one of `prefixes` that a fresh interpreter has loaded after `statement`."""
    code = f"import sys; {statement}; print(sorted(m for m in sys.modules if m.startswith({tuple(prefixes)!r})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1]


def assert_one_line_error(result, *words):
    """fdsl-gen refused with exit status 2 and one line `fdsl-gen: error: ...` naming every word."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fdsl-gen: error:"), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def children(pid):
    """The process ids whose parent is `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def kill_when(process, ready, timeout=120):
    """kill -9 the process group of `process` (started with start_new_session=True) once `ready()` holds.

    Polls the state instead of sleeping for a guessed time; fails if the process ends first or the state
    never comes. The whole group dies at once, workers included, so what the caller finds afterwards is
    the state the kill interrupted.
    """
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, "the process ended before the state to kill it at"
        assert time.monotonic() < deadline, "the state to kill the process at never came"
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

