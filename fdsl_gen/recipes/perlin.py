"""Perlin-noise categories: the FractalDB paper's noise baseline (Kataoka et al., ACCV 2020).

A category is one fractal noise field: its own permutation (lattice
gradients), a base frequency f (cells of the first octave across the image,
log-uniform), a number of octaves and a persistence. An instance is a
window of that field shifted by up to `shift` cells on each axis, so images
of one category share their large shapes and differ in position. Each image
is scaled to the full grey range 0..255.
"""
import math

import numpy as np

from fdsl_gen.configs import PerlinConfig
from fdsl_gen.encode import ANY_GREY
from fdsl_gen.errors import UserError
from fdsl_gen.formulas import perlin
from fdsl_gen.recipe import Recipe, derive_seed, generator

_CATEGORY = 1


class PerlinNoise(Recipe):
    """Perlin-noise categories, grey images using the full range."""

    name = "perlin"
    Config = PerlinConfig
    levels = ANY_GREY

    def __init__(self, config, seed, progress=None, threads=1):
        super().__init__(config, seed, progress, threads)
        for low, high, name in ((config.frequency_min, config.frequency_max, "frequency"),
                                (config.octaves_min, config.octaves_max, "octaves"),
                                (config.persistence_min, config.persistence_max, "persistence")):
            if low > high:
                raise UserError(f"{name}_min must not exceed {name}_max", options=(f"{name}_min", f"{name}_max"))

    @property
    def num_classes(self):
        return self.config.categories

    def category(self, cls):
        """(params dict, permutation) of category `cls`: a pure function of (seed, cls)."""
        config = self.config
        rng = generator(derive_seed(self.seed, _CATEGORY, cls))
        perm = perlin.permutation(rng)
        frequency = math.exp(rng.uniform(math.log(config.frequency_min), math.log(config.frequency_max)))
        params = {"frequency": frequency,
                  "octaves": int(rng.integers(config.octaves_min, config.octaves_max + 1)),
                  "persistence": float(rng.uniform(config.persistence_min, config.persistence_max)),
                  # where the category's window sits in the 256-cell field
                  "x": float(rng.uniform(0, 256)), "y": float(rng.uniform(0, 256))}
        return params, perm

    def render_group(self, cls, group):
        params, perm = self.category(cls)
        seed = self.group_seed(cls, group)
        dx, dy = generator(seed).uniform(0, self.config.shift, 2) if self.config.shift else (0.0, 0.0)
        field = perlin.fractal_image(self.config.size, params["frequency"], params["octaves"],
                                     params["persistence"], params["x"] + dx, params["y"] + dy, perm)
        meta = dict(params, category=cls, instance=group, dx=float(dx), dy=float(dy), seed=str(seed))
        return [(to_grey(field), meta)]


def to_grey(field):
    """The field scaled to 0..255 (min to 0, max to 255); a flat field is mid-grey."""
    low, high = field.min(), field.max()
    if high - low < 1e-12:
        return np.full(field.shape, 128, np.uint8)
    return np.round((field - low) * (255.0 / (high - low))).astype(np.uint8)
