"""OFDB (Nakamura et al., ICCV 2023): one FractalDB image per category.

Categories come from the FractalDB search (or a parameter folder); each is
drawn once as a patch_gray canvas from the seed-100 chaos game. Instance j of
a category redraws only the patch masks, as the reference's `--instance`
loop does. The reference applies weight row 0 (`a` x (1 - 2k)) to every
system; `--compat` reproduces that, the default draws the system as found.
"""
import numpy as np

from fdsl_gen.configs import OFDBConfig
from fdsl_gen.errors import UserError
from fdsl_gen.families.ifs2d import GREY_LEVELS, chaos_uniforms, draw, load_systems, system_pixels
from fdsl_gen.params import csv_bytes, stored_category_options, weight_rows
from fdsl_gen.recipe import Recipe


class OFDB(Recipe):
    """OFDB: one FractalDB image per category."""

    name = "ofdb"
    Config = OFDBConfig
    levels = GREY_LEVELS

    def __init__(self, config, seed, progress=None, threads=1):
        super().__init__(config, seed, progress, threads)
        _check(config)
        self.systems = load_systems(config, progress, threads)
        self.weight = weight_rows(config.weight_k)[0] if config.compat else np.ones(6)
        self.u = chaos_uniforms(config.points)

    @property
    def num_classes(self):
        return len(self.systems)

    def render_group(self, cls, group):
        system = self.systems[cls].copy()
        system[:, :6] *= self.weight
        seed = self.group_seed(cls, group)
        px, py = system_pixels(system, self.u, self.config.size)
        image = draw(px, py, self.config.size, "patch", "gray", seed)
        return [(image, {"category": cls, "instance": group, "seed": str(seed)})]

    dataset_options = staticmethod(stored_category_options)

    def describe(self):
        return dict(super().describe(), categories=self.num_classes, weight_row=self.weight.tolist())

    def extra_files(self):
        return {f"params/{i:05d}.csv": csv_bytes(s) for i, s in enumerate(self.systems)}


def _check(config):
    if config.search == bool(config.params):
        raise UserError("give either params DIR or search", options=("params", "search"))
