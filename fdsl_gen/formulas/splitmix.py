"""splitmix64: the seeded integer stream of the patch masks and the contour noise.

Small and exactly reproducible on every platform, and cheap enough to call
per element inside other kernels.
"""
import numpy as np

from fdsl_gen.formulas.jit import numba


@numba.njit(cache=True, nogil=True, inline="always")
def splitmix64(state):
    """(next state, 64-bit output word) of the stream at `state`."""
    state = state + np.uint64(0x9E3779B97F4A7C15)
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return state, z ^ (z >> np.uint64(31))
