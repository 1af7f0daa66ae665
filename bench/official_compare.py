"""fdsl against the official code, side by side: its scripts run unchanged from the pinned checkouts.

    .venv/bin/python bench/official_compare.py [--family all|fractaldb|search|1p-frac|rcdb|visualatom|mvfractaldb]
        [--rounds 3] [--small N] [--large-official N] [--large-fdsl N] [--categories K]

Each family runs four commands per round, interleaved: the official script
(build/venv's Python, one process) and `fdsl-gen` (--workers 1,
NUMBA_NUM_THREADS=1), each at a small size that is the same on both sides
and at a larger size of its own. Both write PNGs at the official image size
and point count. A command's cost is its user+sys CPU seconds, children
included, so the figures are per core. Printed per family, as the median
over rounds with the min-max spread:
- small run: the whole small command, start-up included, / its units;
- steady: (large run - small run) / (large units - small units), the
  marginal cost of one more unit, start-up excluded (fdsl's RCDB: large
  run - base run, below);
- ratio: official / fdsl, round by round.
The small runs are the equal-size runs the project's targets name: the
search of 5 categories, RCDB 1,000 images and VisualAtom 200 (20 categories).
RCDB's fdsl runs draw the official runs' own categories (`--params`, from
the param/ files of the official script at the same size): its small run
is the official small run's categories and images, and its steady part the
official steady part's work 3 times over (see RCDB); VisualAtom's sides
draw their own categories.
Units: images everywhere; FractalDB also per canvas (one chaos game drawn
once, saved as 4 flipped PNGs), the search per trial, 1p-frac also per chaos
game (perturbations a class rejects included), RCDB also per line segment,
MV-FractalDB also per 3D cloud (12 views each).

Build the official side first: python bench/official/setup.py
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path


HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "official"))
sys.path.insert(0, str(HERE))
import pins  # noqa: E402
from common import check_rounds, interleaved, load_line, median, ratio_spread, spread, timed  # noqa: E402

FDSL_GEN = Path(sys.executable).with_name("fdsl-gen")
# One core on each side: fdsl's numba kernels and both sides' numpy/OpenCV/llvmpipe threads.
ONE_CORE = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "LP_NUM_THREADS": "0"}
TIMEOUT = 3600  # seconds for one command; the largest default run takes a few minutes
ONEPFRAC_SEED = 2  # a base that keeps about 60 % of its perturbations (fdsl's draws); seed 1 keeps 5 %


def run(command, cwd=None, env=None):
    """CPU seconds of `command` (it and its children); its output. A failure is one line."""
    environment = {**os.environ, **ONE_CORE, **(env or {})}
    try:
        done, _, cpu = timed(lambda: subprocess.run([str(c) for c in command], capture_output=True, text=True,
                                                    cwd=cwd, env=environment, timeout=TIMEOUT))
    except subprocess.TimeoutExpired:
        raise SystemExit(f"official_compare: `{Path(str(command[1])).name} ...` ran more than {TIMEOUT} s") from None
    if done.returncode:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SystemExit(f"official_compare: `{Path(str(command[1])).name} ...` exited {done.returncode}: {last[0]}")
    return cpu, done.stdout + done.stderr


def fdsl(recipe, out, *options):
    return run([FDSL_GEN, "render", recipe, "--out", out, "--workers", "1", "--quiet", *options])


def shard_samples(folder):
    """The json of every sample fdsl wrote under `folder`."""
    for path in sorted(glob.glob(f"{folder}/*.tar")):
        with tarfile.open(path) as tar:
            for member in tar:
                if member.name.endswith(".json"):
                    yield json.load(tar.extractfile(member))


def pngs(folder):
    return len(glob.glob(f"{folder}/**/*.png", recursive=True))


class Family:
    """One comparison: how each side renders `size` units into a folder, and what it counted."""
    name = title = repo = ""
    units = ("image",)  # the first is what --small/--large-* count
    sizes = (1, 2, 4)  # small (both sides), large official, large fdsl

    def __init__(self, work, categories):
        self.work, self.categories = work, categories
        self.checkout = pins.checkout(self.repo)
        self.segments = {}  # size -> line segments the official script draws (contour families)

    def official(self, size, out):
        """(cpu seconds, {unit: count})."""
        raise NotImplementedError

    def fdsl(self, size, out):
        raise NotImplementedError

    def fdsl_runs(self, sizes):
        """{run: arguments of `fdsl` after the output folder}: its small and large runs (and, where its steady
        part is measured from another run than the small one, a "base" run)."""
        small, _, large_fdsl = sizes
        return {"small": (small,), "large": (large_fdsl,)}

    def check(self, size):
        """Refuse (one line) a size this family cannot run."""
        if size < 1:
            raise SystemExit(f"official_compare: {self.name}: sizes must be at least 1")


class FractalDB(Family):
    """make_fractaldb.py at exe.sh's settings: 362 px, 200k points, patch_gray, weights k = 0.4, 4 flips.

    A size is canvases: up to 25, that many weight rows of one published
    category; beyond, whole categories of 25 rows. One count per weight.
    """
    name, repo = "fractaldb", "fractaldb"
    title = "FractalDB render (362 px, 200k points, patch_gray, weights 0.4, 4 flips)"
    units = ("canvas", "image")
    sizes = (2, 6, 500)

    def check(self, size):
        super().check(size)
        if size < 2:  # np.genfromtxt reads a one-row weight file as one flat row of strings
            raise SystemExit("official_compare: fractaldb: make_fractaldb.py needs 2 canvases (weight rows) at least")
        if size > 25 and size % 25:
            raise SystemExit(f"official_compare: fractaldb: {size} canvases: use up to 25 or a multiple of 25")

    def inputs(self, size):
        """A folder of `size` // 25 (at least 1) published category CSVs and a weight file of the first rows."""
        folder = self.work / f"fractaldb-{size}"
        if not folder.exists():
            categories, rows = (1, size) if size <= 25 else (size // 25, 25)
            published = sorted(glob.glob(f"{self.checkout}/data/csv_rate0.2_category1000/csv*/*.csv"))
            (folder / "params").mkdir(parents=True)
            for path in published[:categories]:
                shutil.copy(path, folder / "params")
            weights = (self.checkout / "fractal_renderer/weights/weights_0.4.csv").read_text().splitlines()
            (folder / "weights.csv").write_text("\n".join(weights[:rows]) + "\n")
        return folder / "params", folder / "weights.csv"

    def counts(self, canvases):
        return {"canvas": canvases, "image": 4 * canvases}

    def official(self, size, out):
        params, weights = self.inputs(size)
        cpu, _ = run([pins.PYTHON, self.checkout / "fractal_renderer/make_fractaldb.py",
                      "--load_root", params, "--save_root", out, "--image_size_x", 362, "--image_size_y", 362,
                      "--iteration", 200000, "--draw_type", "patch_gray", "--weight_csv", weights, "--instance", 1])
        return cpu, self.counts(pngs(out) // 4)

    def fdsl(self, size, out):
        params, weights = self.inputs(size)
        cpu, _ = fdsl("fractaldb", out, "--params", params, "--weights", weights, "--counts", 1, "--size", 362,
                      "--points", 200000)
        return cpu, self.counts(manifest_samples(out) // 4)


class Search(Family):
    """ifs_search.py (seed 1, fill rate 0.2, 100k points, 512 px): trials until `size` categories are accepted.

    Both sides draw the same stream, so they run the same trials; the count
    is fdsl's search.json (the tests hold the accepted systems equal).
    """
    name, repo = "search", "fractaldb"
    title = "FractalDB category search (seed 1, fill rate 0.2, 100k points)"
    units = ("category", "trial")
    sizes = (5, 10, 100)

    def trials(self, out):
        return json.loads((Path(out) / "search.json").read_text())["trials"]

    def official(self, size, out):
        cpu, _ = run([pins.PYTHON, self.checkout / "param_search/ifs_search.py", "--rate", 0.2,
                      "--category", size, "--numof_point", 100000, "--save_dir", out])
        return cpu, {"category": size, "trial": self.fdsl_trials(size)}

    def fdsl_trials(self, size):
        out = self.work / f"search-trials-{size}"
        if not out.exists():
            self.fdsl(size, out)
        return self.trials(out)

    def fdsl(self, size, out):
        cpu, _ = run([FDSL_GEN, "search", "fractaldb", "--categories", size, "--out", out, "--workers", "1",
                      "--quiet"])
        return cpu, {"category": size, "trial": self.trials(out)}


class OnePFrac(Family):
    """render_from_oneparam_mp.py (512 px, 100k points, delta 0.1, fill > 0.05) through onepfrac_serial.py:
    one process, base system drawn with a fixed seed and given to fdsl as --params."""
    name, repo = "1p-frac", "1p-frac"
    title = "1p-frac (512 px, 100k points, delta 0.1, sigma 3.5 base)"
    units = ("image", "chaos game")
    sizes = (2, 5, 200)

    def base(self):
        return self.work / "1p-frac-base.csv"

    def official(self, size, out):
        cpu, output = run([pins.PYTHON, HERE / "official/onepfrac_serial.py",
                           self.checkout / "1p-frac_generater/src", "--seed", ONEPFRAC_SEED,
                           "--base-csv", self.base(), "--", "--img_basesavedir", out, "--sample", size])
        games = int(re.search(r"chaos games: (\d+)", output).group(1))
        return cpu, {"image": pngs(out), "chaos game": games}

    def fdsl(self, size, out):
        if not self.base().exists():
            self.official(1, self.work / "1p-frac-base-run")
        cpu, _ = fdsl("1p-frac", out, "--params", self.base(), "--classes", size)
        attempts = [sample["attempt"] + 1 for sample in shard_samples(out)]
        return cpu, {"image": len(attempts), "chaos game": sum(attempts)}


class Contours(Family):
    """A contour family at 512 px: `categories` categories, a size is instances per category.

    Segments per image vary a hundredfold between categories, so both sides
    also count line segments: fdsl from its samples' json (vertices x
    polygons), the official script in an untimed replay through
    count_lines.py (it is seeded: the same arguments draw the same lines).
    """
    script = ""
    options = ()
    units = ("image", "line segment")

    def command(self, size, out):
        return [self.checkout / self.script, "--save_root", out, "--numof_thread", 1, "--thread_num", 0,
                "--numof_classes", self.categories, "--numof_instances", size, *self.options]

    def official(self, size, out):
        cpu, _ = run([pins.PYTHON, *self.command(size, out)])
        return cpu, {"image": pngs(out), "line segment": self.official_segments(size)}

    def official_segments(self, size):
        if size not in self.segments:
            replay = self.work / f"count-{size}"
            _, output = run([pins.PYTHON, HERE / "official/count_lines.py", *self.command(size, replay)])
            self.keep_replay(size, replay)
            shutil.rmtree(replay)
            self.segments[size] = int(re.search(r"line segments: (\d+)", output).group(1))
        return self.segments[size]

    def keep_replay(self, size, replay):
        """Keep what fdsl's run of `size` needs from the official replay of that size."""

    def fdsl(self, size, out, options=()):
        cpu, _ = fdsl(self.name, out, "--categories", self.categories, "--instances", size, "--size", 512,
                      "--min-ink", 0, *options)
        samples = list(shard_samples(out))
        return cpu, {"image": len(samples), "line segment": sum(s["vertices"] * s["polygons"] for s in samples)}


class RCDB(Contours):
    """make_rcdb.py with RCDB_render.sh's settings (their defaults), one thread of its --numof_thread split.

    fdsl renders the official runs' own categories: `--params` reads the
    param/%05d.csv files the official replay of a size writes (the script
    draws a category after the instances of the one before, so each size
    has its categories). Its small run is the official small run's
    categories and images. Its steady part is the official steady part's
    work k times over, k = large-fdsl / large-official: a base run of k x
    small images of the small run's categories and a large run of k x
    large-official images of the large run's, so that both sides' steady
    parts are the same mix of categories and line segments, and fdsl's,
    seconds long, stands above the noise of a loaded machine.
    """
    name, repo, script = "rcdb", "cvpr2022", "rcdb_render/make_rcdb.py"
    title = "RCDB (512 px)"
    sizes = (50, 100, 300)

    def fdsl_runs(self, sizes):
        small, large_official, large_fdsl = sizes
        if large_fdsl % large_official:
            raise SystemExit("official_compare: rcdb: --large-fdsl must be a multiple of --large-official")
        k = large_fdsl // large_official
        return {"small": (small, small), "base": (k * small, small), "large": (large_fdsl, large_official)}

    def keep_replay(self, size, replay):
        shutil.copytree(replay / "param", self.params(size))

    def params(self, size):
        return self.work / f"params-{size}"

    def fdsl(self, size, out, categories_of):
        """`size` images of each category of the official run of `categories_of` images."""
        self.official_segments(categories_of)  # the replay of that size writes its categories
        cpu, counts = super().fdsl(size, out, ("--params", self.params(categories_of)))
        expected = self.official_segments(categories_of) // categories_of * size
        if counts["line segment"] != expected:
            raise SystemExit(f"official_compare: rcdb: fdsl drew {counts['line segment']} line segments of the "
                             f"official categories, not the {expected} the official script draws")
        return cpu, counts


class VisualAtom(Contours):
    """render_VisualAtom.py with make_VisualAtom.sh's settings, one thread of its split."""
    name, repo, script = "visualatom", "visualatom", "visual_atomic_renderer/render_VisualAtom.py"
    title = "VisualAtom (512 px)"
    sizes = (10, 20, 100)
    options = ("--start_class", 0, "--vertex_num_min", 200, "--vertex_num_max", 1000, "--perlin_min", 0,
               "--line_num_min", 1, "--line_num_max", 200, "--line_width", 0.1, "--radius_min", 10, "--oval_rate", 2,
               "--start_pos", 512, "--nami_1_min", 0, "--nami_2_min", 0, "--nami_1_max", 20, "--nami_2_max", 20)


class MVFractalDB(Family):
    """ExFractalDB_render.sh's instance.py (145 weighted clouds of 10k points per category, PLY files) and
    render.py (12 views each, 224 px, Mesa's EGL without a display); a size is categories, drawn once by
    their category_search.py (seed 1, variance 0.05) and given to fdsl as --params."""
    name, repo = "mvfractaldb", "cvpr2022"
    title = "MV-FractalDB (224 px, 10k points, 145 clouds x 12 views per category)"
    units = ("category", "cloud", "image")
    sizes = (1, 2, 6)
    EGL = {"PYOPENGL_PLATFORM": "egl", "EGL_PLATFORM": "surfaceless"}

    def params(self, size):
        folder = self.work / "mvfractaldb-params"
        if len(glob.glob(f"{folder}/*.csv")) < size:
            run([pins.PYTHON, "3dfractal_render/category_search.py", "--variance", 0.05, "--numof_classes",
                 max(size, max(self.sizes)), "--seed", 1, "--save_root", folder], cwd=self.render_dir())
        chosen = self.work / f"mvfractaldb-params-{size}"
        if not chosen.exists():
            chosen.mkdir()
            for path in sorted(glob.glob(f"{folder}/*.csv"))[:size]:
                shutil.copy(path, chosen)
        return chosen

    def render_dir(self):
        return self.checkout / "exfractaldb_render"  # their scripts open their weight file and shaders from here

    def counts(self, categories):
        return {"category": categories, "cloud": 145 * categories, "image": 1740 * categories}

    def official(self, size, out):
        params, models = self.params(size), Path(out) / "models"
        cpu_models, _ = run([pins.PYTHON, "3dfractal_render/instance.py", "--load_root", params,
                             "--save_root", models, "--classes", size], cwd=self.render_dir(), env=self.EGL)
        cpu_images, _ = run([pins.PYTHON, "image_render/render.py", "--load_root", models,
                             "--save_root", Path(out) / "images"], cwd=self.render_dir(), env=self.EGL)
        found = pngs(Path(out) / "images")
        if found != 1740 * size:
            raise SystemExit(f"official_compare: mvfractaldb: render.py wrote {found} images, not {1740 * size}")
        return cpu_models + cpu_images, self.counts(size)

    def fdsl(self, size, out):
        cpu, _ = fdsl("mvfractaldb", out, "--params", self.params(size), "--instances", 1740)
        return cpu, self.counts(manifest_samples(out) // 1740)


FAMILIES = {f.name: f for f in (FractalDB, Search, OnePFrac, RCDB, VisualAtom, MVFractalDB)}


def manifest_samples(folder):
    manifest = json.loads((Path(folder) / "manifest.json").read_text())
    return sum(split["num_samples"] for split in manifest["splits"].values())


def measure(family, sizes, rounds):
    """{(side, run): [(cpu, counts) per round]} of the small and large runs (and fdsl's base run, where it has
    one), interleaved in every round."""
    small, large_official, _ = sizes

    def runner(side, size, *extra):
        def once():
            out = Path(tempfile.mkdtemp(dir=family.work))
            try:
                if side == "official":
                    cpu, counts = family.official(size, out)
                else:
                    cpu, counts = family.fdsl(size, out, *extra)
                written = glob.glob(f"{out}/**/*.{'png' if side == 'official' else 'tar'}", recursive=True)
                return cpu, dict(counts, bytes=sum(os.path.getsize(path) for path in written))
            finally:
                shutil.rmtree(out)
        return once

    fdsl_runs = family.fdsl_runs(sizes)
    runner("official", small)()  # untimed: builds the inputs, compiles fdsl's kernels, warms the disk cache
    runner("fdsl", *fdsl_runs["small"])()
    runs = {("official", "small"): runner("official", small), ("official", "large"): runner("official", large_official)}
    runs.update({("fdsl", run): runner("fdsl", *arguments) for run, arguments in fdsl_runs.items()})
    return interleaved(runs, rounds)


def per_unit(results, side, unit):
    """(small-run, steady) seconds per `unit` of one side, each a list over rounds; steady is the large run
    less the base run, where the side has one, else less the small run."""
    small, large = results[(side, "small")], results[(side, "large")]
    base = results.get((side, "base"), small)
    whole = [cpu / counts[unit] for cpu, counts in small]
    steady = [(cpu_l - cpu_b) / (counts_l[unit] - counts_b[unit])
              for (cpu_b, counts_b), (cpu_l, counts_l) in zip(base, large)]
    return whole, steady


def scaled(values):
    """`values` (seconds) in one unit that suits their median: (values in it, unit name)."""
    middle = abs(median(values))
    for factor, unit in ((1, "s"), (1e3, "ms"), (1e6, "µs"), (1e9, "ns")):
        if middle >= 1 / factor or unit == "ns":
            return [v * factor for v in values], unit


def cell(values):
    numbers, unit = scaled(values)
    digits = 0 if abs(median(numbers)) >= 100 else 1 if abs(median(numbers)) >= 10 else 2
    return f"{spread(numbers, digits)} {unit}"


def report(family, sizes, results, record):
    repo = pins.REPOS[family.repo]
    counts = {key: runs[0][1] for key, runs in results.items()}
    print(f"\n## {family.title}")
    print(f"official: {repo.github} @ {repo.commit[:12]} (python {record['python']}, numpy "
          f"{record['packages']['numpy']}, Pillow {record['packages']['Pillow']}); fdsl @ {git_head()}")
    for side in ("official", "fdsl"):
        runs = [f"{run} run {describe(counts[(side, run)])}" for run in ("small", "base", "large")
                if (side, run) in counts]
        print(f"{side}: {'; '.join(runs)}")
    rows = []
    for unit in family.units[1:] if family.units[0] == "category" else family.units:
        official_whole, official_steady = per_unit(results, "official", unit)
        fdsl_whole, fdsl_steady = per_unit(results, "fdsl", unit)
        rows.append((f"small run, start-up included, per {unit}", official_whole, fdsl_whole))
        rows.append((f"steady, per {unit}", official_steady, fdsl_steady))
    print("| CPU seconds (median of rounds, min to max) | official | fdsl | ratio |")
    print("| --- | --- | --- | --- |")
    for label, official, ours in rows:
        print(f"| {label} | {cell(official)} | {cell(ours)} | {ratio_spread(official, ours, 1)} |")
    if "image" in family.units:
        sizes = {side: counts[(side, "large")]["bytes"] / counts[(side, "large")]["image"]
                 for side in ("official", "fdsl")}
        print(f"bytes per image, large run: official {sizes['official']:,.0f} (PNG files), fdsl {sizes['fdsl']:,.0f} "
              "(shards: PNG, cls and json members, tar headers)")
    print(load_line())


def describe(counts):
    return ", ".join(f"{n} {plural(unit) if n != 1 else unit}" for unit, n in counts.items() if unit != "bytes")


def plural(unit):
    return {"category": "categories", "canvas": "canvases"}.get(unit, unit + "s")


def git_head():
    done = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def compile_sources(families):
    """Both sides' own modules as bytecode, untimed, as pip leaves an installed package: where
    PYTHONDONTWRITEBYTECODE is set, every run would compile them again (fdsl's: 0.05 CPU-s a run)."""
    folders = [(sys.executable, HERE.parent / "fdsl_gen")]
    folders += [(pins.PYTHON, pins.checkout(FAMILIES[name].repo)) for name in families]
    for python, folder in folders:  # a script of another Python's syntax is left as it is
        subprocess.run([str(python), "-m", "compileall", "-q", str(folder)], capture_output=True, timeout=TIMEOUT)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", default="all", choices=["all", *FAMILIES])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small", type=int, help="units of the small run, the same on both sides")
    parser.add_argument("--large-official", type=int, help="units of the official side's large run")
    parser.add_argument("--large-fdsl", type=int, help="units of fdsl's large run")
    parser.add_argument("--categories", type=int, default=20, help="rcdb and visualatom: categories of every run")
    args = parser.parse_args()
    check_rounds(args.rounds)
    chosen = list(FAMILIES) if args.family == "all" else [args.family]
    overrides = (args.small, args.large_official, args.large_fdsl)
    if args.family == "all" and any(v is not None for v in overrides):
        raise SystemExit("official_compare: --small/--large-official/--large-fdsl need one --family")
    record_path = pins.RECORD
    if not record_path.exists():
        raise SystemExit("official_compare: no official build: run `python bench/official/setup.py`")
    record = json.loads(record_path.read_text())
    print(f"official_compare: {args.rounds} interleaved rounds, {load_line()}")
    compile_sources(chosen)
    with tempfile.TemporaryDirectory(prefix="official-compare-") as work:
        for name in chosen:
            family = FAMILIES[name](Path(work) / name, args.categories)
            family.work.mkdir()
            sizes = tuple(o if o is not None else d for o, d in zip(overrides, family.sizes))
            for size in sizes:
                family.check(size)
            if not sizes[0] < min(sizes[1:]):
                raise SystemExit("official_compare: the large runs must be larger than the small one")
            report(family, sizes, measure(family, sizes, args.rounds), record)


if __name__ == "__main__":
    main()
