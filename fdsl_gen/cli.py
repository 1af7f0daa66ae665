"""`fdsl-gen`: search, render, verify, info, preview.

`search NAME` and `render NAME` get one sub-command per registered search or
recipe; their options are the fields of its config dataclass, plus the
options every recipe shares. User errors print one line and exit 2.
"""
import dataclasses
import io
import json
import os
import sys
import time
from pathlib import Path

import click
from tqdm import tqdm

from fdsl_gen import recipes  # noqa: F401  (registers every recipe)
from fdsl_gen.dataset import claim, dataset_command, finalize, missing_shards
from fdsl_gen.errors import UserError
from fdsl_gen.inspect import contact_sheet, summary, verify
from fdsl_gen.plan import Plan
from fdsl_gen.registry import RECIPES, SEARCHES
from fdsl_gen.runner import all_tasks, array_task_from_environment, render_shards, select_tasks

DEFAULT_ROOT = Path("shards")


def config_options(config_class):
    """click options for every field of a config dataclass (`--field-name`)."""
    def decorate(command):
        for field in reversed(dataclasses.fields(config_class)):
            flag = "--" + field.name.replace("_", "-")
            help_text = field.metadata.get("help", "")
            if field.type in (bool, "bool"):
                command = click.option(f"{flag}/--no-{flag[2:]}", field.name, default=field.default,
                                       show_default=True, help=help_text)(command)
                continue
            kind = {"int": int, "float": float, "str": str}.get(field.type, field.type)
            choices = field.metadata.get("choices")
            if choices:
                kind = click.Choice([str(c) for c in choices])
            command = click.option(flag, field.name, default=field.default, type=kind,
                                   show_default=True, help=help_text)(command)
        return command
    return decorate


def build_config(config_class, values):
    """The config dataclass from parsed options, choices cast back to the field's type."""
    kwargs = {}
    for field in dataclasses.fields(config_class):
        value = values[field.name]
        default_type = type(field.default)
        kwargs[field.name] = default_type(value) if default_type in (int, float) else value
    return config_class(**kwargs)


def fail(message):
    click.echo(f"fdsl-gen: error: {message}", err=True)
    sys.exit(2)


class Group(click.Group):
    """Turns UserError (and a missing output path) into one line and exit code 2."""

    def parse_args(self, ctx, args):
        if ctx.parent is None:
            ctx.meta["argv"] = list(args)  # the manifest records the command as typed
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as err:
            fail(err)
        except OSError as err:
            fail(f"{err.filename}: {err.strerror}" if err.filename and err.strerror else str(err))
        except click.UsageError as err:
            if isinstance(err, _NO_ARGS_IS_HELP):
                raise
            fail(f"{err.ctx.command_path if err.ctx else 'fdsl-gen'}: {err.format_message()}")


# click >= 8.2 shows a group's help through this UsageError; it stays help, not an error line.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


@click.group(cls=Group)
@click.version_option(package_name="fdsl")
def main():
    """Render formula-driven datasets into WebDataset shards."""


@main.group(cls=Group)
def search():
    """Search category parameters (writes one CSV per category)."""


@main.group(cls=Group)
def render():
    """Render a dataset into WebDataset shards."""


def common_options(command):
    options = [
        click.option("--seed", type=int, default=1, show_default=True, help="run seed: same seed, same bytes"),
        click.option("--out", type=click.Path(path_type=Path), default=None, help="output folder"),
        click.option("--workers", type=click.IntRange(min=1), default=os.cpu_count() or 1, show_default=True,
                     help="processes (threads for a search)"),
        click.option("--quiet", is_flag=True, help="no progress bar"),
    ]
    for decorate in reversed(options):
        command = decorate(command)
    return command


def parse_range(ctx, param, value):
    if value is None:
        return None
    try:
        start, stop = (int(v) for v in value.split(":"))
    except ValueError:
        raise click.BadParameter("expected A:B, e.g. 0:100") from None
    return start, stop


def render_options(command):
    options = [
        click.option("--name", "dataset_name", default=None, help="dataset name (default: the recipe's)"),
        click.option("--samples-per-shard", type=int, default=1000, show_default=True),
        click.option("--val-fraction", type=float, default=0.0, show_default=True,
                     help="share of each class's groups written to a separate val split"),
        click.option("--shards", "shard_range", callback=parse_range, default=None, metavar="A:B",
                     help="render only shards A..B-1 (train shards first, then val)"),
        click.option("--task-index", type=int, default=None,
                     help="render this array task's share [default: SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX]"),
        click.option("--num-tasks", type=int, default=None,
                     help="number of array tasks [default: SLURM_ARRAY_TASK_COUNT]"),
        click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True),
        click.option("--scheduler", default=None, help="Dask scheduler address (with --engine dask)"),
    ]
    for decorate in reversed(options):
        command = decorate(command)
    return common_options(command)


def add_render_command(name, recipe_class):
    @render.command(name, help=(recipe_class.__doc__ or recipe_class.name).strip().splitlines()[0])
    @render_options
    @config_options(recipe_class.Config)
    def command(seed, out, workers, quiet, dataset_name, samples_per_shard, val_fraction,
                shard_range, task_index, num_tasks, engine, scheduler, **values):
        name = recipe_class.name if dataset_name is None else dataset_name
        run = RenderRun(out or DEFAULT_ROOT / name, workers, quiet, name, engine_address(engine, scheduler))
        recipe = recipe_class(build_config(recipe_class.Config, values), seed, progress=_search_progress(quiet))
        plan = Plan(recipe.num_classes, recipe.samples_per_class, recipe.group_size, seed,
                    samples_per_shard, val_fraction)
        run.render(recipe, plan, task_selection(plan, shard_range, task_index, num_tasks))
    return command


def engine_address(engine, scheduler):
    if engine == "dask" and not scheduler:
        raise UserError("--engine dask needs --scheduler ADDRESS (e.g. tcp://head-node:8786)")
    if engine == "local" and scheduler:
        raise UserError("--scheduler goes with --engine dask")
    return scheduler


def task_selection(plan, shard_range, task_index, num_tasks):
    env_index, env_count = array_task_from_environment()
    if task_index is None and env_index is not None:
        task_index = env_index
        if num_tasks is None and env_count is None:
            raise UserError("JOB_COMPLETION_INDEX is set: give --num-tasks (the job's completions)")
    if num_tasks is None:
        num_tasks = env_count
    return select_tasks(all_tasks(plan), shard_range, task_index, num_tasks)


@dataclasses.dataclass
class RenderRun:
    folder: Path
    workers: int
    quiet: bool
    name: str
    scheduler: str = None

    def render(self, recipe, plan, tasks):
        started = time.time()
        argv = click.get_current_context().find_root().meta.get("argv", sys.argv[1:])
        claim(self.folder, recipe, plan, self.name, dataset_command(argv))
        records = render_shards(recipe, plan, self.folder, self.name, tasks, self.workers, self.quiet,
                                self.scheduler)
        missing, _ = missing_shards(self.folder, records)
        if missing:
            self.say(f"{self.folder}: {len(records)} shards of this run finished, {len(missing)} left "
                     "in the dataset; the run that finishes the last one writes the manifest "
                     "(or run: fdsl-gen finalize DIR)")
            return
        manifest = finalize(self.folder, records, preview_png)
        total = sum(s["num_samples"] for s in manifest["splits"].values())
        self.say(f"{self.folder}: {total} images, {manifest['num_classes']} classes, "
                 f"{sum(len(s['shards']) for s in manifest['splits'].values())} shards "
                 f"in {time.time() - started:.1f} s")

    def say(self, line):
        if not self.quiet:
            click.echo(line, err=True)


def preview_png(folder):
    sheet, _ = contact_sheet(folder)
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()


def _search_progress(quiet, total=None):
    """A callback for slow set-up loops (category searches): a bar that closes at `total`."""
    if quiet:
        return None
    bar = None

    def update(index, *details):
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="cat", desc="categories", file=sys.stderr, dynamic_ncols=True)
        bar.update(1)
        if details:
            bar.set_postfix(trials=details[-1])
        if bar.n == total:
            bar.close()
    return update


def add_search_command(name, search_class):
    @search.command(name, help=(search_class.__doc__ or name).strip().splitlines()[0])
    @common_options
    @config_options(search_class.Config)
    def command(seed, out, workers, quiet, **values):
        run_search(search_class, build_config(search_class.Config, values), seed, out, workers, quiet)
    return command


def run_search(search_class, config, seed, out, workers, quiet):
    folder = out or DEFAULT_ROOT / f"{search_class.name}-params"
    record = {"search": search_class.name, "seed": seed, "config": dataclasses.asdict(config)}
    runner = search_class(config, seed)
    _claim_search_folder(folder, record)
    started = time.time()
    progress = _search_progress(quiet, config.categories)
    result = runner.run(folder, workers, progress or (lambda *args: None))
    record.update(result, seconds=round(time.time() - started, 2))
    (folder / "search.json").write_text(json.dumps(record, indent=1) + "\n")
    if not quiet:
        click.echo(f"{folder}: {config.categories} categories from {result['trials']} trials "
                   f"in {record['seconds']} s", err=True)


def _claim_search_folder(folder, record):
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create output folder {folder}: {err.strerror}") from None
    previous = folder / "search.json"
    if previous.exists():
        held = json.loads(previous.read_text())
        if {k: held.get(k) for k in ("search", "seed", "config")} != record:
            raise UserError(f"{folder} holds the result of another search; choose another --out")
    elif any(folder.glob("*.csv")):
        raise UserError(f"{folder} already holds .csv files; choose another --out")


for _name, _class in sorted(RECIPES.items()):
    add_render_command(_name, _class)
for _name, _class in sorted(SEARCHES.items()):
    add_search_command(_name, _class)


@main.command("verify")
@click.argument("folder")
def verify_command(folder):
    """Check checksums, sample decoding and counts of a dataset folder or http(s) URL."""
    problems = verify(folder)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(1)
    click.echo(f"{folder}: ok")


@main.command("finalize")
@click.argument("folder", type=click.Path(path_type=Path))
def finalize_command(folder):
    """Write manifest, _info.json, SHA256SUMS and card once every shard of FOLDER is finished."""
    manifest = finalize(folder, preview=preview_png)
    click.echo(f"{folder}: complete, {sum(s['num_samples'] for s in manifest['splits'].values())} images")


@main.command("info")
@click.argument("folder", type=click.Path(path_type=Path))
def info_command(folder):
    """Counts, classes, size on disk and config of a dataset folder."""
    click.echo("\n".join(summary(folder)))


@main.command("preview")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None, help="PNG path (default FOLDER/preview.png)")
@click.option("--classes", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--per-class", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--split", default="train", show_default=True)
def preview_command(folder, out, classes, per_class, split):
    """Write a contact sheet: one row per class, several samples each."""
    sheet, shown = contact_sheet(folder, classes, per_class, split=split)
    out = out or folder / "preview.png"
    sheet.save(out)
    click.echo(f"{out}: classes {', '.join(map(str, shown))}")
