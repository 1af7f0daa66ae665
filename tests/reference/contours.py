"""The RCDB/VisualAtom reference drawing (noise.pnoise1, PIL lines grown outward), in NumPy.

Tests hold fdsl's contour kernels equal to these.
"""
import math

import numpy as np
from PIL import Image, ImageDraw

from fdsl_gen.formulas.contours import PERM

SIZE = 512  # the reference's canvas


def pnoise1(x):
    """`noise.pnoise1` on a float32 array (one octave, repeat 1024, base 0), in NumPy."""
    x = np.asarray(x, np.float32)
    cell = np.floor(x).astype(np.int64)
    f = x - cell.astype(np.float32)
    hashes = PERM[cell % 1024 & 255], PERM[(cell % 1024 + 1) % 1024 & 255]
    g0, g1 = (np.where(h & 8, -1, (h & 7) + 1).astype(np.float32) for h in hashes)
    fade = f * f * f * (f * (f * np.float32(6) - np.float32(15)) + np.float32(10))
    a, b = g0 * f, g1 * (f - np.float32(1))
    return (a + fade * (b - a)) * np.float32(0.4)


def noise_rows(rand, n):
    """pnoise1 at n uniform positions in [0, 10000), as the reference draws them."""
    return pnoise1([rand.uniform(0, 10000) for _ in range(n)]).astype(np.float64)


def draw_polygons(canvas_color, start_x, start_y, cx, cy, grays, noise_x, noise_y, amp, offset, w):
    """The reference's loop: move every vertex, then one PIL line per segment."""
    n = len(start_x)
    image = Image.new("RGB", (SIZE, SIZE), canvas_color)
    draw = ImageDraw.Draw(image)
    angle = math.pi * 2 / n
    vx, vy = list(start_x) + [start_x[0]], list(start_y) + [start_y[0]]
    for gray, nx, ny in zip(grays, noise_x, noise_y):
        for v in range(n):
            vx[v] -= math.cos(angle * v) * (nx[v] * amp + offset[v] - w)
            vy[v] -= math.sin(angle * v) * (ny[v] * amp + offset[v] - w)
        vx[n], vy[n] = vx[0], vy[0]
        for i in range(n):
            draw.line((vx[i] + cx, vy[i] + cy, vx[i + 1] + cx, vy[i + 1] + cy), fill=(gray, gray, gray), width=1)
    return image
