"""The contour family (RCDB, VisualAtom): polygons grown outward from a start contour.

A category fixes the vertex count n, the number of polygons P, the noise
spread c and the outward step w; each instance draws a start contour and a
centre, then P grey polygons, each the previous one pushed outward by
w - N along every vertex's ray. Every length is given on the reference's
512-px canvas and scaled to `--size`.

Category k comes from derive_seed(seed, CATEGORY, k, attempt), instance j of
it from derive_seed(seed, INSTANCE, k, j, attempt, redraw) (Recipe.instance_seed: fresh
instances append the epoch): the categories
never depend on the number of workers or on how many categories are asked.
A drawing with fewer than `min_ink` x size changed pixels counts as blank:
the instance is drawn again with the next redraw number, and a category
whose first instance stays blank is drawn again with the next attempt
number (checked for every category before rendering).
"""
import math

import numpy as np

from fdsl_gen.encode import ANY_GREY
from fdsl_gen.errors import UserError
from fdsl_gen.formulas import contours
from fdsl_gen.recipe import Recipe, derive_seed, generator, resolve_classes

REFERENCE_SIZE = 512
_CATEGORY, _INSTANCE = 1, 2


class ContourRecipe(Recipe):
    """Category resolution, blank checks and drawing shared by RCDB and VisualAtom.

    Subclasses set `background` (canvas grey) and `amp_factor` (N's noise
    amplitude over c), and implement `check`, `draw_category` and `draw_instance`.
    """

    levels = ANY_GREY
    smooth = False  # 1-px lines on a plain background

    def __init__(self, config, seed, progress=None, threads=1):
        super().__init__(config, seed, progress, threads)
        _check_common(config)
        self.check(config)
        self.scale = config.size / REFERENCE_SIZE
        self.categories = resolve_classes(self.resolve_category, config.categories, threads, progress,
                                          lambda params: (params, None, params["attempt"] + 1))

    @property
    def num_classes(self):
        return self.config.categories

    def rng(self, *words):
        return generator(derive_seed(self.seed, *words))

    def resolve_category(self, cls):
        """The parameters of the first attempt whose instance 0 can be drawn non-blank."""
        for attempt in range(self.config.retries + 1):
            params = dict(self.draw_category(self.rng(_CATEGORY, cls, attempt)), attempt=attempt)
            # with min_ink 0 no image is blank: drawing instance 0 here would only be thrown away
            if self.min_pixels == 0 or self.instance(cls, 0, params) is not None:
                return params
        raise UserError(
            f"{self.name} category {cls}: {self.config.retries + 1} parameter draws in a row give only "
            f"blank images (fewer than {self.min_pixels} pixels drawn); widen the parameter ranges, "
            "lower min_ink or raise retries", options=("min_ink", "retries"))

    @property
    def min_pixels(self):
        return math.ceil(self.config.min_ink * self.config.size)

    def instance(self, cls, j, params):
        """(image, meta) of instance j, or None when every redraw comes out blank."""
        for redraw in range(self.config.retries + 1):
            seed = self.instance_seed(_INSTANCE, cls, j, params["attempt"], redraw)
            image, meta = self.draw(params, generator(seed))
            ink = int(np.count_nonzero(image != self.background))
            if ink >= self.min_pixels:
                return image, dict(meta, seed=str(seed), redraw=redraw, ink=ink)
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
                "are blank; lower min_ink or raise retries", options=("min_ink", "retries"))
        image, meta = found
        return [(image, dict(meta, category=cls, instance=group, **params))]

    def describe(self):
        return dict(super().describe(), samples_per_class=self.samples_per_class,
                    category_redraws=sum(p["attempt"] for p in self.categories),
                    category_params=self.categories)


def _check_common(config):
    if config.gray_min > config.gray_max:
        raise UserError("grey levels must satisfy 0 <= gray_min <= gray_max <= 255", options=("gray_min", "gray_max"))
    check_range(config.vertices_min, config.vertices_max, "vertices", least=3)
    check_range(config.noise_min, config.noise_max, "noise", least=0)
    check_range(config.step_min, config.step_max, "step")
    check_range(config.radius_min, config.radius_max, "radius", least=0)
    check_range(config.oval_min, config.oval_max, "oval", least=0)


def check_range(low, high, name, least=None):
    """One line for a `NAME_min`/`NAME_max` pair that is empty or starts below `least`."""
    if low > high:
        raise UserError(f"{name}_min must not exceed {name}_max", options=(f"{name}_min", f"{name}_max"))
    if least is not None and low < least:
        raise UserError(f"{name}_min must be at least {least}", options=f"{name}_min")


def centre(rng, offset):
    """(x, y) = (512 + randint(-offset, offset)) / 2 each, as the reference places contours."""
    cx, cy = rng.integers(-offset, offset + 1, 2)
    return (REFERENCE_SIZE + int(cx)) / 2, (REFERENCE_SIZE + int(cy)) / 2


def vertex_angles(n):
    """The angles of n vertices evenly around the contour, from 0."""
    return 2 * np.pi / n * np.arange(n)
