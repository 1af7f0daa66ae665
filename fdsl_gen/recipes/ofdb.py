"""OFDB (Nakamura et al., ICCV 2023): one FractalDB image per category.

Categories come from the FractalDB search (or a parameter folder); each is
drawn once as a patch_gray canvas from the seed-100 chaos game. Instance j of
a category redraws only the patch masks, as the reference's `--instance`
loop does. The reference applies weight row 0 (`a` x (1 - 2k)) to every
system; `--compat` reproduces that, the default draws the system as found.
"""
from dataclasses import dataclass

import numpy as np

from fdsl_gen.errors import UserError
from fdsl_gen.formulas import ifs2d
from fdsl_gen.params import weight_rows
from fdsl_gen.recipe import MAX_CLASSES, MAX_POINTS, MAX_SAMPLES_PER_CLASS, MAX_SEED, MAX_SIZE, Recipe, option
from fdsl_gen.recipes.fractaldb import _load_systems, chaos_uniforms, csv_bytes, draw, system_pixels
from fdsl_gen.registry import register_recipe


@dataclass(frozen=True)
class OFDBConfig:
    params: str = option("", "folder of category CSVs (ours, or the official csv0..csvK layout)")
    search: bool = option(False, "search the categories first instead of reading --params")
    search_seed: int = option(1, "seed of the inline search (1 gives the published FractalDB set)",
                              low=0, high=MAX_SEED)
    fill_rate: float = option(0.2, "inline search: minimum filling rate", low=0, high=1)
    categories: int = option(0, "categories to use (0: all of --params; 1000 with --search)", low=0, high=MAX_CLASSES)
    instances: int = option(1, "images per category (they differ by their patch masks)",
                            low=1, high=MAX_SAMPLES_PER_CLASS)
    size: int = option(362, "image side in pixels", low=16, high=MAX_SIZE)
    points: int = option(200_000, "chaos-game points per image", low=2, high=MAX_POINTS)
    compat: bool = option(False, "reproduce the reference: scale `a` by weight row 0 (1 - 2k)")
    weight_k: float = option(0.4, "--compat: step k of the reference's weight file")


@register_recipe("ofdb")
class OFDB(Recipe):
    """OFDB: one FractalDB image per category."""

    Config = OFDBConfig

    def __init__(self, config, seed, progress=None):
        super().__init__(config, seed, progress)
        _check(config)
        self.systems = _load_systems(config, progress)
        self.weight = weight_rows(config.weight_k)[0] if config.compat else np.ones(6)
        self.u = chaos_uniforms(config.points)
        self.levels = (0, ifs2d.PATCH_VALUE)

    @property
    def num_classes(self):
        return len(self.systems)

    def render_group(self, cls, group):
        system = self.systems[cls].copy()
        system[:, :6] *= self.weight
        seed = self.group_seed(cls, group)
        px, py = system_pixels(system, self.u, self.config.size)
        image = draw(px, py, self.config.size, "patch", "gray", seed)
        return [(image, {"category": cls, "instance": group, "seed": seed})]

    def describe(self):
        return dict(super().describe(), categories=self.num_classes, weight_row=self.weight.tolist())

    def extra_files(self):
        return {f"params/{i:05d}.csv": csv_bytes(s) for i, s in enumerate(self.systems)}


def _check(config):
    if config.search == bool(config.params):
        raise UserError("give either --params DIR or --search")
