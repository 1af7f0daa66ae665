"""`fdsl-gen`: search, render, finalize, verify, info, preview, urls, publish.

`search NAME` and `render NAME` get one sub-command per registered search or
recipe; their options are the fields of its config dataclass, plus the
options every recipe shares, each parsed by fdsl_gen.options. User errors
print one line and exit 2, the parameters they name spelled as flags.

Start-up is paid by every help screen, shell completion and array task, so
this module imports only click and the registry: each command imports what
it needs when it runs, and the recipe and search commands are made from the
registry when they are asked for.
"""
import atexit
import os
import sys
from pathlib import Path

import click

from fdsl_gen import options, registry
from fdsl_gen.clients import MAX_SIGNED_SECONDS, shard_urls
from fdsl_gen.contract import PREVIEW
from fdsl_gen.errors import RenderIncomplete, UserError
from fdsl_gen.storage import is_url, open_store


class FieldType(click.ParamType):
    """The values of one options field, parsed and checked by fdsl_gen.options."""

    def __init__(self, field):
        self.field, self.choices = field, field.metadata.get("choices")
        self.name = {int: "integer", float: "float"}.get(options.kind(field), "text")

    def convert(self, value, param, ctx):
        return options.parse(self.field, value) if isinstance(value, str) else value  # defaults are values

    def get_metavar(self, param, ctx=None):
        return f"[{'|'.join(map(str, self.choices))}]" if self.choices else self.name.upper()

    def shell_complete(self, ctx, param, incomplete):
        from click.shell_completion import CompletionItem
        return [CompletionItem(str(c)) for c in self.choices or () if str(c).startswith(incomplete)]


def field_option(field):
    """The click option of one options field (`--field-name`; a yes/no field: `--name/--no-name`)."""
    flag = options.flag(field.name)
    help_text = field.metadata.get("help", "")
    if options.kind(field) is bool:
        return click.option(f"{flag}/--no-{flag[2:]}", field.name, default=field.default, show_default=True,
                            help=help_text)
    return click.option(flag, field.name, default=field.default, type=FieldType(field), show_default=True,
                        help=help_text)


def config_options(config_class):
    """click options for every field of a config dataclass (`--field-name`)."""
    def decorate(command):
        for field in reversed(options.fields(config_class).values()):
            command = field_option(field)(command)
        return command
    return decorate


def fail(message, status=2):
    one_line = " ".join(line.strip() for line in str(message).splitlines())  # library messages may span lines
    click.echo(f"fdsl-gen: error: {one_line}", err=True)
    sys.exit(status)


class Group(click.Group):
    """Turns UserError (the parameters it names spelled as flags) and a missing output path into one
    line and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as err:
            fail(err.spelled(options.flag))
        except RenderIncomplete as err:
            fail(f"{err}; run the same command again to resume", status=1)
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


def run():
    """The `fdsl-gen` program: `main`, then the process ends without the interpreter's teardown.

    A render leaves numba, LLVM and numpy loaded, and freeing their objects one by one at exit costs
    0.1-0.15 CPU-s, a fifth of a small render. Nothing is lost by skipping it: every file is written
    whole and closed by then, locks end with the process, exit handlers still run and the output is
    flushed. An exception that is not a SystemExit (a bug) ends the process the ordinary way.
    """
    # numpy's OpenBLAS starts a thread per core when it is imported, and they spin a while: 0.1 CPU-s of
    # a render's start-up that fdsl-gen, which does no large linear algebra, never uses. A user's own
    # setting wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        main(prog_name="fdsl-gen")
    except SystemExit as done:
        status = done.code
    else:
        status = 0
    if status is None:
        status = 0
    elif not isinstance(status, int):
        print(status, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()  # what the teardown would run: logging's flush, temporary folders' removal
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe (`fdsl-gen info | head -1`), as Python reports it at exit
        status = status or 120
    os._exit(status)


class Location(click.ParamType):
    """A folder path (as a Path) or an fsspec URL (as a str)."""
    name = "PATH|URL"

    def convert(self, value, param, ctx):
        return value if isinstance(value, Path) or is_url(value) else Path(value)


OUT = Location()


def common_options(command):
    """--out, --workers and --quiet; `render` and `search` each add their --seed."""
    decorators = [
        click.option("--out", type=OUT, default=None, help="output folder or fsspec URL (s3://bucket/prefix)"),
        click.option("--workers", type=click.IntRange(min=1), default=os.cpu_count() or 1, show_default=True,
                     help="processes (threads for a search)"),
        click.option("--quiet", is_flag=True, help="no progress bar"),
    ]
    for decorate in reversed(decorators):
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
    """The dataset's own options (configs.DatasetOptions), --out, --workers, --quiet, then the other
    run options (pipeline.RunOptions's fields)."""
    from fdsl_gen.configs import DatasetOptions
    decorators = [
        click.option("--shards", "shard_range", callback=parse_range, default=None, metavar="A:B",
                     help="render only shards A..B-1 (train shards first, then validation)"),
        click.option("--task-index", type=int, default=None,
                     help="render this array task's share [default: SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX]"),
        click.option("--num-tasks", type=int, default=None,
                     help="number of array tasks [default: SLURM_ARRAY_TASK_COUNT]"),
        click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True),
        click.option("--scheduler", default=None, help="Dask scheduler address (with --engine dask)"),
    ]
    for decorate in reversed(decorators):
        command = decorate(command)
    return config_options(DatasetOptions)(common_options(command))


def render_command(recipe, entry):
    @click.command(recipe, help=entry.summary)
    @render_options
    @config_options(entry.config)
    def command(seed, name, samples_per_shard, val_fraction, out, workers, quiet, shard_range, task_index,
                num_tasks, engine, scheduler, **values):
        from fdsl_gen import pipeline
        run = pipeline.RunOptions(workers=workers, quiet=quiet, shards=shard_range, task_index=task_index,
                                  num_tasks=num_tasks, engine=engine, scheduler=scheduler)
        pipeline.render_dataset(recipe, out, seed=seed, name=name, samples_per_shard=samples_per_shard,
                                val_fraction=val_fraction, run=run, **values)
    return command


def search_command(name, entry):
    from fdsl_gen.configs import DatasetOptions

    @click.command(name, help=entry.summary)
    @field_option(options.fields(DatasetOptions)["seed"])
    @common_options
    @config_options(entry.config)
    def command(seed, out, workers, quiet, **values):
        from fdsl_gen import pipeline
        pipeline.run_search(name, out, seed=seed, workers=workers, quiet=quiet, **values)
    return command


class RegistryGroup(Group):
    """One sub-command per registered recipe or search, made when it is asked for."""

    def __init__(self, *args, kind, make, **attrs):
        super().__init__(*args, **attrs)
        self.kind, self.make = kind, make

    def list_commands(self, ctx):
        return sorted(registry.entries(self.kind))

    def get_command(self, ctx, name):
        entry = registry.entries(self.kind).get(name)
        return self.make(name, entry) if entry else None


@main.group(cls=RegistryGroup, kind="search", make=search_command)
def search():
    """Search category parameters (writes one CSV per category)."""


@main.group(cls=RegistryGroup, kind="recipe", make=render_command)
def render():
    """Render a dataset into WebDataset shards."""


@main.command("verify")
@click.argument("folder")
def verify_command(folder):
    """Check checksums, sample decoding and counts of a dataset folder or URL (s3://, http(s)://)."""
    from fdsl_gen.readback import verify
    problems = verify(folder)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(1)
    click.echo(f"{folder}: ok")


@main.command("finalize")
@click.argument("folder", type=OUT)
def finalize_command(folder):
    """Write manifest, _info.json, card, preview and SHA256SUMS once every shard of FOLDER is finished."""
    from fdsl_gen import pipeline
    manifest = pipeline.finalize_dataset(folder)
    click.echo(f"{folder}: complete, {sum(s['num_samples'] for s in manifest['splits'].values())} images")


@main.command("info")
@click.argument("folder", type=OUT)
def info_command(folder):
    """Counts, classes, stored size and config of a dataset folder or URL."""
    from fdsl_gen.readback import summary
    click.echo("\n".join(summary(folder)))


@main.command("preview")
@click.argument("folder", type=OUT)
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="PNG file (default: preview.png in the dataset); missing folders on its path are created")
@click.option("--classes", type=int, default=8, show_default=True)
@click.option("--per-class", type=int, default=8, show_default=True)
@click.option("--split", default="train", show_default=True)
def preview_command(folder, out, classes, per_class, split):
    """Write a contact sheet: one row per class, several samples each."""
    if out is not None and out.is_dir():
        raise UserError(f"--out {out} is a folder; give the path of a .png file")
    from fdsl_gen import pipeline
    png, shown = pipeline.preview_png(folder, classes, per_class, split)
    if out is None:
        open_store(folder).put(PREVIEW, png)
        out = f"{folder}/{PREVIEW}"
    else:
        open_store(out.parent).put(out.name, png)
    click.echo(f"{out}: classes {', '.join(map(str, shown))}")


@main.command("urls")
@click.argument("location", type=OUT)
@click.option("--split", default="train", show_default=True)
@click.option("--presign", type=click.IntRange(1, MAX_SIGNED_SECONDS), default=None, metavar="SECONDS",
              help="signed https URLs, valid SECONDS, that clients without credentials or s3:// support read")
def urls_command(location, split, presign):
    """Print the URL of every shard of a split of the dataset at LOCATION, one a line."""
    click.echo("\n".join(shard_urls(location, split, presign)))


@main.command("publish")
@click.argument("folder", type=click.Path(path_type=Path))
@click.argument("url", type=OUT)
@click.option("--quiet", is_flag=True, help="no progress bar")
def publish_command(folder, url, quiet):
    """Upload the finished dataset FOLDER to URL (s3://bucket/prefix); skips what is there already."""
    from fdsl_gen.progress import progress
    from fdsl_gen.publish import plan_upload, publish
    plan = plan_upload(folder, url)
    with progress(len(plan), desc="publish", unit="file", disable=quiet) as bar:
        uploaded, sent = publish(folder, url, plan, lambda size: bar.update(1))
    click.echo(f"{url}: complete, {uploaded} files uploaded ({sent / 2**20:.1f} MiB)")
