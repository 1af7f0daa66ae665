"""3D iterated function systems: chaos game, normalisation, perspective drawing.

A system is an (N, 13) float64 array of rows a..l, p; map i sends (x, y, z)
to (a x + b y + c z + j, d x + e y + f z + k, g x + h y + i z + l) and is
chosen with probability p. A point cloud is an (n, 3) array. Cameras look at
the origin through an OpenGL-style perspective (square viewport, vertical
field of view), and every point is drawn as a white square of `point_size`
pixels. Kernels take and return arrays only.
"""
import numpy as np

from fdsl_gen.formulas.ifs2d import select_maps
from fdsl_gen.formulas.jit import numba

WHITE = 255
NEAR, FAR = 1.0, 100.0  # clip planes of the reference renderer (render.py: --zNear 1.0, --zFar 100)
DIMENSIONS = 3


@numba.njit(cache=True, nogil=True)
def chaos_game(system, u):
    """Orbit of the origin driven by the uniforms `u`: (len(u) - 1, 3) points.

    As in the reference, the origin itself is not kept, uniform i picks the
    map of point i + 1 and the last uniform is unused; when rounding leaves
    no map, the point repeats. Sums run in the reference's order.
    """
    n = u.shape[0] - 1
    nmaps = system.shape[0]
    # select_maps reads p from column 6: the last seven columns of a row end with p.
    picks = select_maps(system[:, 6:], u)
    points = np.empty((max(n, 0), DIMENSIONS))
    x = 0.0
    y = 0.0
    z = 0.0
    for i in range(n):
        m = picks[i]
        if m < nmaps:
            s = system[m]
            nx = x * s[0] + y * s[1] + z * s[2] + s[9]
            ny = x * s[3] + y * s[4] + z * s[5] + s[10]
            z = x * s[6] + y * s[7] + z * s[8] + s[11]
            x = nx
            y = ny
        points[i, 0] = x
        points[i, 1] = y
        points[i, 2] = z
    return points


@numba.njit(cache=True, nogil=True)
def normalise(points):
    """Scale all axes jointly onto [-1, 1], then move the centroid to the origin.

    Works in place on a C-contiguous cloud. Returns False, leaving the points
    unusable, when the orbit overflowed (inf or NaN) or collapsed to a single
    value: the reference's min-max scaling turns such a cloud into NaN
    everywhere.
    """
    flat = points.reshape(-1)
    lo = flat[0]
    hi = flat[0]
    poison = 0.0  # v * 0 is NaN for v = inf or NaN, so this sum says whether any value is
    for v in flat:
        lo = min(lo, v)
        hi = max(hi, v)
        poison += v * 0.0
    if poison != 0.0 or not hi > lo:
        return False
    span = hi - lo
    centre = np.zeros(DIMENSIONS)
    for i in range(points.shape[0]):
        for k in range(DIMENSIONS):
            v = (points[i, k] - lo) / span * 2.0 - 1.0
            points[i, k] = v
            centre[k] += v
    centre /= points.shape[0]
    for i in range(points.shape[0]):
        for k in range(DIMENSIONS):
            points[i, k] -= centre[k]
    return True


@numba.njit(cache=True, nogil=True)
def variances(points):
    """Population variance of each axis (numpy.var along the points)."""
    n = points.shape[0]
    mean = np.zeros(DIMENSIONS)
    for i in range(n):
        for k in range(DIMENSIONS):
            mean[k] += points[i, k]
    mean /= n
    var = np.zeros(DIMENSIONS)
    for i in range(n):
        for k in range(DIMENSIONS):
            d = points[i, k] - mean[k]
            var[k] += d * d
    return var / n


def point_cloud(system, u):
    """The normalised cloud of a system, or None when it diverges or collapses."""
    points = chaos_game(system, u)
    return points if points.shape[0] > 0 and normalise(points) else None


@numba.njit(cache=True, nogil=True)
def look_at(positions, ups):
    """Cameras at `positions` (V, 3) looking at the origin, `ups` hinting "up".

    Returns (V, 4, 3): position, right, up and forward unit vectors, the
    rows of glm.lookAt's view matrix (right = forward x up, up = right x
    forward).
    """
    cameras = np.empty((positions.shape[0], 4, DIMENSIONS))
    for v in range(positions.shape[0]):
        cam = cameras[v]
        cam[0] = positions[v]
        cam[3] = -positions[v] / _norm(positions[v])
        cam[1] = _cross(cam[3], ups[v])
        cam[1] /= _norm(cam[1])
        cam[2] = _cross(cam[1], cam[3])
    return cameras


@numba.njit(cache=True, nogil=True, inline="always")
def _norm(vector):
    """np.sqrt(np.sum(vector ** 2)), the same operations in the same order, written out: np.sum lives in
    a numba module whose import (it loads scipy's BLAS) would add 0.15 CPU-s to loading look_at from the cache."""
    total = 0.0
    for k in range(vector.shape[0]):
        total += vector[k] ** 2
    return np.sqrt(total)


@numba.njit(cache=True, nogil=True, inline="always")
def _cross(a, b):
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


@numba.njit(cache=True, nogil=True)
def draw_views(points, cameras, size, point_size, fov_degrees, bottom_up):
    """One size x size uint8 image per camera: (V, size, size), points white on black.

    A point at window position (wx, wy) (OpenGL: origin at the bottom-left
    corner, pixel centres at half-integers) fills the point_size x
    point_size pixels whose centres lie in the square of side point_size
    around it, as glPointSize does. Row 0 is the top of the image, or the
    bottom when `bottom_up` (glReadPixels' order, which the reference saves).
    Points before the near plane or beyond the far plane are clipped.
    """
    images = np.zeros((cameras.shape[0], size, size), np.uint8)
    half = 0.5 * size
    focal = half / np.tan(np.radians(fov_degrees) * 0.5)
    # wx, wy below are window positions shifted by (1 - point_size) / 2:
    # their floors are the first covered column and row.
    corner = half + 0.5 - 0.5 * point_size
    for v in range(cameras.shape[0]):
        px, py, pz = cameras[v, 0, 0], cameras[v, 0, 1], cameras[v, 0, 2]
        rx, ry, rz = cameras[v, 1, 0], cameras[v, 1, 1], cameras[v, 1, 2]
        ux, uy, uz = cameras[v, 2, 0], cameras[v, 2, 1], cameras[v, 2, 2]
        fx, fy, fz = cameras[v, 3, 0], cameras[v, 3, 1], cameras[v, 3, 2]
        for i in range(points.shape[0]):
            dx = points[i, 0] - px
            dy = points[i, 1] - py
            dz = points[i, 2] - pz
            depth = dx * fx + dy * fy + dz * fz
            if depth < NEAR or depth > FAR:
                continue
            scale = focal / depth
            wx = corner + (dx * rx + dy * ry + dz * rz) * scale
            wy = corner + (dx * ux + dy * uy + dz * uz) * scale
            # Some covered pixel is inside iff floor(wx) lies in [1 - point_size, size).
            if 1 - point_size <= wx < size and 1 - point_size <= wy < size:
                _stamp(images, v, int(np.floor(wx)), int(np.floor(wy)), point_size, bottom_up)
    return images


@numba.njit(cache=True, nogil=True, inline="always")
def _stamp(images, v, col, low, point_size, bottom_up):
    """Fill the point_size square whose bottom-left pixel is (col, low) in image v, clipped."""
    size = images.shape[1]
    if point_size == 1:
        images[v, low if bottom_up else size - 1 - low, col] = WHITE
        return
    for r in range(max(low, 0), min(low + point_size, size)):
        row = r if bottom_up else size - 1 - r
        for c in range(max(col, 0), min(col + point_size, size)):
            images[v, row, c] = WHITE
