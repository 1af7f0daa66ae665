"""Radial contours (RCDB, VisualAtom): 1-D Perlin noise, polygon growth, 1-px lines.

An image is a polygon of n vertices on the rays at angles 2 pi v / n, grown
outward P times; after each growth the closed polygon is drawn in one grey
level. Vertex v moves by -cos(theta_v) (N_x - w) along x and
-sin(theta_v) (N_y - w) along y, with N = amp * noise + offset[v] and
independent noise for x and y (both recipes, as in the reference code).

Lines follow PIL's `ImageDraw.line(..., width=1)` pixel for pixel:
coordinates truncated toward zero, Bresenham steps, both end points drawn.
Kernels take and return arrays and scalars only.
"""
import math

import numpy as np

from fdsl_gen.formulas.jit import numba
from fdsl_gen.formulas.splitmix import splitmix64

# Ken Perlin's permutation table, twice, as the `noise` package indexes it.
_PERM_256 = (
    151, 160, 137, 91, 90, 15, 131, 13, 201, 95, 96, 53, 194, 233, 7, 225, 140, 36, 103, 30, 69, 142,
    8, 99, 37, 240, 21, 10, 23, 190, 6, 148, 247, 120, 234, 75, 0, 26, 197, 62, 94, 252, 219, 203, 117,
    35, 11, 32, 57, 177, 33, 88, 237, 149, 56, 87, 174, 20, 125, 136, 171, 168, 68, 175, 74, 165, 71,
    134, 139, 48, 27, 166, 77, 146, 158, 231, 83, 111, 229, 122, 60, 211, 133, 230, 220, 105, 92, 41,
    55, 46, 245, 40, 244, 102, 143, 54, 65, 25, 63, 161, 1, 216, 80, 73, 209, 76, 132, 187, 208, 89,
    18, 169, 200, 196, 135, 130, 116, 188, 159, 86, 164, 100, 109, 198, 173, 186, 3, 64, 52, 217, 226,
    250, 124, 123, 5, 202, 38, 147, 118, 126, 255, 82, 85, 212, 207, 206, 59, 227, 47, 16, 58, 17, 182,
    189, 28, 42, 223, 183, 170, 213, 119, 248, 152, 2, 44, 154, 163, 70, 221, 153, 101, 155, 167, 43,
    172, 9, 129, 22, 39, 253, 19, 98, 108, 110, 79, 113, 224, 232, 178, 185, 112, 104, 218, 246, 97,
    228, 251, 34, 242, 193, 238, 210, 144, 12, 191, 179, 162, 241, 81, 51, 145, 235, 249, 14, 239,
    107, 49, 192, 214, 31, 181, 199, 106, 157, 184, 84, 204, 176, 115, 121, 50, 45, 127, 4, 150, 254,
    138, 236, 205, 93, 222, 114, 67, 29, 24, 72, 243, 141, 128, 195, 78, 66, 215, 61, 156, 180,
)
PERM = np.array(_PERM_256 * 2, np.int64)
NOISE_SPAN = 10000.0  # the reference evaluates the noise at uniform positions in [0, 10000)


# pnoise1's gradient per permutation entry: (hash & 7) + 1, or -1 when hash & 8
# (not -g: a quirk of the `noise` package, kept because it shapes the distribution).
GRADIENT = np.where(PERM & 8, -1.0, (PERM & 7) + 1.0).astype(np.float32)
SPLITMIX_STEP = np.uint64(0x9E3779B97F4A7C15)  # splitmix64's increment of its state per output


@numba.njit(cache=True, nogil=True)
def _perlin_cell(f, g0, g1):
    fade = f * f * f * (f * (f * np.float32(6.0) - np.float32(15.0)) + np.float32(10.0))
    a = g0 * f
    b = g1 * (f - np.float32(1.0))
    return (a + fade * (b - a)) * np.float32(0.4)


@numba.njit(cache=True, nogil=True)
def perlin1(x, repeat, base):
    """`noise.pnoise1(x, repeat=repeat, base=base)` (one octave), in its float32 arithmetic."""
    x = np.float32(x)
    cell = math.floor(x)
    i = cell % repeat
    ii = (i + 1) % repeat
    f = x - np.float32(cell)
    return _perlin_cell(f, GRADIENT[(i & 255) + base], GRADIENT[(ii & 255) + base])


@numba.njit(cache=True, nogil=True)
def independent_noise(polygons, n, seed):
    """The reference's noise: pnoise1 at uniform positions in [0, NOISE_SPAN). Returns (P, 2, n).

    Neighbouring vertices get unrelated positions, so the values are
    independent draws from pnoise1's value distribution. The uniforms (24
    bits, as float32 draws have) come from a splitmix64 stream seeded by
    `seed`, drawn here rather than passed in: a third of the time saved.
    Positions are non-negative and pnoise1's period 1024 is a multiple of
    256, so the cell index is a bit mask (perlin1 with repeat=1024, base=0).
    """
    out = np.empty(polygons * 2 * n, np.float32)  # flat: a ravelled (P, 2, n) array keeps the loop scalar
    seed = np.uint64(seed)
    span = np.float32(NOISE_SPAN / 2.0 ** 24)
    for k in range(out.shape[0]):
        # the stream's k-th state written out, so that no step waits for the one before: the loop vectorizes
        _, word = splitmix64(seed + np.uint64(k) * SPLITMIX_STEP)
        x = np.float32(np.int32(word >> np.uint64(40))) * span
        whole = np.uint32(x)
        cell = whole & np.uint32(255)
        # GRADIENT holds the table twice, so cell + 1 needs no wrap (unsigned indices: no sign checks)
        out[k] = _perlin_cell(x - np.float32(whole), GRADIENT[cell], GRADIENT[cell + np.uint32(1)])
    return out.reshape((polygons, 2, n))


@numba.njit(cache=True, nogil=True)
def smooth_noise(phase, base, cells, n):
    """Noise coherent along the contour: `cells` Perlin cells once around the polygon.

    phase, base: (P, 2) arrays, a random shift in [0, cells) and a random
    permutation offset in [0, 256) per polygon and axis. The noise has
    period `cells`, so the contour closes smoothly at vertex 0. Returns (P, 2, n).
    """
    out = np.empty((phase.shape[0], 2, n), np.float32)
    for p in range(phase.shape[0]):
        for axis in range(2):
            for v in range(n):
                x = phase[p, axis] + cells * v / n
                out[p, axis, v] = perlin1(np.float32(x), cells, base[p, axis])
    return out


@numba.njit(cache=True, nogil=True)
def _put(canvas, x, y, gray):
    if 0 <= x < canvas.shape[1] and 0 <= y < canvas.shape[0]:
        canvas[y, x] = gray


@numba.njit(cache=True, nogil=True)
def draw_line(canvas, x0, y0, x1, y1, gray):
    """PIL's 1-px line between integer points, end points included.

    Bresenham along the major axis, stepping as PIL's C code does. A segment
    whose bounding box misses the canvas is skipped: Bresenham's pixels never
    leave that box, so the result is the same, only sooner; one whose box
    lies inside is drawn without a bounds check per pixel.
    """
    height, width = canvas.shape
    if _misses(x0, y0, x1, y1, width, height):
        return
    if _inside(x0, y0, x1, y1, width, height):
        _line_inside(canvas.reshape(canvas.size), width, x0, y0, x1, y1, gray)
    else:
        _line_clipped(canvas, x0, y0, x1, y1, gray)


@numba.njit(cache=True, nogil=True, inline="always")
def _misses(x0, y0, x1, y1, width, height):
    """Whether the segment's bounding box lies wholly off the canvas."""
    return max(x0, x1) < 0 or min(x0, x1) >= width or max(y0, y1) < 0 or min(y0, y1) >= height


@numba.njit(cache=True, nogil=True, inline="always")
def _inside(x0, y0, x1, y1, width, height):
    """Whether the segment's bounding box lies wholly on the canvas."""
    return min(x0, x1) >= 0 and max(x0, x1) < width and min(y0, y1) >= 0 and max(y0, y1) < height


@numba.njit(cache=True, nogil=True, inline="always")
def _line_inside(flat, width, x0, y0, x1, y1, gray):
    """draw_line's steps on the canvas's rows `flat`, every pixel known to be inside: one offset moves
    along the major axis each step and along the minor one when the error term says so."""
    dx = abs(x1 - x0)
    dy = abs(y1 - y0)
    xs = 1 if x1 >= x0 else -1
    ys = width if y1 >= y0 else -width
    major = max(dx, dy)
    minor = min(dx, dy)
    major_step = xs if dx >= dy else ys
    minor_step = ys if dx >= dy else xs
    at = y0 * width + x0
    e = 2 * minor - major
    for _ in range(major):
        flat[at] = gray
        down = -np.int64(e >= 0)  # all ones when the minor axis steps: no branch to mispredict
        at += major_step + (minor_step & down)
        e += 2 * minor - (2 * major & down)
    flat[y1 * width + x1] = gray


@numba.njit(cache=True, nogil=True)
def _line_clipped(canvas, x0, y0, x1, y1, gray):
    """draw_line's steps with a bounds check per pixel, for a segment that crosses the canvas's edge."""
    dx = abs(x1 - x0)
    dy = abs(y1 - y0)
    xs = 1 if x1 >= x0 else -1
    ys = 1 if y1 >= y0 else -1
    if dx >= dy:
        major, minor, major_x, major_y, minor_x, minor_y = dx, dy, xs, 0, 0, ys
    else:
        major, minor, major_x, major_y, minor_x, minor_y = dy, dx, 0, ys, xs, 0
    e = 2 * minor - major
    for _ in range(major):
        _put(canvas, x0, y0, gray)
        if e >= 0:
            x0 += minor_x
            y0 += minor_y
            e -= 2 * major
        e += 2 * minor
        x0 += major_x
        y0 += major_y
    _put(canvas, x1, y1, gray)


@numba.njit(cache=True, nogil=True)
def _blend(canvas, x, y, gray, alpha):
    if 0 <= x < canvas.shape[1] and 0 <= y < canvas.shape[0]:
        old = canvas[y, x]
        canvas[y, x] = np.uint8(old + alpha * (gray - old) + 0.5)


@numba.njit(cache=True, nogil=True)
def draw_line_aa(canvas, x0, y0, x1, y1, gray):
    """Anti-aliased line (Xiaolin Wu) between float pixel centres, blended over the canvas."""
    height, width = canvas.shape
    if max(x0, x1) < -1 or min(x0, x1) > width or max(y0, y1) < -1 or min(y0, y1) > height:
        return
    steep = abs(y1 - y0) > abs(x1 - x0)
    if steep:
        x0, y0, x1, y1 = y0, x0, y1, x1
    if x0 > x1:
        x0, x1, y0, y1 = x1, x0, y1, y0
    dx = x1 - x0
    gradient = (y1 - y0) / dx if dx > 0 else 0.0
    start = int(math.floor(x0 + 0.5))
    stop = int(math.floor(x1 + 0.5))
    for x in range(start, stop + 1):
        y = y0 + gradient * (x - x0)
        row = int(math.floor(y))
        frac = y - row
        if steep:
            _blend(canvas, row, x, gray, 1.0 - frac)
            _blend(canvas, row + 1, x, gray, frac)
        else:
            _blend(canvas, x, row, gray, 1.0 - frac)
            _blend(canvas, x, row + 1, gray, frac)


@numba.njit(cache=True, nogil=True)
def grow_and_draw(canvas, x, y, cx, cy, amp, offset, w, noise, grays, scale, antialias):
    """Grow the polygon len(grays) times and draw each closed polygon.

    x, y: (n,) start vertices relative to the centre (cx, cy), in reference
    pixels (a 512-px canvas); scale maps them onto the canvas. noise:
    (P, 2, n) values for x and y; offset: (n,) the non-random part of N.
    Returns the vertices after the last growth.
    """
    n = x.shape[0]
    x = x.copy()
    y = y.copy()
    cos = np.empty(n)
    sin = np.empty(n)
    angle = 2.0 * math.pi / n
    for v in range(n):
        cos[v] = math.cos(angle * v)
        sin[v] = math.sin(angle * v)
    px = np.empty(n + 1)
    py = np.empty(n + 1)
    ix = np.empty(n + 1, np.int64)
    iy = np.empty(n + 1, np.int64)
    height, width = canvas.shape
    flat = canvas.reshape(height * width)
    for p in range(grays.shape[0]):
        for v in range(n):
            x[v] -= cos[v] * (amp * noise[p, 0, v] + offset[v] - w)
            y[v] -= sin[v] * (amp * noise[p, 1, v] + offset[v] - w)
            px[v] = (x[v] + cx) * scale
            py[v] = (y[v] + cy) * scale
        px[n] = px[0]
        py[n] = py[0]
        if antialias:
            for v in range(n):
                draw_line_aa(canvas, px[v], py[v], px[v + 1], py[v + 1], grays[p])
            continue
        for v in range(n + 1):
            # int() truncates toward zero, as PIL's C code does with float coordinates.
            ix[v] = int(px[v])
            iy[v] = int(py[v])
        gray = grays[p]
        for v in range(n):  # draw_line, written out: a call per segment made VisualAtom's drawing a third slower
            x0, y0, x1, y1 = ix[v], iy[v], ix[v + 1], iy[v + 1]
            if _misses(x0, y0, x1, y1, width, height):
                continue
            if _inside(x0, y0, x1, y1, width, height):
                _line_inside(flat, width, x0, y0, x1, y1, gray)
            else:
                _line_clipped(canvas, x0, y0, x1, y1, gray)
    return x, y
