"""The options of every recipe and search: one frozen dataclass each, one field per CLI option.

A field's metadata holds its help text, choices and bounds; `fdsl_gen.options`
parses a field's text by it, and `check_options` enforces the bounds when a
recipe or search is built. `DatasetOptions` are the options every recipe's
dataset has besides its config. This module imports no
kernel, so that listing recipes and their options (`--help`) is instant; the
registry (`fdsl_gen/recipes/__init__.py`) pairs each config with the class
that renders it. The docstring's first line is the command's summary.
"""
import dataclasses
import importlib
from dataclasses import dataclass

from fdsl_gen import options

# Upper bounds that keep one image, one point cloud and one dataset plan in memory.
MAX_SIZE = 8192
MAX_POINTS = 10_000_000
MAX_CLASSES = 1_000_000
MAX_SAMPLES_PER_CLASS = 1_000_000
MAX_SEED = 2**63 - 1
MAX_SAMPLES_PER_SHARD = 100_000  # a shard is assembled in memory


def option(default, help, choices=None, low=None, high=None):
    """A config field that is also a CLI option (`--field-name`), valid in [low, high]."""
    meta = {"help": help, "low": low, "high": high}
    if choices:
        meta["choices"] = tuple(choices)
    return dataclasses.field(default=default, metadata=meta)


def input_path(help):
    """A config field naming an input file or folder: its content, not its spelling, shapes the output."""
    return dataclasses.field(default="", metadata={"help": help, "low": None, "high": None, "path": True})


def path_fields(config):
    """Names of the fields of `config` that name input files."""
    return {field.name for field in dataclasses.fields(config) if field.metadata.get("path")}


def check_options(config, seed):
    """Raise UserError, naming the option, for the first value out of its declared bounds."""
    options.check_values(DatasetOptions, {"seed": seed})
    options.check_values(type(config), dataclasses.asdict(config))


@dataclass(frozen=True)
class DatasetOptions:
    """What every recipe's dataset has besides its config: `render_dataset`'s keywords, `fdsl-gen render`'s options."""
    seed: int = option(1, "run seed: same seed, same bytes", low=0, high=MAX_SEED)
    name: str = option(None, "dataset name (default: the recipe's)")
    samples_per_shard: int = option(1000, "images per shard file", low=1, high=MAX_SAMPLES_PER_SHARD)
    val_fraction: float = option(0.0, "share of each class's groups written to a separate validation split",
                                 low=0, high=1)


# Each recipe's and search's config lives in the module of its family, imported when the config is
# first named (`fdsl_gen.configs.RCDBConfig`), so that a command makes the dataclasses it uses and not
# all fourteen: making a dataclass costs about 3 CPU-ms, most of a render's own start-up.
HOMES = {
    "FractalDBSearchConfig": "searches",
    "ExFractalDBSearchConfig": "searches",
    "FractalDBConfig": "ifs2d",
    "OFDBConfig": "ifs2d",
    "OnePFracConfig": "ifs2d",
    "Real1PConfig": "real1p",
    "ProjectedConfig": "ifs3d",
    "ExFractalDBConfig": "ifs3d",
    "MVFractalDBConfig": "ifs3d",
    "ContourConfig": "contours",
    "RCDBConfig": "contours",
    "VisualAtomConfig": "contours",
    "PerlinConfig": "textures",
    "BezierConfig": "textures",
}


def __getattr__(name):
    if name not in HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{HOMES[name]}"), name)
