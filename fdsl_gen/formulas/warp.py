"""Edge maps of one photo and the geometric perturbations that make its classes.

Coordinates are normalised so that the image spans [-1, 1] on both axes
(pixel centres of the first and last column at -1 and 1). A transform is a
displacement field D on those coordinates: output pixel p takes the edge
pixel nearest to p + D(p) (nearest neighbour keeps the map binary; outside
the image is background). Each kind draws its parameters uniformly in
[-delta/2, delta/2], so delta = 0 gives D = 0, the identity:

- affine: D(x, y) = (ea x + eb y + ee, ec x + ed y + ef), i.e. the map
  [I | 0] + eps with eps a..f as in an IFS row (6 draws);
- polynomial: each of Dx, Dy is a full quadratic
  k0 + k1 x + k2 y + k3 x^2 + k4 x y + k5 y^2 (12 draws);
- elastic: Dx, Dy given on a grid x grid lattice of control points spanning
  the image, interpolated bicubically (2 grid^2 draws).
"""
import cv2
import numpy as np
from PIL import Image

from fdsl_gen.errors import UserError

TRANSFORMS = ("affine", "polynomial", "elastic")
EDGE = 255


def load_grey(path, size):
    """The photo as uint8 grey (ITU-R 601 luma), centre-cropped square, size x size."""
    try:
        with Image.open(path) as pil:
            grey = np.asarray(pil.convert("L"))
    except FileNotFoundError:
        raise UserError(f"image {path} does not exist") from None
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise UserError(f"cannot read image {path}: {err}") from None
    height, width = grey.shape
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = grey[top:top + side, left:left + side]
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_CUBIC)


def canny(grey, low, high):
    """Binary edge map: EDGE on edges, 0 elsewhere (OpenCV's Canny, 3x3 Sobel, L1 gradient)."""
    return cv2.Canny(grey, low, high)


def draw_count(kind, grid):
    return {"affine": 6, "polynomial": 12, "elastic": 2 * grid * grid}[kind]


def draw_transform(kind, delta, rng, grid):
    """The parameters of one random transform, each in [-delta/2, delta/2]."""
    return rng.uniform(-delta / 2.0, delta / 2.0, draw_count(kind, grid))


def normalised_grid(size):
    """x, y of every pixel centre, each in [-1, 1]; x varies along columns."""
    axis = np.linspace(-1.0, 1.0, size)
    return np.meshgrid(axis, axis)


def displacement(kind, draws, size, grid):
    """(dx, dy) over the size x size image, in normalised units."""
    if kind == "elastic":
        lattice = draws.reshape(2, grid, grid)
        return tuple(cv2.resize(d, (size, size), interpolation=cv2.INTER_CUBIC) for d in lattice)
    x, y = normalised_grid(size)
    if kind == "affine":
        a, b, c, d, e, f = draws
        return a * x + b * y + e, c * x + d * y + f
    terms = (np.ones_like(x), x, y, x * x, x * y, y * y)
    return tuple(sum(k * t for k, t in zip(coeffs, terms)) for coeffs in draws.reshape(2, 6))


def warp(edges, kind, draws, grid):
    """The edge map seen through one transform (nearest neighbour, zero outside)."""
    size = edges.shape[0]
    dx, dy = displacement(kind, draws, size, grid)
    half = (size - 1) / 2.0
    rows, cols = np.indices(edges.shape)
    src_x = np.rint(cols + dx * half).astype(np.int64)
    src_y = np.rint(rows + dy * half).astype(np.int64)
    inside = (src_x >= 0) & (src_x < size) & (src_y >= 0) & (src_y < size)
    out = np.zeros_like(edges)
    out[inside] = edges[src_y[inside], src_x[inside]]
    return out
