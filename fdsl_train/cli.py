"""`fdsl-train`: pretrain, finetune, probe, import-idx and report.

Hyper-parameter options carry timm's names; each defaults to the chosen
--preset's value. User errors print one line and exit with status 2.

Each command imports its own modules inside its function: torch and timm
take seconds to import, and `--help`, option errors and shell completion
must not wait for them.
"""
import math
import shlex
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import click

from fdsl_gen.storage import IO_TIMEOUT_VARIABLE, io_timeout
from fdsl_train import __version__, presets
from fdsl_train.data import reading, tally
from fdsl_train.errors import UserError
from fdsl_train.run.folder import RunFolder


ARGV = "fdsl_train.argv"


class _Failure(click.ClickException):
    exit_code = 2

    def show(self, file=None) -> None:
        # the same form as fdsl-gen's errors
        click.echo(f"fdsl-train: error: {self.format_message()}", err=True)


class _Group(click.Group):
    """Bad input of any kind, a UserError or a bad option, ends as one line and exit status 2."""

    def parse_args(self, ctx, args):
        ctx.meta[ARGV] = list(args)  # as typed, for the model card
        with _one_line():
            return super().parse_args(ctx, args)

    def invoke(self, ctx):
        with _one_line():
            return super().invoke(ctx)


@contextmanager
def _one_line():
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:
        raise  # a bare command asks for its help
    except (UserError, click.UsageError) as err:
        message = err.format_message() if isinstance(err, click.UsageError) else str(err)
        raise _Failure(" ".join(message.split("\n"))) from None


POSITIVE = click.IntRange(min=1)
COUNT = click.IntRange(min=0)


class Finite(click.FloatRange):
    """A float in a range that is a number: inf and nan are refused as the range's own misfits are."""

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value} is not a finite number", param, ctx)
        return super().convert(number, param, ctx)


NON_NEGATIVE = Finite(min=0)
ABOVE_ZERO = Finite(min=0, min_open=True)
SHARE = Finite(min=0, max=1)  # a probability
BELOW_ONE = Finite(min=0, max=1, max_open=True)


def _floats(count: int, above_zero: bool = False) -> Callable:
    """`count` comma-separated finite numbers (all above zero when `above_zero`)."""
    def parse(_ctx, _param, value):
        if value is None:
            return None
        try:
            numbers = tuple(float(v) for v in value.split(","))
        except ValueError:
            raise click.BadParameter(f"expected {count} comma-separated numbers") from None
        if len(numbers) != count or not all(map(math.isfinite, numbers)):
            raise click.BadParameter(f"expected {count} comma-separated finite numbers")
        if above_zero and min(numbers) <= 0:
            raise click.BadParameter(f"{value}: every number must be above 0")
        return numbers
    return parse


def _limit(_ctx, _param, value):
    try:
        tally.parse_limit(value)
    except UserError as err:
        raise click.BadParameter(str(err).split(": ", 1)[1]) from None
    return value.strip()


def _io_timeout(_ctx, _param, value):
    """--io-timeout, else the store policy's read time-out (which FDSL_IO_TIMEOUT sets)."""
    return value if value is not None else io_timeout()


def _ints(_ctx, _param, value):
    if value is None:
        return None
    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter("expected comma-separated integers") from None


def _renamed(new: str) -> Callable:
    """The callback of a hidden option that was renamed: one line naming the new one."""
    def refuse(_ctx, param, value):
        if value is not None:
            raise click.UsageError(f"{param.opts[0]} is gone: use {new}")
    return refuse


PRESET_OPTIONS = [
    click.option("--preset", default=None, type=click.Choice(presets.names()),
                 help="Hyper-parameter preset [pretrain: 1p-frac for lpce datasets, else fdsl-vit; finetune: finetune]."),
    # in fdsl a recipe is a dataset's (fdsl-gen render RECIPE): refused for one release, then gone
    click.option("--recipe", hidden=True, expose_value=False, callback=_renamed("--preset")),
    click.option("--model", default=None, help="Any timm model name."),
    click.option("--img-size", type=POSITIVE, default=None),
    click.option("-b", "--batch-size", type=POSITIVE, default=None, help="Per rank."),
    click.option("--epochs", type=POSITIVE, default=None),
    click.option("--opt", default=None, help="timm optimizer name (adamw, sgd, lamb, ...)."),
    click.option("--lr", type=ABOVE_ZERO, default=None, help="Absolute learning rate (overrides --lr-base)."),
    click.option("--lr-base", type=ABOVE_ZERO, default=None, help="Learning rate at --lr-base-size global batch."),
    click.option("--lr-base-size", type=POSITIVE, default=None),
    click.option("--momentum", type=NON_NEGATIVE, default=None),
    click.option("--weight-decay", type=NON_NEGATIVE, default=None),
    click.option("--sched", default=None, help="timm scheduler name (cosine, multistep, step, ...)."),
    click.option("--warmup-epochs", type=NON_NEGATIVE, default=None),
    click.option("--warmup-lr", type=NON_NEGATIVE, default=None),
    click.option("--min-lr", type=NON_NEGATIVE, default=None),
    click.option("--decay-milestones", callback=_ints, default=None, help="Epochs, e.g. 30,60."),
    click.option("--decay-rate", type=ABOVE_ZERO, default=None),
    click.option("--crop", type=click.Choice(["rrc", "random"]), default=None,
                 help="rrc: RandomResizedCrop (--scale); random: plain RandomCrop."),
    click.option("--scale", callback=_floats(2, above_zero=True), default=None,
                 help="RandomResizedCrop area range, e.g. 0.08,1."),
    click.option("--hflip", type=SHARE, default=None),
    click.option("--vflip", type=SHARE, default=None),
    click.option("--color-jitter", type=NON_NEGATIVE, default=None),
    click.option("--aa", default=None, help="timm auto-augment string, e.g. rand-m9-mstd0.5-inc1; '' for none."),
    click.option("--reprob", type=SHARE, default=None, help="Random erasing probability."),
    click.option("--mixup", type=NON_NEGATIVE, default=None, help="Mixup alpha (0: off)."),
    click.option("--cutmix", type=NON_NEGATIVE, default=None, help="CutMix alpha (0: off)."),
    click.option("--smoothing", type=BELOW_ONE, default=None, help="Label smoothing."),
    click.option("--drop-path", type=BELOW_ONE, default=None),
    click.option("--mean", callback=_floats(3), default=None),
    click.option("--std", callback=_floats(3, above_zero=True), default=None),
]

RUN_OPTIONS = [
    click.option("--data", required=True,
                 help="Dataset folder, manifest.json, shard list in brace notation, file/http(s)/pipe: URL, "
                      "or live:FOLDER_OR_URL / live:RECIPE?option=value&... (rendered in the workers)."),
    click.option("--output", type=click.Path(path_type=Path), default=None,
                 help="Run folder [the --resume folder, else runs/<command>, numbered -2, -3, ... when taken]."),
    click.option("--overwrite", is_flag=True, help="Replace the run that --output holds."),
    click.option("-j", "--workers", type=COUNT, default=4, show_default=True, help="Data loader workers per rank."),
    click.option("--seed", type=int, default=0, show_default=True),
    click.option("--num-classes", type=POSITIVE, default=None, help="Must match the data's when it declares one."),
    click.option("--train-split", default="train", show_default=True),
    click.option("--val-split", default="validation", show_default=True,
                 help="Falls back to val where the data has no validation split (format 1 datasets)."),
    click.option("--balance", type=click.Choice(["resample", "fail"]), default="resample", show_default=True,
                 help="When shards do not split evenly over ranks x workers: top up from other shards, or refuse."),
    click.option("--strict", is_flag=True, help="Stop at the first corrupt sample instead of skipping it."),
    click.option("--max-skipped", default=tally.DEFAULT_LIMIT, show_default=True, callback=_limit,
                 help="Stop once an epoch loses more samples: a count (100), share (0.01) or percentage (1%)."),
    click.option("--io-timeout", type=ABOVE_ZERO, default=None, callback=_io_timeout,
                 show_default=f"{reading.DEFAULT_TIMEOUT:g}, or {IO_TIMEOUT_VARIABLE} when set",
                 help="Seconds any http(s) or object-store read may wait for data (not pipe: commands)."),
    click.option("--shuffle-buffer", type=POSITIVE, default=1000, show_default=True),
    click.option("--samples-per-shard", type=POSITIVE, default=None, help="For URL lists without a manifest."),
    click.option("--cache-dir", default=None,
                 help="Keep a local copy of each http(s) shard here, checked against the manifest's sha256."),
    click.option("--checkpoint-every", type=COUNT, default=0, help="Also checkpoint every N steps (0: epochs only)."),
    click.option("--log-interval", type=POSITIVE, default=50, show_default=True),
    click.option("--amp/--no-amp", default=None, help="Mixed precision [on for GPU]."),
    click.option("--channels-last/--no-channels-last", default=None, help="[on for GPU]"),
    click.option("--gpu-augment/--no-gpu-augment", default=None,
                 help="Workers decode and crop only; flips, RandAugment, jitter, normalisation and erasing run "
                      "batched on the device [on for GPU]."),
    click.option("--torchcompile", is_flag=True, help="torch.compile the model."),
    click.option("--log-wandb", is_flag=True, help="Also log to Weights & Biases (needs the wandb package)."),
]


def _with(options):
    def decorate(func):
        for option in reversed(options):
            func = option(func)
        return func
    return decorate


def _taken(kwargs: dict, options_class) -> dict:
    """The keyword arguments that fields of `options_class` name, taken out of `kwargs`."""
    return {name: kwargs.pop(name) for name in list(kwargs) if name in options_class.__dataclass_fields__}


def _source(kwargs: dict):
    """The data options (fdsl_train.data.datasets.Source) among a command's keyword arguments, taken out."""
    from fdsl_train.data.datasets import Source

    return Source(**_taken(kwargs, Source))


def _split(command: str, kwargs: dict):
    """(preset name, preset overrides, RunOptions) from a command's keyword arguments."""
    from fdsl_train.run.session import RunOptions

    preset_name = kwargs.pop("preset")
    source = _source(kwargs)
    run_fields = _taken(kwargs, RunOptions)
    if run_fields.get("resume") and run_fields["overwrite"]:
        raise UserError("--resume continues a run and --overwrite replaces one: give only one")
    if not run_fields["output"]:
        run_fields["output"] = (RunFolder.of_resume(run_fields.get("resume")) or RunFolder.default(command)).path
    argv = click.get_current_context().meta.get(ARGV, [])
    return preset_name, kwargs, RunOptions(source=source, **run_fields, command_line=shlex.join(["fdsl-train", *argv]))


@click.group(cls=_Group)
@click.version_option(__version__)
def cli():
    """Pre-train timm models on formula-driven shards, then fine-tune or probe them."""


@cli.command()
@_with(PRESET_OPTIONS + RUN_OPTIONS)
@click.option("--resume", default=None, help="Run folder or state.pt to continue from (mid-epoch included).")
@click.option("--stop-after-steps", type=POSITIVE, default=None,
              help="Checkpoint and stop at this optimizer step (job time limits); --resume continues.")
@click.option("--fresh-epochs", is_flag=True,
              help="With --data live:...: new instances of the same classes every epoch (epoch 0 as written).")
def pretrain(**kwargs):
    """Pre-train from scratch on shards (LPCE when the manifest says loss: lpce)."""
    from fdsl_train import pretrain as pretrain_command

    pretrain_command.pretrain(*_split("pretrain", kwargs))


@cli.command()
@_with(PRESET_OPTIONS + RUN_OPTIONS)
@click.option("--pretrained", default=None, help="Run folder or model.safetensors; none trains from scratch.")
def finetune(pretrained, **kwargs):
    """Fine-tune on an ImageFolder tree (DATA/train, DATA/validation or DATA/val) or shards; top-1 per epoch."""
    from fdsl_train import finetune as finetune_command

    finetune_command.finetune(*_split("finetune", kwargs), pretrained)


@cli.command()
@click.option("--pretrained", required=True, help="Run folder or model.safetensors.")
@click.option("--data", required=True, help="ImageFolder tree (DATA/train, DATA/validation or DATA/val) or a shard dataset.")
@click.option("--layers", callback=_ints, default="1,2,3", show_default=True,
              help="Probe after the first k blocks, for each k (1-based, timm feature_info order).")
@click.option("--output", type=click.Path(path_type=Path), default=None,
              help="Run folder [runs/probe, numbered -2, -3, ... when taken].")
@click.option("--overwrite", is_flag=True, help="Replace the run that --output holds.")
@click.option("--epochs", type=POSITIVE, default=100, show_default=True, help="Epochs of the linear classifier.")
@click.option("--lr", type=ABOVE_ZERO, default=1e-3, show_default=True)
@click.option("-b", "--batch-size", type=POSITIVE, default=256, show_default=True)
@click.option("-j", "--workers", type=COUNT, default=4, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--img-size", type=COUNT, default=0, help="[the checkpoint's]")
@click.option("--train-split", default="train", show_default=True)
@click.option("--val-split", default="validation", show_default=True,
              help="Falls back to val where the data has no validation split (format 1 datasets).")
def probe(**kwargs):
    """Linear probing on the features of the first k blocks of a pre-trained model."""
    from fdsl_train import probe as probe_command

    kwargs["output"] = kwargs["output"] or RunFolder.default("probe").path
    probe_command.probe(probe_command.ProbeOptions(source=_source(kwargs), **kwargs))


@cli.command("import-idx")
@click.option("--images", type=click.Path(path_type=Path), required=True, help="IDX images (.gz or plain).")
@click.option("--labels", type=click.Path(path_type=Path), required=True, help="IDX labels (.gz or plain).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="ImageFolder split to write, e.g. DIR/train.")
@click.option("--limit", type=POSITIVE, default=None, help="Only the first N images.")
def import_idx(images, labels, out, limit):
    """Write an IDX image set (MNIST, Fashion-MNIST) as an ImageFolder split of PNG files."""
    from fdsl_train.convert import idx_to_image_folder

    click.echo(f"{idx_to_image_folder(images, labels, out, limit)} images written to {out}")


@cli.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--plot", type=click.Path(path_type=Path), default=Path("report.png"), show_default=True,
              help="PNG of every run's loss, learning rate and val top-1 against steps.")
def report(runs, plot):
    """Compare run folders: model, data digest (else name), epochs, final loss, best top-1, images/s, wall time."""
    from fdsl_train.run.report import report as report_runs

    click.echo(report_runs(runs, plot))


def main():
    cli(prog_name="fdsl-train")
