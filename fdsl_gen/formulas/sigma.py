"""Sigma-factor IFS sampling (Anderson & Farrell) and the 1p-frac perturbations.

The sigma-factor of a 2D system is the sum over its maps of s1 + 2 s2, where
s1 >= s2 are the singular values of the map's 2 x 2 linear part. Sampling
fixes it first, splits it into per-map singular-value pairs in [0, 1], then
builds each map as A = U diag(s1, s2) V^T with random rotation-reflections U
and V, so the systems are contractive and their "shape complexity" is set
by one number. Systems are (N, 7) rows a, b, c, d, e, f, p as in ifs2d.
"""
import numpy as np

SIGMA_MARGIN = 0.1
PAIR_MAX = 3.0  # s1 + 2 s2 with s2 <= s1 <= 1


def sigma_factor(system):
    """Sum over maps of s1 + 2 s2 of each linear part [[a, b], [c, d]]."""
    linear = system[:, :4].reshape(-1, 2, 2)
    singular = np.linalg.svd(linear, compute_uv=False)
    return float((singular[:, 0] + 2.0 * singular[:, 1]).sum())


def sigma_range(maps):
    """The sigma-factors an N-map contractive system can have."""
    return 0.0, PAIR_MAX * maps


def singular_values(maps, sigma, rng):
    """(maps, 2) pairs s1 >= s2 in [0, 1] with sum(s1 + 2 s2) == sigma.

    Pairs are drawn one after another, each uniformly within the bounds that
    still let the remaining pairs (at most 3 each) reach exactly sigma; the
    last pair takes what is left.
    """
    pairs = np.empty((maps, 2))
    left = float(sigma)
    for i in range(maps - 1):
        room_after = PAIR_MAX * (maps - 1 - i)
        s1 = rng.uniform(max(0.0, (left - room_after) / 3.0), min(1.0, left))
        s2 = rng.uniform(max(0.0, (left - s1 - room_after) / 2.0), min(s1, (left - s1) / 2.0))
        pairs[i] = s1, s2
        left -= s1 + 2.0 * s2
    # Last pair: s1 = left - 2 s2 with s2 <= s1 <= 1.
    s2 = rng.uniform(max(0.0, (left - 1.0) / 2.0), left / 3.0)
    pairs[-1] = left - 2.0 * s2, s2
    return pairs


def rotation_reflections(count, rng):
    """`count` random 2 x 2 orthogonal matrices: a rotation times a sign flip per axis."""
    angle = rng.uniform(-np.pi, np.pi, count)
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    signs = rng.choice([-1.0, 1.0], size=(count, 1, 2))
    return rotation * signs


def sample_system(maps, sigma, rng, margin=SIGMA_MARGIN):
    """An N-map system whose sigma-factor is drawn from U(sigma - margin, sigma + margin).

    Returns (system, drawn sigma). p is proportional to |det A| = s1 s2.
    """
    drawn = rng.uniform(sigma - margin, sigma + margin)
    pairs = singular_values(maps, drawn, rng)
    u = rotation_reflections(maps, rng)
    v = rotation_reflections(maps, rng)
    linear = u * pairs[:, None, :] @ np.swapaxes(v, 1, 2)
    system = np.empty((maps, 7))
    system[:, :4] = linear.reshape(maps, 4)
    system[:, 4:6] = rng.uniform(-1.0, 1.0, (maps, 2))
    det = pairs[:, 0] * pairs[:, 1]
    # A pair with s2 == 0 is a projection: give it no weight unless all are.
    system[:, 6] = det / det.sum() if det.sum() > 0 else 1.0 / maps
    return system, float(drawn)


def perturbation(maps, delta, form, rng):
    """(maps, 6) draws for a..f: factors U(1 - delta, 1 + delta) ("mul", the
    reference code) or offsets U(-delta / 2, delta / 2) ("add", the paper)."""
    if form == "mul":
        return rng.uniform(1.0 - delta, 1.0 + delta, (maps, 6))
    return rng.uniform(-delta / 2.0, delta / 2.0, (maps, 6))


def apply_perturbation(system, draws, form):
    """The perturbed system; p is kept, as in the reference."""
    out = system.copy()
    if form == "mul":
        out[:, :6] *= draws
    else:
        out[:, :6] += draws
    return out
