"""Start-up of both command lines: whole processes against `python -c pass`.

Every command runs --repeat times (at least 3), each in a fresh process, in
turn with the others (so a burst of load on the machine spreads over all
rows). The table gives the median, min and max of wall and of CPU seconds
(user + system), the median peak memory, the wall median's ratio to the
floor's, and the target. A start-up runs on one core, where an idle
machine spends its CPU seconds about 1:1 in wall time, so the verdict is
on the CPU median: wall seconds on a shared machine measure the other jobs.
The render row is a whole one-image render (1 category, 32 px, 1000
points): all of it but a few milliseconds is start-up; the `python -c`
rows show what any render pays before its first image. The render's first
run with an empty numba cache (NUMBA_CACHE_DIR pointing at a new folder)
is timed once, apart: that is what a clean clone pays once.

    PYTHONPATH=. .venv/bin/python bench/startup.py [--repeat 5]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import check_rounds, load_line, median, spread

BIN = Path(sys.executable).parent
HELP_TARGET, INSPECT_TARGET, RENDER_TARGET = 0.3, 0.4, 0.5
# What a render cannot start without: numpy, numba, and numba's first use of
# a cached kernel (its runtime and the machine code read from the cache;
# fdsl_gen.formulas.jit spares it numba's compiler set-up).
PARTS = [
    "import click",
    "import numpy",
    "import numba",
    "import numpy as np; from fdsl_gen.formulas.ifs2d import fill_rate; "
    "fill_rate(np.zeros(3, np.uint16), np.zeros(3, np.uint16), 4)",
]


def script(name):
    """The console script beside this interpreter, or `python -m` when it is not installed."""
    path = BIN / name
    return [str(path)] if path.exists() else [sys.executable, "-m", name.replace("-", "_")]


def help_commands(program, group, prefix=()):
    """`PROGRAM ... --help` for the group and every command under it."""
    commands = [(" ".join((program,) + prefix + ("--help",)), script(program) + [*prefix, "--help"])]
    for name in getattr(group, "list_commands", lambda ctx: [])(None):
        commands += help_commands(program, group.get_command(None, name), prefix + (name,))
    return commands


def all_help_commands():
    """Listed by a child process: a process forked from one that imported the CLIs would report
    that process's memory as its peak."""
    listing = subprocess.run([sys.executable, __file__, "--list"], check=True, capture_output=True, text=True)
    return [tuple(row) for row in json.loads(listing.stdout)]


def list_help_commands():
    from fdsl_gen.cli import main as gen_cli
    from fdsl_train.cli import cli as train_cli

    print(json.dumps(help_commands("fdsl-gen", gen_cli) + help_commands("fdsl-train", train_cli)))


def run_once(argv, env=None):
    """(wall s, CPU s, peak RSS MiB) of one process; fails loudly on a non-zero exit."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    error = proc.stderr.read().decode()
    proc.stderr.close()
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {error}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def render_argv(params, out):
    return script("fdsl-gen") + ["render", "fractaldb", "--params", str(params), "--categories", "1",
                                 "--instances", "1", "--size", "32", "--points", "1000", "--workers", "1",
                                 "--quiet", "--out", str(out)]


def prepare(tmp):
    """A one-category parameter folder and a small dataset for info and verify."""
    params, small = tmp / "params", tmp / "small"
    subprocess.run(script("fdsl-gen") + ["search", "fractaldb", "--categories", "1", "--quiet", "--out", str(params)],
                   check=True)
    subprocess.run(script("fdsl-gen") + ["render", "fractaldb", "--params", str(params), "--instances", "8",
                                         "--size", "32", "--points", "1000", "--quiet", "--out", str(small)],
                   check=True)
    return params, small


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--list", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.list:
        return list_help_commands()
    check_rounds(args.repeat)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        params, small = prepare(tmp)
        renders = iter(range(10 ** 6))
        rows = [("python -c pass", lambda: [sys.executable, "-c", "pass"], None)]
        rows += [(f"python -c '{code}'", lambda code=code: [sys.executable, "-c", code], None) for code in PARTS]
        rows += [(label, lambda argv=argv: argv, HELP_TARGET)
                 for label, argv in all_help_commands()]
        rows += [(f"fdsl-gen {verb} SMALL", lambda verb=verb: script("fdsl-gen") + [verb, str(small)], INSPECT_TARGET)
                 for verb in ("info", "verify")]
        rows += [("fdsl-gen render fractaldb (1 image, 32 px)",
                  lambda: render_argv(params, tmp / f"render-{next(renders)}"), RENDER_TARGET)]
        first = run_once(render_argv(params, tmp / "first"), {**os.environ, "NUMBA_CACHE_DIR": str(tmp / "numba")})
        times = {label: [] for label, _, _ in rows}
        for _ in range(args.repeat):
            for label, argv, _ in rows:
                times[label].append(run_once(argv()))
        report(rows, times, first, args.repeat)


def report(rows, times, first, repeat):
    floor = median([wall for wall, _, _ in times["python -c pass"]])
    print(f"{repeat} runs each, median (min to max); {load_line()} at the end")
    print("| command | wall s | CPU s | peak MiB | x floor (wall) | target s (on CPU) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, _, target in rows:
        walls, cpus, rss = zip(*times[label])
        verdict = "" if target is None else f"{target} {'ok' if median(cpus) < target else 'MISSED'}"
        print(f"| `{label}` | {spread(walls, 3)} | {spread(cpus, 2)} | {median(rss):.0f} | "
              f"{median(walls) / floor:.1f} | {verdict} |")
    print(f"| first render, empty numba cache (1 run) | {first[0]:.2f} | {first[1]:.2f} | {first[2]:.0f} | "
          f"{first[0] / floor:.1f} | |")

if __name__ == "__main__":
    main()
