"""Where a small render's CPU seconds go: start-up, imports, kernel loads, set-up, drawing, finalize.

    PYTHONPATH=. .venv/bin/python bench/fixed_costs.py [--rounds 3] [--family NAME ...] [--trees DIR ...]

Each family runs the small command of bench/official_compare.py (its fdsl
side: the same sizes, --workers 1, NUMBA_NUM_THREADS=1) in a fresh process
that marks its own CPU clock (user + system) at each stage: the interpreter
before the command, importing the command line, importing the pipeline
(numpy, the writer), importing the recipe's module (numba, the kernel
modules), building the recipe (per-class set-up), rendering the shards (a
search: its trials), finalize, whose preview is shown apart, and the exit
(the whole process's CPU seconds, as its parent sees them, less all the
rest; a checkout with `fdsl_gen.cli.run` ends as its `fdsl-gen` does,
without the interpreter's teardown). Kernel
loads from numba's cache happen inside set-up and rendering; their CPU
seconds are shown apart and taken out of those two. The modules are
compiled to bytecode and the numba cache warmed by one untimed run first.
Each column is the round whose whole run is the median of the rounds (so
that its stages add up to it; medians taken stage by stage need not), the
rounds of all families interleaved. --trees
compares checkouts of fdsl (`git worktree add`, `git archive`): each runs
from its own folder, their runs interleaved too, one table each.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import check_rounds, load_line, median, timed

REPO = Path(__file__).resolve().parents[1]

# The first two weight rows of FractalDB's weights_0.4.csv: official_compare's two canvases.
WEIGHTS = "0.2,1,1,1,1,1\n0.6,1,1,1,1,1\n"
ONE_CORE = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
STAGES = ["interpreter", "import command line", "import pipeline", "import recipe module (numba, kernels)",
          "kernel loads from the cache", "recipe set-up", "render shards (search: trials)", "finalize: preview",
          "finalize: the rest", "other", "exit (the interpreter's teardown)"]

# Runs in the child: fdsl-gen's `main` with its stages wrapped by CPU-clock marks; prints {stage: seconds}.
HARNESS = r"""
import json, resource, sys
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
spent = {"interpreter": cpu()}
inner = [0.0]  # CPU seconds of marked calls inside the one running now
def mark(owner, name, stage):
    function = getattr(owner, name)
    def wrapped(*args, **kwargs):
        start, outer = cpu(), inner[0]
        inner[0] = 0.0
        try:
            return function(*args, **kwargs)
        finally:
            elapsed = cpu() - start
            spent[stage] = spent.get(stage, 0.0) + elapsed - inner[0]  # its own seconds, marked calls apart
            inner[0] = outer + elapsed
    setattr(owner, name, wrapped)
start = cpu()
from fdsl_gen import cli
spent["import command line"] = cpu() - start
start = cpu()
from fdsl_gen import pipeline, recipe, registry
spent["import pipeline"] = cpu() - start
load = registry.Entry.load
def load_then_mark_kernel_loads(entry):
    target = load(entry)  # imports numba, whose cache loads are marked from now on (fdsl's own way included)
    from numba.core.caching import Cache
    if not hasattr(Cache.load_overload, "marked"):
        mark(Cache, "load_overload", "kernel loads from the cache")
        Cache.load_overload.marked = True
    return target
registry.Entry.load = load_then_mark_kernel_loads
mark(registry.Entry, "load", "import recipe module (numba, kernels)")
mark(pipeline, "create_recipe", "recipe set-up")
mark(pipeline, "create_search", "recipe set-up")
mark(pipeline, "render_shards", "render shards (search: trials)")
mark(recipe.Search, "run", "render shards (search: trials)")
mark(pipeline, "finalize_dataset", "finalize: the rest")
mark(pipeline, "manifest_sheet", "finalize: preview")
mark(pipeline, "png_bytes", "finalize: preview")
cli.main(sys.argv[1:], standalone_mode=False)
print(json.dumps(dict(spent, **{"until exit": cpu()})), flush=True)
if hasattr(cli, "run"):  # the program ends as `fdsl-gen` does: exit handlers, no teardown
    import atexit, os
    atexit._run_exitfuncs()
    os._exit(0)
"""

def commands(tmp):
    """{family: fdsl-gen arguments} of official_compare.py's small runs, inputs made in `tmp`."""
    fdsl_gen = [sys.executable, "-m", "fdsl_gen"]
    params, params3d, weights = tmp / "params", tmp / "params3d", tmp / "weights.csv"
    subprocess.run(fdsl_gen + ["search", "fractaldb", "--categories", "1", "--quiet", "--out", str(params)],
                   check=True, env={**os.environ, **ONE_CORE}, timeout=600)
    subprocess.run(fdsl_gen + ["search", "exfractaldb", "--categories", "1", "--quiet", "--out", str(params3d)],
                   check=True, env={**os.environ, **ONE_CORE}, timeout=600)
    weights.write_text(WEIGHTS)
    return {
        "search": ["search", "fractaldb", "--categories", "2"],
        "fractaldb": ["render", "fractaldb", "--params", params, "--weights", weights, "--counts", "1",
                      "--size", "362", "--points", "200000"],
        "1p-frac": ["render", "1p-frac", "--params", params / "00000.csv", "--classes", "2"],
        "rcdb": ["render", "rcdb", "--categories", "20", "--instances", "5", "--size", "512", "--min-ink", "0"],
        "visualatom": ["render", "visualatom", "--categories", "20", "--instances", "1", "--size", "512",
                       "--min-ink", "0"],
        "mvfractaldb": ["render", "mvfractaldb", "--params", params3d, "--instances", "1740"],
    }


def stages_of(arguments, out, tree):
    """{stage: CPU seconds} of one run of `fdsl-gen ARGUMENTS --out OUT --workers 1 --quiet` from checkout `tree`."""
    argv = [sys.executable, "-c", HARNESS, *map(str, arguments), "--out", str(out), "--workers", "1", "--quiet"]
    env = {**os.environ, **ONE_CORE, "PYTHONPATH": str(tree)}
    done, _, cpu = timed(lambda: subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tree,
                                                timeout=1200))
    if done.returncode:
        raise SystemExit(f"fixed_costs: {' '.join(map(str, arguments[:2]))} exited {done.returncode}: "
                         f"{(done.stderr.strip().splitlines() or ['no output'])[-1]}")
    spent = json.loads(done.stdout.splitlines()[-1])
    spent["total"] = cpu  # the whole process, its exit included
    spent["exit (the interpreter's teardown)"] = cpu - spent.pop("until exit")
    spent["other"] = spent["total"] - sum(spent.get(stage, 0.0) for stage in STAGES if stage != "other")
    return spent


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--family", nargs="*", help="families to run (default: all six)")
    parser.add_argument("--trees", nargs="*", type=Path, default=[REPO], help="fdsl checkouts to compare")
    args = parser.parse_args()
    check_rounds(args.rounds)
    trees = [tree.resolve() for tree in args.trees]
    missing = [str(tree) for tree in trees if not (tree / "fdsl_gen" / "cli.py").is_file()]
    if missing:
        raise SystemExit(f"fixed_costs: not an fdsl checkout: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="fixed-costs-") as name:
        tmp = Path(name)
        runs = commands(tmp)
        chosen = args.family or list(runs)
        unknown = sorted(set(chosen) - set(runs))
        if unknown:
            raise SystemExit(f"fixed_costs: unknown family {', '.join(unknown)} (known: {', '.join(runs)})")
        counter = iter(range(10 ** 6))
        for tree in trees:
            # untimed, as official_compare.py does: the modules as bytecode (PYTHONDONTWRITEBYTECODE would
            # leave every run to compile them), then one run per family compiles what numba's cache lacks
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "fdsl_gen")], check=True, timeout=600)
            for family in chosen:
                stages_of(runs[family], tmp / f"warm-{next(counter)}", tree)
        results = {tree: {family: [] for family in chosen} for tree in trees}
        for _ in range(args.rounds):
            for family in chosen:
                for tree in trees:
                    results[tree][family].append(stages_of(runs[family], tmp / f"run-{next(counter)}", tree))
        for tree in trees:
            report(tree, results[tree], args.rounds)


def median_round(runs):
    """The run whose total is nearest the median of the totals of `runs`."""
    middle = median([run["total"] for run in runs])
    return min(runs, key=lambda run: abs(run["total"] - middle))


def report(tree, results, rounds):
    print(f"\n{tree}: CPU seconds per stage, the median of {rounds} rounds; {load_line()} at the end")
    print("| stage | " + " | ".join(results) + " |")
    print("| --- |" + " --- |" * len(results))
    chosen = [median_round(runs) for runs in results.values()]
    for stage in STAGES + ["total"]:
        cells = [f"{run.get(stage, 0.0):.3f}" for run in chosen]
        label = f"**{stage}**" if stage == "total" else stage
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
