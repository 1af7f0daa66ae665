"""The reference FractalDB algorithms in plain Python/NumPy/PIL, as published.

Used as the baseline of the benchmarks and as the oracle of the exactness
tests. Written for fidelity, not speed: per-point Python loops and PIL
pastes, exactly the operations of the official scripts (with the patch
masks passed in, since the official code draws them from unseeded `random`).
"""
import numpy as np
from PIL import Image


def orbit(system, rand):
    """The official chaos game: Python floats, first map whose running sum reaches u."""
    select, total = [], 0.0
    for p in system[:, 6]:
        total += float(p)
        select.append(total)
    maps = [[float(v) for v in row[:6]] for row in system]
    xs, ys = [0.0], [0.0]
    prev_x = prev_y = 0.0
    next_x = next_y = 0.0
    for i in range(len(rand) - 1):
        for j, bound in enumerate(select):
            if rand[i] <= bound:
                a, b, c, d, e, f = maps[j]
                next_x = prev_x * a + prev_y * b + e
                next_y = prev_x * c + prev_y * d + f
                break
        xs.append(next_x)
        ys.append(next_y)
        prev_x, prev_y = next_x, next_y
    return xs, ys


def rescale(xs, ys, size, pad=6):
    xs, ys = np.array(xs), np.array(ys)
    for values in ("x", "y"):
        key = xs if values == "x" else ys
        if np.any(np.isnan(key)):
            nan_index = np.where(np.isnan(key))
            extend = np.array(range(nan_index[0][0] - 100, nan_index[0][0]))
            delete_row = np.append(extend, nan_index)
            xs = np.delete(xs, delete_row, axis=0)
            ys = np.delete(ys, delete_row, axis=0)
    if np.min(xs) < 0.0:
        xs -= np.min(xs)
    if np.min(ys) < 0.0:
        ys -= np.min(ys)
    xmax, xmin, ymax, ymin = np.max(xs), np.min(xs), np.max(ys), np.min(ys)
    px = np.uint16(xs / (xmax - xmin) * float(size - 2 * pad) + float(pad))
    py = np.uint16(ys / (ymax - ymin) * float(size - 2 * pad) + float(pad))
    return px, py


def search_fill(system, rand, size=512):
    """Filling rate of one search trial, as ifs_search.py computes it."""
    px, py = rescale(*orbit(system, rand), size)
    image = np.zeros((size, size, 3), np.uint8)
    for x, y in zip(px, py):
        image[y, x, :] = 127, 127, 127
    return np.count_nonzero(image[:, :, 0]) / float(size * size)


def draw_point(px, py, size):
    image = np.array(Image.new("RGB", (size, size)))
    for x, y in zip(px, py):
        image[y, x, :] = 127, 127, 127
    return Image.fromarray(image).transpose(Image.FLIP_TOP_BOTTOM)


def draw_patch(px, py, size, masks):
    """Official patch_gray drawing; masks[i] replaces random.randrange(1, 512)."""
    image = Image.new("RGB", (size, size))
    for x, y, mask in zip(px, py, masks):
        bits = "{:09b}".format(int(mask))
        patch = np.zeros((3, 3, 3), np.uint8)
        for i in range(3):
            for j in range(3):
                patch[i, j, :] = np.array([127, 127, 127]) * int(bits[i * 3 + j])
        image.paste(Image.fromarray(patch), (int(x) + 1, int(y) + 1))
    return image.transpose(Image.FLIP_TOP_BOTTOM)


def flip(image, kind):
    """The official four flips of a saved canvas."""
    if kind in (1, 3):
        image = image.transpose(Image.FLIP_TOP_BOTTOM)
    if kind in (2, 3):
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    return image


def weighted(system, weight_row):
    system = system.copy()
    system[:, :6] *= weight_row
    return system


def render_canvas(system, weight_row, points, size, masks=None):
    """One official canvas (RGB PIL image) of a weight variant."""
    rand = np.random.RandomState(100).random_sample(points)
    px, py = rescale(*orbit(weighted(system, weight_row), rand), size)
    if masks is None:
        return draw_point(px, py, size)
    return draw_patch(px, py, size, masks[:len(px)])
