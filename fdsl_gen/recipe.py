"""What every dataset recipe provides: a pure function of (config, seed, class, group).

A recipe has `num_classes` classes of `samples_per_class` samples each.
Samples j of one class are rendered in groups of `group_size` (j // group_size
is the group), so work shared by a group (a point set, a canvas that is
flipped four ways) is done once. Every random draw of a group comes from
`group_seed(cls, group)`, so any group can be rendered anywhere, in any order.
"""
import dataclasses
import hashlib
import json
import math

import numpy as np

from fdsl_gen.errors import UserError

# Upper bounds that keep one image, one point cloud and one dataset plan in memory.
MAX_SIZE = 8192
MAX_POINTS = 10_000_000
MAX_CLASSES = 1_000_000
MAX_SAMPLES_PER_CLASS = 1_000_000
MAX_SEED = 2**63 - 1


def derive_seed(*words):
    """A 64-bit seed from integers, stable across platforms and numpy versions."""
    return int(np.random.SeedSequence([int(w) for w in words]).generate_state(1, np.uint64)[0])


def option(default, help, choices=None, low=None, high=None):
    """A config field that is also a CLI option (`--field-name`), valid in [low, high]."""
    meta = {"help": help, "low": low, "high": high}
    if choices:
        meta["choices"] = tuple(choices)
    return dataclasses.field(default=default, metadata=meta)


def check_options(config, seed):
    """Raise UserError, naming the option, for the first value out of its declared bounds."""
    check_bounds("--seed", seed, 0, MAX_SEED)
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            check_bounds("--" + field.name.replace("_", "-"), value, field.metadata.get("low"),
                         field.metadata.get("high"))


def check_bounds(flag, value, low=None, high=None):
    """One line naming `flag` when `value` is not finite or lies outside [low, high]."""
    if isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{flag} must be a finite number, not {value}")
    if low is not None and value < low:
        raise UserError(f"{flag} must be at least {_number(low)}, not {_number(value)}")
    if high is not None and value > high:
        raise UserError(f"{flag} must be at most {_number(high)}, not {_number(value)}")


def _number(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


class Recipe:
    """The contract of a dataset recipe.

    Subclasses set `Config`, a frozen dataclass whose fields are the
    recipe's options; it declares `size` and `instances` (images per class),
    which the defaults of `image_shape` and `samples_per_class` read. They
    implement `num_classes` and `render_group`, and may narrow `levels`.
    """

    name = ""  # the registered name
    Config = None
    loss = "ce"  # the training loss the manifest names: "ce", or "lpce" for one-fractal datasets
    group_size = 1
    # The sorted grey levels any image may hold, or None to find them per
    # image; a hint lets the encoder skip the scan, and an image outside it
    # is refused (see encode.check_levels).
    levels = None

    def __init__(self, config, seed, progress=None):
        """`progress(index, ...)`, when given, is called as slow set-up work advances."""
        check_options(config, seed)
        self.config = config
        self.seed = seed

    @property
    def num_classes(self):
        raise NotImplementedError

    @property
    def samples_per_class(self):
        """Images per class: the config's `instances` unless a recipe says otherwise."""
        return self.config.instances

    @property
    def image_shape(self):
        """(height, width, channels) of every image: grey `size` x `size` unless a recipe says otherwise."""
        return self.config.size, self.config.size, 1

    def render_group(self, cls, group):
        """[(image uint8 HxW or HxWx3, meta dict)] for the group's samples, in j order."""
        raise NotImplementedError

    def group_seed(self, cls, group):
        return derive_seed(self.seed, cls, group)

    def group_samples(self, group):
        """How many samples group `group` of a class holds (the last may be short)."""
        return min(self.group_size, self.samples_per_class - group * self.group_size)

    def describe(self):
        """The resolved config as JSON-able data, written into manifest.json."""
        return dataclasses.asdict(self.config)

    def extra_files(self):
        """{relative path: bytes} stored beside the shards (e.g. parameter files)."""
        return {}

    def fingerprint(self):
        """Changes whenever anything that shapes the output changes."""
        digest = hashlib.sha256()
        digest.update(json.dumps([self.name, self.seed, self.describe()], sort_keys=True).encode())
        for path, data in sorted(self.extra_files().items()):
            digest.update(path.encode())
            digest.update(data)
        return digest.hexdigest()


class Search:
    """The contract of a parameter search: categories written as CSV files into a folder.

    `Config` is a frozen dataclass of the search's options that declares
    `categories`; a search's result depends on its config and seed only,
    never on the number of threads.
    """

    name = ""  # the registered name
    Config = None

    def __init__(self, config, seed):
        check_options(config, seed)
        self.config = config
        self.seed = seed

    def run(self, out, threads, on_accept):
        """Write `%05d.csv` per accepted category into folder `out`, calling
        `on_accept(index, system, score, trials)` for each; returns a JSON-able
        summary with at least `trials`."""
        raise NotImplementedError
