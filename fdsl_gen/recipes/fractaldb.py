"""FractalDB (Kataoka et al.): category search and the official rendering recipe.

A category is a 2D IFS. Its images are weight variants (25 rows scaling
a..f) x counts (patch masks drawn anew) x flips. Samples j of a category run
in (count, weight, flip) order, so `--instances N` below the full count keeps
every weight variant; a group is one canvas and its flips.
"""
import io
import os
from dataclasses import dataclass

import numpy as np

from fdsl_gen.errors import UserError
from fdsl_gen.formulas import ifs2d
from fdsl_gen.formulas.ifs_search import search
from fdsl_gen.params import read_systems, read_weights, weight_rows, write_system
from fdsl_gen.recipe import (MAX_CLASSES, MAX_POINTS, MAX_SAMPLES_PER_CLASS, MAX_SEED, MAX_SIZE, Recipe, Search,
                             option)
from fdsl_gen.registry import register_recipe, register_search

FLIPS = (
    lambda a: a,
    lambda a: a[::-1],
    lambda a: a[:, ::-1],
    lambda a: a[::-1, ::-1],
)
POINT_SEED = 100


def chaos_uniforms(points):
    """The reference's chaos-game stream: RandomState(100), restarted per image."""
    return np.random.RandomState(POINT_SEED).random_sample(points)


def system_pixels(system, u, size, pad=6):
    return ifs2d.to_pixels(*ifs2d.chaos_game(system, u), size, pad)


def draw(px, py, size, mode, color, seed):
    """One canvas, oriented as the reference saves it (flipped top-bottom)."""
    values = ifs2d.HUE_INDEX if color == "color" else ifs2d.GRAY
    if mode == "patch":
        canvas = ifs2d.draw_patches(px, py, size, ifs2d.patch_masks(len(px), np.uint64(seed)), values)
    else:
        canvas = ifs2d.draw_points(px, py, size, values)
    canvas = canvas[::-1]
    return ifs2d.hue_lut()[canvas] if color == "color" else canvas


def csv_bytes(table, fmt="%.18e"):
    buffer = io.BytesIO()
    np.savetxt(buffer, table, delimiter=",", fmt=fmt)
    return buffer.getvalue()


@dataclass(frozen=True)
class FractalDBConfig:
    params: str = option("", "folder of category CSVs (ours, or the official csv0..csvK layout)")
    search: bool = option(False, "search the categories first instead of reading --params")
    search_seed: int = option(1, "seed of the inline search (1 gives the published set)", low=0, high=MAX_SEED)
    fill_rate: float = option(0.2, "inline search: minimum filling rate", low=0, high=1)
    categories: int = option(0, "categories to use (0: all of --params; 1000 with --search)", low=0, high=MAX_CLASSES)
    instances: int = option(0, "images per category (0: weights x counts x flips)", low=0, high=MAX_SAMPLES_PER_CLASS)
    size: int = option(362, "image side in pixels", low=16, high=MAX_SIZE)
    points: int = option(200_000, "chaos-game points per image", low=2, high=MAX_POINTS)
    weight_k: float = option(0.4, "step k of the 25 weight rows (1 +- k, 1 +- 2k)")
    weights: str = option("", "weight file (official CSV, 6 columns) instead of --weight-k")
    counts: int = option(0, "patch-mask draws per weight (0: 10 for patch, 1 for point)",
                         low=0, high=MAX_SAMPLES_PER_CLASS)
    flips: int = option(4, "flips per canvas: as is, top-bottom, left-right, both", choices=(1, 2, 3, 4))
    draw: str = option("patch", "3x3 random patches (the official recipe) or single points",
                       choices=("patch", "point"))
    color: str = option("gray", "grey level 127 or the reference's hue cycle", choices=("gray", "color"))


@register_recipe("fractaldb")
class FractalDB(Recipe):
    """FractalDB: 2D IFS categories x weight variants x patch masks x flips (official recipe by default)."""

    Config = FractalDBConfig

    def __init__(self, config, seed, progress=None):
        super().__init__(config, seed, progress)
        _check(config)
        self.systems = _load_systems(config, progress)
        self.weights = read_weights(config.weights) if config.weights else weight_rows(config.weight_k)
        self.counts = config.counts or (10 if config.draw == "patch" else 1)
        per_count = len(self.weights) * config.flips
        if config.instances:
            self.counts = -(-config.instances // per_count)
        self.group_size = config.flips
        self.levels = (0, ifs2d.PATCH_VALUE) if config.color == "gray" else None
        self._cache = {}

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state

    @property
    def num_classes(self):
        return len(self.systems)

    @property
    def samples_per_class(self):
        return self.config.instances or self.counts * len(self.weights) * self.config.flips

    @property
    def image_shape(self):
        return self.config.size, self.config.size, 1 if self.config.color == "gray" else 3

    def render_group(self, cls, group):
        count, weight = divmod(group, len(self.weights))
        seed = self.group_seed(cls, group)
        px, py = self._pixels(cls, weight)
        canvas = draw(px, py, self.config.size, self.config.draw, self.config.color, seed)
        meta = {"category": cls, "weight": weight, "weight_row": self.weights[weight].tolist(),
                "count": count, "seed": seed}
        return [(np.ascontiguousarray(FLIPS[f](canvas)), dict(meta, flip=f))
                for f in range(self.group_samples(group))]

    def _pixels(self, cls, weight):
        """Point set of one weight variant, kept while its counts are drawn."""
        key = (cls, weight)
        if key not in self._cache:
            if len(self._cache) >= 64:
                self._cache.clear()
            if "u" not in self.__dict__:
                self.u = chaos_uniforms(self.config.points)
            system = self.systems[cls].copy()
            system[:, :6] *= self.weights[weight]
            self._cache[key] = system_pixels(system, self.u, self.config.size)
        return self._cache[key]

    def describe(self):
        return dict(super().describe(), categories=self.num_classes, counts=self.counts,
                    samples_per_class=self.samples_per_class, weight_rows=self.weights.tolist())

    def extra_files(self):
        files = {f"params/{i:05d}.csv": csv_bytes(s) for i, s in enumerate(self.systems)}
        files["params/weights.csv"] = csv_bytes(self.weights, fmt="%.12g")
        return files


def _check(config):
    if config.search == bool(config.params):
        raise UserError("give either --params DIR or --search")
    if config.draw == "point" and config.counts > 1:
        raise UserError("point mode draws no random masks: every count would repeat; use --counts 1")


def _load_systems(config, progress):
    if config.params:
        return read_systems(config.params, config.categories)
    found, _ = search(config.categories or 1000, seed=config.search_seed, fill=config.fill_rate,
                      threads=os.cpu_count() or 1, on_accept=progress)
    return [system for system, _ in found]


@dataclass(frozen=True)
class FractalDBSearchConfig:
    categories: int = option(1000, "categories to find", low=1, high=MAX_CLASSES)
    fill_rate: float = option(0.2, "minimum filling rate of a category's point image", low=0, high=1)
    points: int = option(100_000, "chaos-game points per trial", low=2, high=MAX_POINTS)
    size: int = option(512, "canvas side used for the filling rate", low=16, high=MAX_SIZE)


@register_search("fractaldb")
class FractalDBSearch(Search):
    """The official random search; seed 1 gives the published FractalDB set."""

    Config = FractalDBSearchConfig

    def __init__(self, config, seed):
        super().__init__(config, seed)
        if config.fill_rate == 0:
            raise UserError("--fill-rate must be in (0, 1]")

    def run(self, out, threads, on_accept):
        """Write %05d.csv per accepted category; returns the search summary."""
        rates = []

        def accept(index, system, rate, trials):
            write_system(out / f"{index:05d}.csv", system)
            rates.append(rate)
            on_accept(index, system, rate, trials)

        _, trials = search(self.config.categories, seed=self.seed, fill=self.config.fill_rate,
                           points=self.config.points, size=self.config.size,
                           threads=threads, on_accept=accept)
        return {"trials": trials, "accept_rate": len(rates) / trials, "fill_rates": rates}
