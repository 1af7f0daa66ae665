"""Render a dataset or run a search from Python, the stages in a row, without the CLI.

    from fdsl_gen.pipeline import render_dataset
    render_dataset("rcdb", "shards/rcdb-small", categories=10, instances=20, size=128)

recipe (built by name) -> plan (samples to shards) -> claim the folder ->
runner (local processes or Dask; each shard: render, encode, tar, write) ->
finalize (manifest, checksums, card, preview). `fdsl-gen` is a thin click
layer over `render_dataset` and `run_search`.
"""
import dataclasses
import json
import shlex
import sys
import time
from pathlib import Path

from fdsl_gen.configs import DatasetOptions
from fdsl_gen.errors import SearchExhausted, UserError
from fdsl_gen.lifecycle import claim, finalize, missing_shards
from fdsl_gen.options import command_words
from fdsl_gen.readback import contact_sheet, manifest_sheet, png_bytes
from fdsl_gen.plan import Plan, check_plan_options
from fdsl_gen.registry import create_recipe, create_search, lookup
from fdsl_gen.runner import all_tasks, array_task_from_environment, render_shards, select_tasks

DEFAULT_ROOT = Path("shards")


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How a render works; none of it changes a byte of the dataset. Its fields (with `out`, where the
    dataset goes) are the run options of `fdsl-gen render`, which the manifest's command leaves out."""
    workers: int = 1
    quiet: bool = True
    shards: tuple = None  # (start, stop): render only these shards
    task_index: int = None  # with num_tasks: render every num_tasks-th shard from task_index
    num_tasks: int = None
    engine: str = "local"  # local processes, or "dask": the cluster of `scheduler`
    scheduler: str = None  # the Dask scheduler's address (tcp://head-node:8786)

    def __post_init__(self):
        if self.engine not in ("local", "dask"):
            raise UserError(f"engine must be local or dask, not {self.engine!r}", options="engine")
        if self.engine == "dask" and not self.scheduler:
            raise UserError("engine dask needs scheduler ADDRESS (e.g. tcp://head-node:8786)",
                            options=("engine", "scheduler"))
        if self.engine == "local" and self.scheduler:
            raise UserError("scheduler goes with engine dask", options=("scheduler", "engine"))


def render_dataset(recipe, out=None, *, seed=1, name=None, samples_per_shard=1000, val_fraction=0.0,
                   run=RunOptions(), **options):
    """Render the registered recipe `recipe` with config `options` into folder or URL `out`.

    Returns the manifest, or None when shards of the dataset remain for other
    tasks (job arrays). The manifest records the `fdsl-gen render` line that
    makes the dataset (`render_command`).
    """
    started = time.time()
    name = recipe if name is None else name
    folder = out if out is not None else DEFAULT_ROOT / name  # a path or a URL (s3://bucket/prefix)
    check_plan_options(seed, samples_per_shard, val_fraction)
    built = create_recipe(recipe, seed=seed, progress=None if run.quiet else category_progress(),
                          threads=run.workers, **options)
    plan = Plan.of(built, seed, samples_per_shard, val_fraction)
    tasks = task_selection(plan, run)
    command = render_command(recipe, seed, name, samples_per_shard, val_fraction, options)
    with claim(folder, built, plan, name, command) as digest:
        records = render_shards(built, plan, folder, name, digest, tasks, run.workers, run.quiet, run.scheduler)
        missing, _ = missing_shards(folder, records)
        if missing:
            say(run, f"{folder}: {len(records)} shards of this run finished, {len(missing)} left "
                     "in the dataset; the run that finishes the last one writes the manifest "
                     "(or run: fdsl-gen finalize DIR)")
            return None
        manifest = finalize_dataset(folder, records)
    total = sum(s["num_samples"] for s in manifest["splits"].values())
    say(run, f"{folder}: {total} images, {manifest['num_classes']} classes, "
             f"{sum(len(s['shards']) for s in manifest['splits'].values())} shards "
             f"in {time.time() - started:.1f} s")
    return manifest


def finalize_dataset(folder, records=()):
    """_info.json, card, preview, SHA256SUMS and, last, the manifest once every shard is finished."""
    return finalize(folder, records, lambda store, manifest, already_read: png_bytes(
        manifest_sheet(store, manifest, already_read=already_read)[0]))


def preview_png(location, classes=8, per_class=8, split="train"):
    """The PNG bytes of a contact sheet, and the classes it shows."""
    sheet, shown = contact_sheet(location, classes, per_class, split=split)
    return png_bytes(sheet), shown


def task_selection(plan, run):
    """The shards this process renders: a range, an array task's share, or all."""
    env_index, env_count = array_task_from_environment()
    task_index, num_tasks = run.task_index, run.num_tasks
    if task_index is None and env_index is not None:
        task_index = env_index
        if num_tasks is None and env_count is None:
            raise UserError("JOB_COMPLETION_INDEX is set: give num_tasks (the job's completions)",
                            options="num_tasks")
    if num_tasks is None:
        num_tasks = env_count
    return select_tasks(all_tasks(plan), run.shards, task_index, num_tasks)


def render_command(recipe, seed, name, samples_per_shard, val_fraction, options):
    """The `fdsl-gen render` line that makes this dataset, as its manifest records it: one spelling
    whether it was rendered by the CLI or from Python. The dataset's own options always, then the
    config options not at their defaults, in the config's order; no run option (`run`, `out`)."""
    dataset = {"seed": seed, "name": name, "samples_per_shard": samples_per_shard, "val_fraction": val_fraction}
    return shlex.join(["fdsl-gen", "render", recipe, *command_words(DatasetOptions, dataset, defaults=True),
                       *command_words(lookup("recipe", recipe).config, options)])


def run_search(search, out=None, *, seed=1, workers=1, quiet=True, **options):
    """Run the registered search `search` into folder `out` (one CSV per category); returns its record."""
    runner = create_search(search, seed=seed, **options)
    folder = Path(out) if out is not None else DEFAULT_ROOT / f"{search}-params"
    record = {"search": search, "seed": seed, "config": dataclasses.asdict(runner.config)}
    claim_search_folder(folder, record)
    started = time.time()
    progress = None if quiet else category_progress(runner.config.categories)
    try:
        result = runner.run(folder, workers, progress or (lambda *args: None))
    except SearchExhausted:
        for partial in folder.glob("[0-9][0-9][0-9][0-9][0-9].csv"):
            partial.unlink()  # a part of the set would pass for the whole of it
        raise
    record.update(result, seconds=round(time.time() - started, 2))
    (folder / "search.json").write_text(json.dumps(record, indent=1) + "\n")
    if not quiet:
        print(f"{folder}: {runner.config.categories} categories from {result['trials']} trials "
              f"in {record['seconds']} s", file=sys.stderr)
    return record


def claim_search_folder(folder, record):
    """Create `folder`, or accept it when it holds this very search (a re-run); refuse other contents."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create output folder {folder}: {err.strerror}") from None
    previous = folder / "search.json"
    if previous.exists():
        held = json.loads(previous.read_text())
        if {k: held.get(k) for k in ("search", "seed", "config")} != record:
            raise UserError(f"{folder} holds the result of another search; choose another folder as out",
                            options="out")
    elif any(folder.glob("*.csv")):
        raise UserError(f"{folder} already holds .csv files; choose another folder as out", options="out")


def category_progress(total=None):
    """A callback for slow set-up loops (category searches): a bar that closes at `total`."""
    bar = None

    def update(index, *details):
        nonlocal bar
        if bar is None:
            from tqdm import tqdm  # here: a quiet run does not pay its import
            bar = tqdm(total=total, unit="cat", desc="categories", file=sys.stderr, dynamic_ncols=True)
        bar.update(1)
        if details:
            bar.set_postfix(trials=details[-1])
        if bar.n == total:
            bar.close()
    return update


def say(run, line):
    if not run.quiet:
        print(line, file=sys.stderr)
