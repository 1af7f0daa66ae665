"""1p-frac (Nakamura et al., ECCV 2024): one fractal and L perturbations of it.

The base system is sampled with a target sigma-factor (or read from a CSV).
Class c is the base with each of a..f of each map perturbed by draws from
derive_seed(seed, 2, c, attempt); a class whose instance-0 image fills at
most `fill_rate` of the canvas is drawn again with the next attempt number.
All classes are resolved on a thread pool when the recipe is built, so that
their parameters can be saved beside the shards; images are FractalDB
patch_gray canvases, and instance j of a class differs from the others only
by its patch masks.
"""
from pathlib import Path

import numpy as np

from fdsl_gen.configs import OnePFracConfig
from fdsl_gen.errors import UserError
from fdsl_gen.families.ifs2d import GREY_LEVELS, chaos_uniforms, draw, grey_patches, system_pixels
from fdsl_gen.formulas import ifs2d
from fdsl_gen.formulas.sigma import (SIGMA_MARGIN, apply_perturbation, perturbation, sample_system,
                                     sigma_factor, sigma_range)
from fdsl_gen.params import csv_bytes, read_system
from fdsl_gen.recipe import Recipe, derive_seed, generator, resolve_classes

_BASE, _PERTURB = 1, 2
# Instance 0 of every class is the image its fill test drew; it is kept,
# bit-packed, when all of them fit in this many bytes, and not drawn again.
_FIRST_IMAGES_BYTES = 128 * 2**20


class OnePFrac(Recipe):
    """1p-frac: one sigma-factor fractal, L perturbed classes (LPCE)."""

    name = "1p-frac"
    Config = OnePFracConfig
    loss = "lpce"
    levels = GREY_LEVELS

    def __init__(self, config, seed, progress=None, threads=1):
        super().__init__(config, seed, progress, threads)
        _check(config)
        self.base, self.sigma_drawn = self._base_system()
        self.u = chaos_uniforms(config.points)
        self.keep_first = config.classes * config.size ** 2 // 8 <= _FIRST_IMAGES_BYTES
        classes = resolve_classes(self.resolve_class, config.classes, threads, progress,
                                  lambda found: (found[0], found[3], found[2] + 1))
        self.systems = np.stack([c[0] for c in classes])
        self.draws = np.stack([c[1] for c in classes])
        self.attempts = np.array([c[2] for c in classes])
        self.fills = np.array([c[3] for c in classes])
        self.first_images = [c[4] for c in classes] if self.keep_first else None

    def __getstate__(self):
        """Pickled copies (spawned workers, a cluster) redraw instance 0 instead of carrying it."""
        state = dict(self.__dict__)
        state["first_images"] = None
        return state

    @property
    def num_classes(self):
        return self.config.classes

    def _base_system(self):
        if self.config.params:
            system = read_system(self.config.params)
            return system, None
        rng = generator(derive_seed(self.seed, _BASE))
        return sample_system(self.config.maps, self.config.sigma, rng)

    def canvas(self, system, cls, instance):
        px, py = system_pixels(system, self.u, self.config.size)
        return draw(px, py, self.config.size, "patch", "gray", self.group_seed(cls, instance))

    def resolve_class(self, cls):
        """(system, draws, attempt, fill, packed image) of the first attempt whose image is dense enough.

        The image tested is instance 0's (its masks, unflipped: flips keep the count).
        """
        config = self.config
        masks = ifs2d.patch_masks(config.points, np.uint64(self.group_seed(cls, 0)))
        best = 0.0
        for attempt in range(config.retries + 1):
            rng = generator(derive_seed(self.seed, _PERTURB, cls, attempt))
            draws = perturbation(len(self.base), config.delta, config.perturb, rng)
            system = apply_perturbation(self.base, draws, config.perturb)
            px, py = system_pixels(system, self.u, config.size)
            canvas = grey_patches(px, py, config.size, masks[:len(px)])
            fill = np.count_nonzero(canvas) / config.size ** 2
            if fill > config.fill_rate:
                return system, draws, attempt, fill, np.packbits(canvas) if self.keep_first else None
            best = max(best, fill)
        raise UserError(
            f"class {cls}: {config.retries + 1} perturbations in a row fill at most {config.fill_rate} "
            f"of the image (best {best:.4f}); the base system is too sparse: try another seed, "
            "another sigma, a lower fill_rate or more retries", options=("seed", "sigma", "fill_rate", "retries"))

    def render_group(self, cls, group):
        seed = self.group_seed(cls, group)
        if group == 0 and self.first_images is not None and not self.epoch:
            image = self._first_image(cls)
        else:
            image = self.canvas(self.systems[cls], cls, group)
        meta = {"class": cls, "instance": group, "seed": str(seed), "perturb": self.config.perturb,
                "perturbation": self.draws[cls].tolist(), "system": self.systems[cls].tolist(),
                "attempt": int(self.attempts[cls]), "fill": float(self.fills[cls])}
        return [(image, meta)]

    def _first_image(self, cls):
        size = self.config.size
        bits = np.unpackbits(self.first_images[cls], count=size * size).reshape(size, size)
        return bits * np.uint8(ifs2d.PATCH_VALUE)

    @classmethod
    def dataset_options(cls, options, folder):
        """A given base system is read back from the dataset's params/base.csv."""
        return dict(options, params=str(Path(folder) / "params" / "base.csv")) if options.get("params") else options

    def describe(self):
        return dict(super().describe(), base=self.base.tolist(), sigma_drawn=self.sigma_drawn,
                    sigma_factor=sigma_factor(self.base), samples_per_class=self.samples_per_class,
                    redraws=int(self.attempts.sum()), most_attempts=int(self.attempts.max()) + 1,
                    class_columns="class, map, a, b, c, d, e, f, p, then the 6 draws on a..f")

    def extra_files(self):
        classes, maps = self.systems.shape[:2]
        index = np.stack(np.meshgrid(np.arange(classes), np.arange(maps), indexing="ij"), -1)
        table = np.concatenate([index.reshape(-1, 2), self.systems.reshape(-1, 7),
                                self.draws.reshape(-1, 6)], axis=1)
        return {"params/base.csv": csv_bytes(self.base), "params/classes.csv": csv_bytes(table, fmt="%.17g")}


def _check(config):
    if config.fill_rate == 1.0:
        raise UserError("fill_rate must be below 1: no image fills its whole canvas", options="fill_rate")
    low, high = sigma_range(config.maps)
    if not config.params and not low + SIGMA_MARGIN <= config.sigma <= high - SIGMA_MARGIN:
        raise UserError(f"sigma must be in [{low + SIGMA_MARGIN:g}, {high - SIGMA_MARGIN:g}] "
                        f"for {config.maps} maps (each map adds at most {high / config.maps:g})", options="sigma")
