"""RCDB, Radial Contour DataBase (Kataoka et al., CVPR 2022), and what VisualAtom shares with it.

A category fixes the vertex count n, the number of polygons P, the noise
spread c and the outward step w; each instance draws a start radius, an oval
and a centre, then P grey polygons, each the previous one pushed outward by
w - N along every vertex's ray, N = c (2 pnoise1 - 1). Every length is given
on the reference's 512-px canvas and scaled to `--size`.

Category k comes from derive_seed(seed, CATEGORY, k, attempt), instance j of
it from derive_seed(seed, INSTANCE, k, j, attempt, redraw): the categories
never depend on the number of workers or on how many categories are asked.
A drawing with fewer than `min_ink` x size changed pixels counts as blank:
the instance is drawn again with the next redraw number, and a category
whose first instance stays blank is drawn again with the next attempt
number (checked for every category before rendering).
"""
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from fdsl_gen.encode import ANY_GREY
from fdsl_gen.errors import UserError
from fdsl_gen.formulas import contours
from fdsl_gen.recipe import (MAX_CLASSES, MAX_POINTS, MAX_SAMPLES_PER_CLASS, MAX_SIZE, Recipe, derive_seed,
                             option)
from fdsl_gen.registry import register_recipe

REFERENCE_SIZE = 512
_CATEGORY, _INSTANCE = 1, 2


@dataclass(frozen=True)
class ContourConfig:
    """Options both contour recipes share (listed first in --help)."""
    categories: int = option(1000, "categories (classes)", low=1, high=MAX_CLASSES)
    instances: int = option(1000, "images per category", low=1, high=MAX_SAMPLES_PER_CLASS)
    size: int = option(512, "image side in pixels; lengths below are on a 512-px canvas and scale with it",
                       low=16, high=MAX_SIZE)
    gray_min: int = option(0, "darkest grey level of a polygon", low=0, high=255)
    gray_max: int = option(255, "brightest grey level of a polygon", low=0, high=255)
    noise: str = option("independent", "pnoise1 at uniform random positions, independent per vertex "
                        "(the reference), or smooth Perlin noise along the contour",
                        choices=("independent", "smooth"))
    smooth_cells: int = option(8, "smooth noise: Perlin cells once around the contour", low=1, high=MAX_SIZE)
    antialias: bool = option(False, "anti-aliased lines (the reference has none)")
    min_ink: float = option(0.25, "an image with fewer than min_ink x size changed pixels is blank "
                            "and drawn again (0: keep blank images, as the reference does)", low=0)
    retries: int = option(20, "re-draws of a blank image (and of a category whose first image stays blank)",
                          low=0, high=MAX_SAMPLES_PER_CLASS)


class ContourRecipe(Recipe):
    """Category resolution, blank checks and drawing shared by RCDB and VisualAtom.

    Subclasses set `background` (canvas grey) and `amp_factor` (N's noise
    amplitude over c), and implement `check`, `draw_category` and `draw_instance`.
    """

    levels = ANY_GREY

    def __init__(self, config, seed, progress=None):
        super().__init__(config, seed, progress)
        _check_common(config)
        self.check(config)
        self.scale = config.size / REFERENCE_SIZE
        self.categories = _resolve_all(self, progress)

    @property
    def num_classes(self):
        return self.config.categories

    def rng(self, *words):
        return np.random.default_rng(derive_seed(self.seed, *words))

    def resolve_category(self, cls):
        """The parameters of the first attempt whose instance 0 can be drawn non-blank."""
        for attempt in range(self.config.retries + 1):
            params = dict(self.draw_category(self.rng(_CATEGORY, cls, attempt)), attempt=attempt)
            if self.instance(cls, 0, params) is not None:
                return params
        raise UserError(
            f"{self.name} category {cls}: {self.config.retries + 1} parameter draws in a row give only "
            f"blank images (fewer than {self.min_pixels} pixels drawn); widen the parameter ranges, "
            "lower --min-ink or raise --retries")

    @property
    def min_pixels(self):
        return math.ceil(self.config.min_ink * self.config.size)

    def instance(self, cls, j, params):
        """(image, meta) of instance j, or None when every redraw comes out blank."""
        for redraw in range(self.config.retries + 1):
            seed = derive_seed(self.seed, _INSTANCE, cls, j, params["attempt"], redraw)
            image, meta = self.draw(params, np.random.default_rng(seed))
            ink = int(np.count_nonzero(image != self.background))
            if ink >= self.min_pixels:
                return image, dict(meta, seed=seed, redraw=redraw, ink=ink)
        return None

    def draw(self, params, rng):
        """One image of a category: (canvas, instance meta)."""
        n, polygons = params["vertices"], params["polygons"]
        start_x, start_y, cx, cy, meta = self.draw_instance(params, rng)
        grays = rng.integers(self.config.gray_min, self.config.gray_max + 1, polygons)
        noise = self.noise(rng, polygons, n)
        canvas = np.full((self.config.size, self.config.size), self.background, np.uint8)
        contours.grow_and_draw(canvas, start_x, start_y, cx, cy, self.amp_factor * params["c"],
                               self.offsets(params), params["w"], noise, grays, self.scale,
                               self.config.antialias)
        return canvas, meta

    def noise(self, rng, polygons, n):
        """(P, 2, n) noise values in pnoise1's range, for x and y."""
        if self.config.noise == "independent":
            return contours.independent_noise(polygons, n, rng.integers(0, 2**64, dtype=np.uint64))
        cells = self.config.smooth_cells
        phase = rng.random((polygons, 2)) * cells
        base = rng.integers(0, 256, (polygons, 2))
        return contours.smooth_noise(phase, base, cells, n)

    def offsets(self, params):
        """(n,) the non-random part of N at every vertex."""
        return np.full(params["vertices"], -params["c"])

    def render_group(self, cls, group):
        params = self.categories[cls]
        found = self.instance(cls, group, params)
        if found is None:
            raise UserError(
                f"{self.name} category {cls}, instance {group}: {self.config.retries + 1} draws in a row "
                "are blank; lower --min-ink or raise --retries")
        image, meta = found
        return [(image, dict(meta, category=cls, instance=group, **params))]

    def describe(self):
        return dict(super().describe(), samples_per_class=self.samples_per_class,
                    category_redraws=sum(p["attempt"] for p in self.categories),
                    category_params=self.categories)


def _resolve_all(recipe, progress):
    """Every category, resolved on a thread pool (the drawing kernels release the GIL)."""
    found = []
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        for cls, params in enumerate(pool.map(recipe.resolve_category, range(recipe.config.categories))):
            found.append(params)
            if progress is not None:
                progress(cls, params, None, params["attempt"] + 1)
    return found


def _check_common(config):
    if config.gray_min > config.gray_max:
        raise UserError("grey levels must satisfy 0 <= --gray-min <= --gray-max <= 255")
    check_range(config.vertices_min, config.vertices_max, "vertices", least=3)
    check_range(config.noise_min, config.noise_max, "noise", least=0)
    check_range(config.step_min, config.step_max, "step")
    check_range(config.radius_min, config.radius_max, "radius", least=0)
    check_range(config.oval_min, config.oval_max, "oval", least=0)


def check_range(low, high, name, least=None):
    """One line for a `--NAME-min`/`--NAME-max` pair that is empty or starts below `least`."""
    if low > high:
        raise UserError(f"--{name}-min must not exceed --{name}-max")
    if least is not None and low < least:
        raise UserError(f"--{name}-min must be at least {least}")


@dataclass(frozen=True)
class RCDBConfig(ContourConfig):
    vertices_mean: float = option(100.0, "mean of the exponential the vertex count is drawn from", low=0)
    vertices_min: int = option(3, "fewest vertices (the exponential is truncated to min..max)", low=3, high=MAX_POINTS)
    vertices_max: int = option(200, "most vertices", low=3, high=MAX_POINTS)
    polygons_min: int = option(1, "fewest polygons per image", low=1, high=MAX_POINTS)
    polygons_max: int = option(200, "most polygons per image", low=1, high=MAX_POINTS)
    noise_min: float = option(0.0, "noise spread c ~ U(noise-min, noise-max), per category", low=0)
    noise_max: float = option(4.0, "largest noise spread c")
    step_min: float = option(0.0, "outward step w ~ U(step-min, step-max), per category")
    step_max: float = option(0.1, "largest outward step w")
    radius_min: int = option(0, "start radius ~ randint(radius-min, radius-max), per instance", low=0)
    radius_max: int = option(100, "largest start radius")
    oval_min: float = option(1.0, "x and y stretch of the start polygon ~ U(oval-min, oval-max), per instance", low=0)
    oval_max: float = option(2.0, "largest stretch")
    offset: int = option(400, "centre = (512 + randint(-offset, offset)) / 2 on each axis, per instance",
                         low=0, high=MAX_SIZE)


@register_recipe("rcdb")
class RCDB(ContourRecipe):
    """RCDB: radial contours, grey 1-px polygons on white."""

    Config = RCDBConfig
    background = 255
    amp_factor = 2.0

    def check(self, config):
        check_range(config.polygons_min, config.polygons_max, "polygons", least=1)
        if config.vertices_mean <= 0:
            raise UserError("--vertices-mean must be positive")

    def draw_category(self, rng):
        config = self.config
        return {"vertices": truncated_exponential_int(rng, config.vertices_mean, config.vertices_min,
                                                      config.vertices_max),
                "polygons": int(rng.integers(config.polygons_min, config.polygons_max + 1)),
                "c": float(rng.uniform(config.noise_min, config.noise_max)),
                "w": float(rng.uniform(config.step_min, config.step_max))}

    def draw_instance(self, params, rng):
        config = self.config
        radius = int(rng.integers(config.radius_min, config.radius_max + 1))
        oval_x, oval_y = (float(v) for v in rng.uniform(config.oval_min, config.oval_max, 2))
        cx, cy = centre(rng, config.offset)
        angles = 2 * np.pi / params["vertices"] * np.arange(params["vertices"])
        meta = {"radius": radius, "oval_x": oval_x, "oval_y": oval_y, "cx": cx, "cy": cy}
        return np.cos(angles) * radius * oval_x, np.sin(angles) * radius * oval_y, cx, cy, meta


def centre(rng, offset):
    """(x, y) = (512 + randint(-offset, offset)) / 2 each, as the reference places contours."""
    cx, cy = rng.integers(-offset, offset + 1, 2)
    return (REFERENCE_SIZE + int(cx)) / 2, (REFERENCE_SIZE + int(cy)) / 2


def truncated_exponential_int(rng, mean, low, high):
    """int(Exp(mean)) conditioned on low <= value <= high, by inverting the truncated CDF.

    The same law as the reference's redraw loop, without its unbounded
    retries when few draws land in [low, high].
    """
    # int(X) is in [low, high] exactly when X is in [low, high + 1).
    span = -math.expm1(-(high + 1 - low) / mean)
    value = low - mean * math.log1p(-rng.random() * span)
    return min(int(value), high)
