"""2D iterated function systems: chaos game, rescale to pixels, drawing.

A system is an (N, 7) float64 array of rows a, b, c, d, e, f, p; map i sends
(x, y) to (a x + b y + e, c x + d y + f). Kernels take and return arrays only.
The arithmetic follows the reference implementation operation by operation
(no fused multiply-add, same evaluation order) so that point sets match it
bit for bit.
"""
import numpy as np

from fdsl_gen.formulas.jit import numba
from fdsl_gen.formulas.splitmix import splitmix64

PATCH_VALUE = 127
_U16_LIMIT = 2.0 ** 31


@numba.njit(cache=True, nogil=True)
def select_maps(system, u):
    """Index of the map each uniform picks: the first j with u <= p_0 + .. + p_j.

    Returns len(system) where rounding leaves no map. Done apart from the
    orbit so that the orbit loop carries no data-dependent branch.
    """
    nmaps = system.shape[0]
    cumulative = np.empty(nmaps)
    total = 0.0
    for j in range(nmaps):
        total += system[j, 6]
        cumulative[j] = total
    picks = np.empty(u.shape[0], np.int8)
    for i in range(u.shape[0]):
        j = 0
        for k in range(nmaps):
            j += u[i] > cumulative[k]
        picks[i] = j
    return picks


@numba.njit(cache=True, nogil=True)
def chaos_game(system, u):
    """Orbit of (0, 0) driven by the uniforms `u`; returns xs, ys of len(u).

    Point i + 1 is map picks[i] applied to point i; when rounding leaves no
    map, the point repeats, as in the reference.
    """
    n = u.shape[0]
    nmaps = system.shape[0]
    picks = select_maps(system, u)
    xs = np.empty(n)
    ys = np.empty(n)
    x = 0.0
    y = 0.0
    xs[0] = x
    ys[0] = y
    for i in range(n - 1):
        j = picks[i]
        if j < nmaps:
            nx = x * system[j, 0] + y * system[j, 1] + system[j, 4]
            y = x * system[j, 2] + y * system[j, 3] + system[j, 5]
            x = nx
        xs[i + 1] = x
        ys[i + 1] = y
    return xs, ys


def _delete_before_nan(key, xs, ys):
    nan_index = np.flatnonzero(np.isnan(key))
    if nan_index.size == 0:
        return xs, ys
    first = nan_index[0]
    rows = np.append(np.arange(first - 100, first), nan_index)
    try:
        return np.delete(xs, rows), np.delete(ys, rows)
    except IndexError:
        # The reference crashes here (too few points left): nothing to draw.
        return xs[:0], ys[:0]


def drop_divergent(xs, ys):
    """Remove NaN points and the 100 points before the first one, x then y.

    Mirrors the reference's numpy.delete calls, including their wrap-around
    of negative indices when the first NaN comes before point 100.
    """
    xs, ys = _delete_before_nan(xs, xs, ys)
    return _delete_before_nan(ys, xs, ys)


@numba.njit(cache=True, nogil=True)
def _extent(values):
    """(values.min(), values.max()), both NaN once one value is, written out: numba keeps its array
    methods in a module whose import (it loads scipy's BLAS) would add 0.15 CPU-s to loading this
    kernel from the cache."""
    if values.shape[0] == 0:
        raise ValueError("zero-size array to reduction operation minimum which has no identity")
    lo = hi = values[0]
    for i in range(values.shape[0]):
        v = values[i]
        if v != v:
            return v, v
        if v < lo:
            lo = v
        if v > hi:
            hi = v
    return lo, hi


@numba.njit(cache=True, nogil=True)
def _axis_to_pixels(values, size, pad):
    lo, hi = _extent(values)
    shift = lo if lo < 0.0 else 0.0
    span = (hi - shift) - (lo - shift)
    scale = float(size - 2 * pad)
    offset = float(pad)
    out = np.empty(values.shape[0], np.uint16)
    for i in range(values.shape[0]):
        v = (values[i] - shift) / span * scale + offset
        # C's double -> uint16 conversion as numpy does it on x86: truncate
        # through int32 and keep the low 16 bits; NaN and inf become 0.
        v = v if abs(v) < _U16_LIMIT else 0.0
        out[i] = np.uint16(np.int64(v) & 0xFFFF)
    return out


def to_pixels(xs, ys, size, pad=6):
    """Rescale an orbit to integer pixel coordinates on a size x size canvas.

    Returns (px, py) uint16 arrays (the reference's type), empty when
    nothing is left.
    """
    if np.isnan(xs).any() or np.isnan(ys).any():
        xs, ys = drop_divergent(xs, ys)
    if xs.size == 0:
        empty = np.empty(0, np.uint16)
        return empty, empty
    return _axis_to_pixels(xs, size, pad), _axis_to_pixels(ys, size, pad)


@numba.njit(cache=True, nogil=True)
def fill_rate(px, py, size):
    """Fraction of the size x size canvas hit by at least one point."""
    hit = np.zeros((size, size), np.uint8)
    count = 0
    for i in range(px.shape[0]):
        x = px[i]
        y = py[i]
        if x < size and y < size and hit[y, x] == 0:
            hit[y, x] = 1
            count += 1
    return count / (size * size)


@numba.njit(cache=True, nogil=True)
def orbit_fill_rate(system, u, size, pad):
    """fill_rate(to_pixels(chaos_game(system, u))) in one pass, for the search.

    Returns -1.0 when the orbit holds a NaN; the caller then takes the exact
    slow path (to_pixels drops the points around it).
    """
    xs, ys = chaos_game(system, u)
    for i in range(xs.shape[0]):
        if xs[i] != xs[i] or ys[i] != ys[i]:
            return -1.0
    px = _axis_to_pixels(xs, size, pad)
    py = _axis_to_pixels(ys, size, pad)
    return fill_rate(px, py, size)


@numba.njit(cache=True, nogil=True)
def patch_masks(n, seed):
    """n uniform integers in [1, 511] from a splitmix64 stream seeded by `seed`.

    Nine-bit chunks of each 64-bit word, zero rejected: exactly uniform.
    """
    masks = np.empty(n, np.uint16)
    state = np.uint64(seed)
    word = np.uint64(0)
    left = 0
    i = 0
    while i < n:
        if left == 0:
            state, word = splitmix64(state)
            left = 7
        m = np.uint16(word & np.uint64(511))
        word = word >> np.uint64(9)
        left -= 1
        if m != 0:
            masks[i] = m
            i += 1
    return masks


@numba.njit(cache=True, nogil=True)
def draw_points(px, py, size, values):
    """Point mode: values[i % len(values)] at (py, px) on a size x size canvas."""
    canvas = np.zeros((size, size), np.uint8)
    period = values.shape[0]
    for i in range(px.shape[0]):
        if px[i] < size and py[i] < size:
            canvas[py[i], px[i]] = values[i % period]
    return canvas


@numba.njit(cache=True, nogil=True)
def draw_patches(px, py, size, masks, values):
    """Patch mode: a 3 x 3 patch per point, top-left at (py + 1, px + 1).

    Bit (8 - 3 r - c) of the point's mask selects values[i % len(values)] or
    0 at patch cell (r, c); zeros overwrite earlier points, as the
    reference's paste does. Drawn on a canvas with a 3-pixel margin, cropped
    at the end, so the inner loop has no clipping branch.
    """
    canvas = np.zeros((size + 3, size + 3), np.uint8)
    period = values.shape[0]
    k = 0
    for i in range(px.shape[0]):
        x = px[i] + 1
        y = py[i] + 1
        if x <= size and y <= size:
            m = np.int64(masks[i])
            v = np.int64(values[k])
            for r in range(3):
                for c in range(3):
                    canvas[y + r, x + c] = v * ((m >> (8 - 3 * r - c)) & 1)
        k += 1  # a wrapping counter, not i % period: a division per point costs more than the patch
        if k == period:
            k = 0
    return canvas[:size, :size]


def hue_cycle(period=128):
    """The reference's per-point colours: an HSI-like hue wheel, S = I = 0.75."""
    table = np.empty((period, 3), np.uint8)
    for i in range(period):
        table[i] = _hue_color(i, period)
    return table


def hue_lut(period=128):
    """Colour of a canvas drawn with HUE_INDEX values: 0 is black, k + 1 is hue k."""
    return np.vstack([np.zeros((1, 3), np.uint8), hue_cycle(period)])


def _hue_color(index, period):
    s = 0.75
    h = 2.0 * np.pi * (float(index % period) / float(period))
    if h >= 2.0 * np.pi:
        h -= 2.0 * np.pi
    sector = np.floor((3.0 / np.pi) * h)
    i = 0.75
    p = i * (1.0 - s)
    q = i * (1.0 - s * ((3.0 / np.pi) * h - sector))
    t = i * (1.0 - s * ((1.0 - (3.0 / np.pi) * h) + sector))
    i, p, q, t = (np.uint8(v * 255.0) for v in (i, p, q, t))
    return [(p, t, i), (p, i, q), (t, i, p), (i, q, p), (i, p, t), (q, p, i)][int(sector)]


GRAY = np.array([PATCH_VALUE], np.uint8)
HUE_INDEX = np.arange(1, 129, dtype=np.uint8)
