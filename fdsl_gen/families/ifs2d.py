"""The 2D IFS family (FractalDB, OFDB, 1p-frac): the reference's chaos game and canvases.

Every image of the family is drawn from the same seed-100 chaos-game stream
and saved as the reference saves it, flipped top-bottom; categories come from
a parameter folder or from the FractalDB search run inline.
"""
import numpy as np

from fdsl_gen.formulas import ifs2d
from fdsl_gen.formulas.ifs_search import search
from fdsl_gen.params import read_systems

FLIPS = (
    lambda a: a,
    lambda a: a[::-1],
    lambda a: a[:, ::-1],
    lambda a: a[::-1, ::-1],
)
POINT_SEED = 100
GREY_LEVELS = (0, ifs2d.PATCH_VALUE)


def chaos_uniforms(points):
    """The reference's chaos-game stream: RandomState(100), restarted per image."""
    return np.random.RandomState(POINT_SEED).random_sample(points)


def system_pixels(system, u, size, pad=6):
    return ifs2d.to_pixels(*ifs2d.chaos_game(system, u), size, pad)


def grey_patches(px, py, size, masks):
    """The patch_gray canvas of given masks, oriented as the reference saves it (flipped top-bottom)."""
    return ifs2d.draw_patches(px, py, size, masks, ifs2d.GRAY)[::-1]


def draw(px, py, size, mode, color, seed):
    """One canvas with masks seeded by `seed`, oriented as the reference saves it."""
    values = ifs2d.HUE_INDEX if color == "color" else ifs2d.GRAY
    if mode == "patch":
        canvas = ifs2d.draw_patches(px, py, size, ifs2d.patch_masks(len(px), np.uint64(seed)), values)
    else:
        canvas = ifs2d.draw_points(px, py, size, values)
    canvas = canvas[::-1]
    return ifs2d.hue_lut()[canvas] if color == "color" else canvas


def load_systems(config, progress, threads):
    """The categories of --params, or of the FractalDB search run inline on `threads` threads."""
    if config.params:
        return read_systems(config.params, config.categories)
    found, _ = search(config.categories or 1000, seed=config.search_seed, fill=config.fill_rate,
                      threads=threads, on_accept=progress)
    return [system for system, _ in found]
