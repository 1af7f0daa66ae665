"""2D gradient noise (Ken Perlin's improved noise) and its fractal sum, in numba.

One octave: the plane is cut into unit cells; each lattice corner gets one of
eight gradients, (+-1, +-1), (+-1, 0), (0, +-1), through a permutation of
0..255 (so the field repeats every 256 cells); a point's value is the
quintic-faded blend of the four corners' dot products. It is 0 on every
lattice point, continuous with continuous first and second derivatives, and
lies in [-1, 1].
"""
import math

import numpy as np

from fdsl_gen.formulas.jit import numba


def permutation(rng):
    """A random permutation of 0..255, doubled so that perm[i + 1] never needs a modulo."""
    perm = rng.permutation(256).astype(np.int64)
    return np.concatenate([perm, perm])


@numba.njit(cache=True, nogil=True)
def _fade(t):
    return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)


@numba.njit(cache=True, nogil=True)
def _grad(h, x, y):
    h &= 7
    if h < 4:  # diagonals
        return (x if h & 1 == 0 else -x) + (y if h & 2 == 0 else -y)
    if h < 6:
        return x if h == 4 else -x
    return y if h == 6 else -y


@numba.njit(cache=True, nogil=True)
def noise2(x, y, perm):
    """One octave at (x, y); `perm` from `permutation`."""
    fx, fy = math.floor(x), math.floor(y)
    i, j = int(fx) & 255, int(fy) & 255
    x, y = x - fx, y - fy
    u, v = _fade(x), _fade(y)
    a, b = perm[i] + j, perm[i + 1] + j
    n00 = _grad(perm[a], x, y)
    n10 = _grad(perm[b], x - 1.0, y)
    n01 = _grad(perm[a + 1], x, y - 1.0)
    n11 = _grad(perm[b + 1], x - 1.0, y - 1.0)
    low = n00 + u * (n10 - n00)
    high = n01 + u * (n11 - n01)
    return low + v * (high - low)


@numba.njit(cache=True, nogil=True)
def fractal_image(size, frequency, octaves, persistence, x0, y0, perm):
    """(size, size) float64: sum over octaves o of persistence^o noise2 at frequency 2^o,
    the image spanning `frequency` cells of octave 0 from (x0, y0); divided by the sum of
    the amplitudes, so it stays in [-1, 1]."""
    out = np.zeros((size, size))
    total = 0.0
    for o in range(octaves):
        amp = persistence ** o
        scale = frequency * 2.0 ** o / size
        # each octave reads its own region of the field, so octaves do not share lattice points
        ox, oy = (x0 + 37.0 * o) * 2.0 ** o, (y0 + 91.0 * o) * 2.0 ** o
        for r in range(size):
            y = oy + (r + 0.5) * scale
            for c in range(size):
                out[r, c] += amp * noise2(ox + (c + 0.5) * scale, y, perm)
        total += amp
    return out / total
