"""Random category searches over one legacy RandomState stream, trial for trial.

The official FractalDB search consumes the stream in the reference's order
and accepts a trial when its point image fills at least `fill` of the canvas;
the ExFractalDB search draws 3D systems and accepts a cloud that varies
enough on every axis.
The stream is drawn in order on the calling thread, while each trial's
chaos game and test run on a thread pool (the kernels release the GIL), so
the accepted set is the reference's whatever the thread count.
"""
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fdsl_gen.errors import SearchExhausted
from fdsl_gen.formulas.ifs2d import chaos_game, fill_rate, orbit_fill_rate, to_pixels

PARAMS_3D = 12  # a..l of a 3D map; its file row adds p
# The default bound on trials per category asked for: the official searches need about 43 (2D) and 84 (3D)
# on average.
TRIALS_PER_CATEGORY = 2_000


def draw_trial(rs, points):
    """One trial's system and chaos-game uniforms, drawn as the reference does."""
    nmaps = rs.randint(2, 8)
    system = np.zeros((nmaps, 7))
    total = 0.0
    for i in range(nmaps):
        a, b, c, d, e, f = rs.uniform(-1.0, 1.0, 6)
        prob = abs(a * d - b * c)
        total += prob
        system[i] = a, b, c, d, e, f, prob
    system[:, 6] /= total
    return system, rs.random_sample(points)


def trial_fill(system, u, size, pad=6):
    """Fill rate of the point image of one trial."""
    rate = orbit_fill_rate(system, u, size, pad)
    if rate >= 0.0:
        return rate
    px, py = to_pixels(*chaos_game(system, u), size, pad)
    return fill_rate(px, py, size)


def sequential_search(categories, seed, draw, score, passes, threads=1, on_accept=None, max_trials=0):
    """The first `categories` trials of one RandomState stream whose score passes.

    `draw(rs)` takes (system, uniforms) from the stream, in order, on the
    calling thread; `score(system, uniforms)` runs on a thread pool (numba
    kernels release the GIL), so the accepted set does not depend on
    `threads`. `on_accept(index, system, score, trials)` is called as each
    category is found. Returns ([(system, score)], trials), or raises
    SearchExhausted after `max_trials` trials (0: TRIALS_PER_CATEGORY per category).
    """
    limit = max_trials or TRIALS_PER_CATEGORY * categories
    rs = np.random.RandomState(seed)
    accepted = []
    trials = 0
    with ThreadPoolExecutor(max(1, threads)) as pool:
        pending = deque()
        while len(accepted) < categories:
            if trials == limit:
                for _, future in pending:
                    future.cancel()
                raise SearchExhausted(f"{len(accepted)} of {categories} categories found in {trials} trials; "
                                      "loosen the acceptance test or raise max_trials", options="max_trials")
            while len(pending) < 2 * max(1, threads):
                system, u = draw(rs)
                pending.append((system, pool.submit(score, system, u)))
            system, future = pending.popleft()
            result = future.result()
            trials += 1
            if passes(result):
                accepted.append((system, result))
                if on_accept is not None:
                    on_accept(len(accepted) - 1, system, result, trials)
    return accepted, trials


def search(categories, seed=1, fill=0.2, points=100_000, size=512, threads=1, on_accept=None, max_trials=0):
    """The official FractalDB search: trials whose point image fills at least `fill`."""
    return sequential_search(categories, seed, lambda rs: draw_trial(rs, points),
                             lambda system, u: trial_fill(system, u, size), lambda rate: rate >= fill,
                             threads, on_accept, max_trials)


def draw_trial3d(rs, points):
    """One 3D trial's system (2..7 maps, p ~ |det|) and chaos-game uniforms, in the reference's order."""
    nmaps = rs.randint(2, 8)
    system = np.zeros((nmaps, PARAMS_3D + 1))
    total = 0.0
    for m in range(nmaps):
        row = rs.uniform(-1.0, 1.0, PARAMS_3D)
        prob = abs(np.linalg.det(row[:9].reshape(3, 3)))
        total += prob
        system[m, :PARAMS_3D] = row
        system[m, PARAMS_3D] = prob
    system[:, PARAMS_3D] /= total
    return system, rs.random_sample(points)


def trial_variances(system, u):
    """Per-axis variance of the normalised cloud; NaN when it diverges or collapses."""
    from fdsl_gen.formulas import ifs3d  # here: the 2D search does without its 26 ms of kernel set-up
    points = ifs3d.point_cloud(system, u)
    return np.full(3, np.nan) if points is None else ifs3d.variances(points)


def search3d(categories, seed=1, variance=0.05, points=10_000, threads=1, on_accept=None, max_trials=0):
    """The first `categories` 3D systems whose cloud varies by more than `variance` on each axis.

    Returns ([(system, variances)], trials), whatever `threads` is.
    """
    return sequential_search(categories, seed, lambda rs: draw_trial3d(rs, points), trial_variances,
                             lambda found: bool((found > variance).all()), threads, on_accept, max_trials)
