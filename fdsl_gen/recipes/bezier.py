"""Bezier-curve categories: the FractalDB paper's curve baseline (Kataoka et al., ACCV 2020).

A category is a set of cubic Bezier curves, control points uniform in the
image less a margin; an instance moves every control point by a Gaussian
jitter (a fraction of the image side). Curves are white strokes on black.
"""


from fdsl_gen.configs import BezierConfig
from fdsl_gen.errors import UserError
from fdsl_gen.formulas import bezier
from fdsl_gen.recipe import Recipe, derive_seed, generator

_CATEGORY = 1


class BezierCurves(Recipe):
    """Bezier-curve categories, white strokes on black."""

    name = "bezier"
    Config = BezierConfig
    levels = (0, bezier.WHITE)

    def __init__(self, config, seed, progress=None, threads=1):
        super().__init__(config, seed, progress, threads)
        if config.curves_min > config.curves_max:
            raise UserError("curves_min must not exceed curves_max", options=("curves_min", "curves_max"))

    @property
    def num_classes(self):
        return self.config.categories

    def controls(self, cls):
        """(K, 4, 2) control points of category `cls`: a pure function of (seed, cls)."""
        rng = generator(derive_seed(self.seed, _CATEGORY, cls))
        curves = int(rng.integers(self.config.curves_min, self.config.curves_max + 1))
        return rng.uniform(self.config.margin, 1.0 - self.config.margin, (curves, 4, 2))

    def render_group(self, cls, group):
        seed = self.group_seed(cls, group)
        controls = self.controls(cls)
        moved = controls + generator(seed).normal(0.0, self.config.jitter, controls.shape)
        image = bezier.draw_curves(moved, self.config.size, self.config.width)
        return [(image, {"category": cls, "instance": group, "curves": len(controls), "seed": str(seed)})]
