"""FractalDB (Kataoka et al., ACCV 2020): the official rendering recipe.

A category is a 2D IFS. Its images are weight variants (25 rows scaling
a..f) x counts (patch masks drawn anew) x flips. Samples j of a category run
in (count, weight, flip) order, so `--instances N` below the full count keeps
every weight variant; a group is one canvas and its flips.
"""
import numpy as np

from fdsl_gen.configs import FractalDBConfig
from fdsl_gen.errors import UserError
from fdsl_gen.families.ifs2d import FLIPS, GREY_LEVELS, chaos_uniforms, draw, load_systems, system_pixels
from fdsl_gen.params import csv_bytes, read_weights, stored_category_options, weight_rows
from fdsl_gen.recipe import Recipe


class FractalDB(Recipe):
    """FractalDB: 2D IFS categories x weight variants x patch masks x flips (official recipe by default)."""

    name = "fractaldb"
    Config = FractalDBConfig

    def __init__(self, config, seed, progress=None, threads=1):
        super().__init__(config, seed, progress, threads)
        _check(config)
        self.systems = load_systems(config, progress, threads)
        self.weights = read_weights(config.weights) if config.weights else weight_rows(config.weight_k)
        self.counts = config.counts or (10 if config.draw == "patch" else 1)
        per_count = len(self.weights) * config.flips
        if config.instances:
            self.counts = -(-config.instances // per_count)
        self.group_size = config.flips
        self.levels = GREY_LEVELS if config.color == "gray" else None
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
                "count": count, "seed": str(seed)}
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

    dataset_options = staticmethod(stored_category_options)

    def describe(self):
        return dict(super().describe(), categories=self.num_classes, counts=self.counts,
                    samples_per_class=self.samples_per_class, weight_rows=self.weights.tolist())

    def extra_files(self):
        files = {f"params/{i:05d}.csv": csv_bytes(s) for i, s in enumerate(self.systems)}
        files["params/weights.csv"] = csv_bytes(self.weights, fmt="%.12g")
        return files


def _check(config):
    if config.search == bool(config.params):
        raise UserError("give either params DIR or search", options=("params", "search"))
    if config.draw == "point" and config.counts > 1:
        raise UserError("point mode draws no random masks: every count would repeat; use counts 1", options="counts")

