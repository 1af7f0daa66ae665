"""Edge maps of an image and the geometric perturbations that make its classes.

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
- elastic: Dx, Dy given on a grid x grid lattice of control values,
  interpolated bicubically over the image by cv2.resize (2 grid^2 draws).
"""
import cv2
import numpy as np

TRANSFORMS = ("affine", "polynomial", "elastic")
EDGE = 255


def canny(grey, low, high):
    """Binary edge map: EDGE on edges, 0 elsewhere (OpenCV's Canny, 3x3 Sobel, L1 gradient)."""
    return cv2.Canny(grey, low, high)


def draw_count(kind, grid):
    return {"affine": 6, "polynomial": 12, "elastic": 2 * grid * grid}[kind]


def draw_transform(kind, delta, rng, grid):
    """The parameters of one random transform, each in [-delta/2, delta/2]."""
    return rng.uniform(-delta / 2.0, delta / 2.0, draw_count(kind, grid))


def source_maps(kind, draws, size, grid):
    """float32 (map_x, map_y): the edge-map pixel each output pixel shows, in pixels."""
    if kind == "elastic":
        pixel = np.arange(size, dtype=np.float32)
        lattice = (draws.reshape(2, grid, grid) * ((size - 1) / 2.0)).astype(np.float32)
        dx, dy = (cv2.resize(d, (size, size), interpolation=cv2.INTER_CUBIC) for d in lattice)
        dx += pixel[None, :]
        dy += pixel[:, None]
        return dx, dy
    if kind == "affine":
        a, b, c, d, e, f = draws
        draws = np.array([e, a, b, 0.0, 0.0, 0.0, f, c, d, 0.0, 0.0, 0.0])
    kx, ky = draws.reshape(2, 6)
    return quadratic_map(kx, size, along_x=True), quadratic_map(ky, size, along_x=False)


def quadratic_map(k, size, along_x):
    """pixel + half * (k0 + k1 x + k2 y + k3 x^2 + k4 x y + k5 y^2) over the image, float32.

    Built from a per-column and a per-row vector plus the x y term, so that
    only two or three operations run over the full image.
    """
    t = np.linspace(-1.0, 1.0, size)
    half = (size - 1) / 2.0
    pixel = np.arange(size, dtype=np.float64)
    per_column = half * (k[0] + k[1] * t + k[3] * t * t) + (pixel if along_x else 0.0)
    per_row = half * (k[2] * t + k[5] * t * t) + (0.0 if along_x else pixel)
    out = np.add(per_column.astype(np.float32)[None, :], per_row.astype(np.float32)[:, None])
    if k[4]:
        out += np.multiply.outer((half * k[4] * t).astype(np.float32), t.astype(np.float32))
    return out


def warp(edges, kind, draws, grid):
    """The edge map seen through one transform (nearest neighbour, zero outside).

    OpenCV rounds the source coordinates to the nearest pixel, ties to even.
    """
    map_x, map_y = source_maps(kind, draws, edges.shape[0], grid)
    return cv2.remap(edges, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
