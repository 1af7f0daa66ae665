"""Random category searches over one legacy RandomState stream, trial for trial.

The official FractalDB search consumes the stream in the reference's order
and accepts a trial when its point image fills at least `fill` of the canvas.
The stream is drawn in order on the calling thread, while each trial's
chaos game and test run on a thread pool (the kernels release the GIL), so
the accepted set is the reference's whatever the thread count.
"""
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fdsl_gen.formulas.ifs2d import chaos_game, fill_rate, orbit_fill_rate, to_pixels


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


def sequential_search(categories, seed, draw, score, passes, threads=1, on_accept=None):
    """The first `categories` trials of one RandomState stream whose score passes.

    `draw(rs)` takes (system, uniforms) from the stream, in order, on the
    calling thread; `score(system, uniforms)` runs on a thread pool (numba
    kernels release the GIL), so the accepted set does not depend on
    `threads`. `on_accept(index, system, score, trials)` is called as each
    category is found. Returns ([(system, score)], trials).
    """
    rs = np.random.RandomState(seed)
    accepted = []
    trials = 0
    with ThreadPoolExecutor(max(1, threads)) as pool:
        pending = deque()
        while len(accepted) < categories:
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


def search(categories, seed=1, fill=0.2, points=100_000, size=512, threads=1, on_accept=None):
    """The official FractalDB search: trials whose point image fills at least `fill`."""
    return sequential_search(categories, seed, lambda rs: draw_trial(rs, points),
                             lambda system, u: trial_fill(system, u, size), lambda rate: rate >= fill,
                             threads, on_accept)
