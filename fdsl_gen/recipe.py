"""What every dataset recipe provides: a pure function of (config, seed, class, group).

A recipe has `num_classes` classes of `samples_per_class` samples each.
Samples j of one class are rendered in groups of `group_size` (j // group_size
is the group), so work shared by a group (a point set, a canvas that is
flipped four ways) is done once. Every random draw of a group comes from
`group_seed(cls, group)`, so any group can be rendered anywhere, in any order.
"""
import copy
import dataclasses
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.random.bit_generator import ISeedSequence

from fdsl_gen.configs import check_options, path_fields
from fdsl_gen.params import write_system

def resolve_classes(resolve, count, threads, progress=None, report=None):
    """[resolve(0), ..., resolve(count - 1)], computed on `threads` threads (the kernels
    release the GIL); `progress(index, *report(result))` is called after each, in order."""
    results = []
    with ThreadPoolExecutor(threads) as pool:
        for index, result in enumerate(pool.map(resolve, range(count))):
            results.append(result)
            if progress is not None:
                progress(index, *report(result))
    return results


def derive_seed(*words):
    """A 64-bit seed from integers in [0, 2**64), stable across platforms and numpy versions: numpy's
    `SeedSequence(words).generate_state(1, uint64)[0]`, computed by a kernel (fdsl_gen/formulas/seeds.py)."""
    from fdsl_gen.formulas.seeds import seed_of  # numba loads with the first draw, not with this module
    return int(seed_of(np.array(words, np.uint64)))


def generator(seed):
    """The generator `np.random.default_rng(seed)` gives for a seed in [0, 2**64), at a sixth of its cost."""
    from fdsl_gen.formulas.seeds import pcg64_words
    return np.random.Generator(np.random.PCG64(_Drawn(pcg64_words(np.uint64(seed)))))


class _Drawn(ISeedSequence):
    """A seed sequence whose output is already drawn: the 4 words PCG64 asks of `SeedSequence(seed)`."""

    def __init__(self, words):
        self.words = words

    def generate_state(self, n_words, dtype=np.uint32):
        if n_words != len(self.words) or np.dtype(dtype) != np.uint64:
            raise ValueError(f"{n_words} words of {np.dtype(dtype)} asked for; {len(self.words)} uint64 drawn")
        return self.words


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
    epoch = 0  # fresh instances: the epoch the per-instance draws take (see for_epoch)
    # The sorted grey levels any image may hold, or None to find them per
    # image; a hint lets the encoder skip the scan, and an image outside it
    # is refused (see encode.check_levels).
    levels = None
    # Whether 8-bit grey images are smooth fields (True: the PNG Up filter) or
    # drawings (False: unfiltered); None lets the encoder test each image.
    smooth = None

    def __init__(self, config, seed, progress=None, threads=1):
        """`progress(index, ...)`, when given, is called as slow set-up work advances, which
        runs on `threads` threads (class set-up, inline searches); the result never depends on it."""
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

    def class_names(self):
        """One name per class, in class order: `fractaldb-00017`; LPCE's perturbation classes say so."""
        kind = "-perturbation" if self.loss == "lpce" else ""
        return [f"{self.name}{kind}-{k:05d}" for k in range(self.num_classes)]

    def render_group(self, cls, group):
        """[(image uint8 HxW or HxWx3, meta dict)] for the group's samples, in j order."""
        raise NotImplementedError

    def group_seed(self, cls, group):
        return self.instance_seed(cls, group)

    def instance_seed(self, *words):
        """The seed of one instance's random draws: derive_seed(seed, *words), and from epoch 1 of a
        recipe made `for_epoch` the epoch appended as a last word; epoch 0 draws what the shards hold."""
        return derive_seed(self.seed, *words, *((self.epoch,) if self.epoch else ()))

    def for_epoch(self, epoch):
        """This recipe drawing fresh instances of the same classes in `epoch` (a shallow copy: the
        classes and their set-up are shared); every per-instance draw goes through `instance_seed`."""
        fresh = copy.copy(self)
        fresh.epoch = epoch
        return fresh

    @classmethod
    def dataset_options(cls, options, folder):
        """The options that render a written dataset again from its manifest's `options` (its config)
        and `folder`, a local folder holding the dataset's stored files (`params/`): options naming
        input files point into it. The recipe's `describe()` must then equal the manifest's config
        but for the options changed here."""
        return options

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
        """Changes whenever anything that shapes the output changes, and nothing else.

        Input paths are left out: the content they name is in describe() or
        extra_files(), so `params/` and `./params` give one fingerprint.
        """
        digest = hashlib.sha256()
        paths = path_fields(self.config)
        described = {key: value for key, value in self.describe().items() if key not in paths}
        digest.update(json.dumps([self.name, self.seed, described], sort_keys=True).encode())
        for path, data in sorted(self.extra_files().items()):
            digest.update(path.encode())
            digest.update(data)
        return digest.hexdigest()


class Search:
    """The contract of a parameter search: categories written as CSV files into a folder.

    `Config` is a frozen dataclass of the search's options that declares
    `categories`; subclasses implement `find` and name their score. The
    result depends on the config and seed only, never on the thread count.
    """

    name = ""  # the registered name
    Config = None
    score_name = "scores"  # the summary's key for the accepted categories' scores

    def __init__(self, config, seed):
        check_options(config, seed)
        self.config = config
        self.seed = seed

    def find(self, threads, on_accept):
        """Search, calling `on_accept(index, system, score, trials)` per category found; returns the trials."""
        raise NotImplementedError

    def run(self, out, threads, on_accept):
        """Write `%05d.csv` per accepted category into folder `out`; returns a JSON-able summary."""
        scores = []

        def accept(index, system, score, trials):
            write_system(out / f"{index:05d}.csv", system)
            scores.append(score.tolist() if hasattr(score, "tolist") else score)
            on_accept(index, system, score, trials)

        trials = self.find(threads, accept)
        return {"trials": trials, "accept_rate": len(scores) / trials, self.score_name: scores}
