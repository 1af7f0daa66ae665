"""RCDB, Radial Contour DataBase (Kataoka et al., CVPR 2022).

A category draws n from a truncated exponential, P, c and w; each instance
draws a start radius, an oval and a centre, and N = c (2 pnoise1 - 1). Grey
1-px polygons on white. Seeding, scaling and blank checks are the contour
family's (fdsl_gen/families/contours.py).

With `params`, category k is the k-th official parameter file instead
(attempt 0, never drawn again); the dataset stores the categories it used
as `params/%05d.csv` in the same format.
"""
import math
from pathlib import Path

import numpy as np

from fdsl_gen.configs import RCDBConfig
from fdsl_gen.errors import UserError
from fdsl_gen.families.contours import ContourRecipe, centre, check_range, vertex_angles
from fdsl_gen.params import first_category_files, rcdb_category_bytes, read_rcdb_category


class RCDB(ContourRecipe):
    """RCDB: radial contours, grey 1-px polygons on white."""

    name = "rcdb"
    Config = RCDBConfig
    background = 255
    amp_factor = 2.0

    def check(self, config):
        check_range(config.polygons_min, config.polygons_max, "polygons", least=1)
        if config.vertices_mean <= 0:
            raise UserError("vertices_mean must be positive", options="vertices_mean")
        # read here, before the family resolves the categories
        self.files = first_category_files(config.params, config.categories) if config.params else []
        self.given = [read_rcdb_category(f) for f in self.files]

    def resolve_category(self, cls):
        """A given category as its file says, once its instance 0 can be drawn non-blank."""
        if not self.given:
            return super().resolve_category(cls)
        params = dict(self.given[cls], attempt=0)
        if self.min_pixels and self.instance(cls, 0, params) is None:
            raise UserError(
                f"rcdb category {cls} ({self.files[cls]}): {self.config.retries + 1} draws of its first image "
                f"in a row are blank (fewer than {self.min_pixels} pixels drawn); lower min_ink or raise retries",
                options=("min_ink", "retries"))
        return params

    def draw_category(self, rng):
        config = self.config
        return {"vertices": truncated_exponential_int(rng, config.vertices_mean, config.vertices_min,
                                                      config.vertices_max),
                "polygons": int(rng.integers(config.polygons_min, config.polygons_max + 1)),
                "c": float(rng.uniform(config.noise_min, config.noise_max)),
                "w": float(rng.uniform(config.step_min, config.step_max))}

    @classmethod
    def dataset_options(cls, options, folder):
        """Given categories are read back from the dataset's params/."""
        return dict(options, params=str(Path(folder) / "params")) if options.get("params") else options

    def describe(self):
        described = super().describe()
        if not self.config.params:
            del described["params"]  # the manifest of drawn categories stays as it was before the option
        return described

    def extra_files(self):
        if not self.config.params:
            return {}
        return {f"params/{k:05d}.csv": rcdb_category_bytes(p) for k, p in enumerate(self.categories)}

    def draw_instance(self, params, rng):
        config = self.config
        radius = int(rng.integers(config.radius_min, config.radius_max + 1))
        oval_x, oval_y = (float(v) for v in rng.uniform(config.oval_min, config.oval_max, 2))
        cx, cy = centre(rng, config.offset)
        angles = vertex_angles(params["vertices"])
        meta = {"radius": radius, "oval_x": oval_x, "oval_y": oval_y, "cx": cx, "cy": cy}
        return np.cos(angles) * radius * oval_x, np.sin(angles) * radius * oval_y, cx, cy, meta


def truncated_exponential_int(rng, mean, low, high):
    """int(Exp(mean)) conditioned on low <= value <= high, by inverting the truncated CDF.

    The same law as the reference's redraw loop, without its unbounded
    retries when few draws land in [low, high].
    """
    # int(X) is in [low, high] exactly when X is in [low, high + 1).
    span = -math.expm1(-(high + 1 - low) / mean)
    value = low - mean * math.log1p(-rng.random() * span)
    return min(int(value), high)
