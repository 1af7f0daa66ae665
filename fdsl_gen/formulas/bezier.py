"""Cubic Bezier curves drawn as 1-pixel (or wider) white strokes on black, in numba."""
import math

import numpy as np

from fdsl_gen.formulas.jit import numba

WHITE = 255


@numba.njit(cache=True, nogil=True)
def point(control, t):
    """The point at t of the cubic curve with control points control[0..3] (rows x, y)."""
    s = 1.0 - t
    a, b, c, d = s * s * s, 3.0 * s * s * t, 3.0 * s * t * t, t * t * t
    return (a * control[0, 0] + b * control[1, 0] + c * control[2, 0] + d * control[3, 0],
            a * control[0, 1] + b * control[1, 1] + c * control[2, 1] + d * control[3, 1])


@numba.njit(cache=True, nogil=True)
def draw_curves(controls, size, width):
    """(size, size) uint8: every curve of `controls` (K, 4, 2), coordinates in [0, 1] of the image
    side (x right, y down), stroked with width x width squares of WHITE, clipped at the border.

    A curve is sampled at twice its control polygon's length in pixels (which
    bounds the curve's length), so consecutive samples are under a pixel
    apart and the stroke has no gaps."""
    image = np.zeros((size, size), np.uint8)
    half = (width - 1) // 2
    for k in range(controls.shape[0]):
        control = controls[k]
        length = 0.0
        for m in range(3):
            length += math.hypot(control[m + 1, 0] - control[m, 0], control[m + 1, 1] - control[m, 1])
        steps = int(2.0 * length * size) + 2
        for s in range(steps + 1):
            x, y = point(control, s / steps)
            col, row = int(math.floor(x * size)) - half, int(math.floor(y * size)) - half
            for r in range(max(row, 0), min(row + width, size)):
                for c in range(max(col, 0), min(col + width, size)):
                    image[r, c] = WHITE
    return image
