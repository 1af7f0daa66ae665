"""Single real image (Nakamura et al., ECCV 2024): one photo's edges, L transforms.

The photo is read as grey, centre-cropped square and resized, and its Canny
edge map is computed once. Class c is that map seen through one random
transform (affine, polynomial or elastic, see formulas/warp.py) drawn from
derive_seed(seed, c). A class is one image: the map is deterministic, so a
second instance would repeat it byte for byte (variety comes from training
augmentation).
"""
import hashlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from fdsl_gen.configs import Real1PConfig
from fdsl_gen.encode import encode_png
from fdsl_gen.errors import UserError
from fdsl_gen.formulas.warp import EDGE, canny, draw_transform, warp
from fdsl_gen.params import csv_bytes
from fdsl_gen.recipe import Recipe, derive_seed, generator

_TRANSFORM = 3


class Real1P(Recipe):
    """Single real image: Canny edges of one photo, L transformed classes (LPCE)."""

    name = "real1p"
    Config = Real1PConfig
    loss = "lpce"
    levels = (0, EDGE)

    def __init__(self, config, seed, progress=None, threads=1):
        super().__init__(config, seed, progress, threads)
        _check(config)
        self.edges = canny(load_grey(config.image, config.size), config.canny_low, config.canny_high)
        if not self.edges.any():
            raise UserError(f"Canny finds no edge in {config.image} with thresholds "
                            f"{config.canny_low:g}/{config.canny_high:g}; lower canny_low/canny_high",
                            options=("canny_low", "canny_high"))
        self.image_sha256 = hashlib.sha256(Path(config.image).read_bytes()).hexdigest()
        self.draws = np.stack([self._draws(cls) for cls in range(config.classes)])

    @property
    def num_classes(self):
        return self.config.classes

    def _draws(self, cls):
        rng = generator(derive_seed(self.seed, _TRANSFORM, cls))
        return draw_transform(self.config.transform, self.config.delta, rng, self.config.elastic_grid)

    def render_group(self, cls, group):
        image = warp(self.edges, self.config.transform, self.draws[cls], self.config.elastic_grid)
        return [(image, {"class": cls, "transform": self.config.transform, "draws": self.draws[cls].tolist()})]

    def describe(self):
        return dict(super().describe(), image_sha256=self.image_sha256, samples_per_class=1,
                    edge_share=float(np.count_nonzero(self.edges) / self.edges.size),
                    class_columns="class, then the transform's draws (see docs/onepfrac.md)")

    def extra_files(self):
        table = np.concatenate([np.arange(self.num_classes)[:, None], self.draws], axis=1)
        return {"params/edges.png": encode_png(self.edges, self.levels),
                "params/transforms.csv": csv_bytes(table, fmt="%.17g")}


def load_grey(path, size):
    """The photo as uint8 grey (ITU-R 601 luma), upright, centre-cropped square, size x size."""
    try:
        with Image.open(path) as pil:
            # a camera's EXIF orientation tag says how the stored pixels must turn to stand upright
            grey = _luma8(ImageOps.exif_transpose(pil))
    except FileNotFoundError:
        raise UserError(f"image {path} does not exist") from None
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise UserError(f"cannot read image {path}: {err}") from None
    height, width = grey.shape
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = grey[top:top + side, left:left + side]
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_CUBIC)


def _luma8(pil):
    """8-bit grey; 16-bit grey pictures are scaled (65535 -> 255), where convert("L") would clip at 255."""
    if pil.mode in ("I;16", "I;16L", "I;16B", "I"):
        wide = np.asarray(pil, dtype=np.float64)
        return np.clip(np.rint(wide / 257.0), 0, 255).astype(np.uint8)
    return np.asarray(pil.convert("L"))


def _check(config):
    if not config.image:
        raise UserError("give the photo with image PATH", options="image")
    if config.canny_low > config.canny_high:
        raise UserError("Canny thresholds must satisfy 0 <= canny_low <= canny_high",
                        options=("canny_low", "canny_high"))
