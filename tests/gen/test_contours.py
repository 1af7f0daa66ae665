"""Contour kernels: pnoise1, PIL-exact lines, polygon growth against the Python/PIL reference."""
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from fdsl_gen.formulas import contours
from fdsl_gen.formulas.splitmix import splitmix64
from reference.contours import draw_polygons, noise_rows, pnoise1

# noise.pnoise1(x) of the `noise` package 1.2.2 (the reference's dependency).
PNOISE1 = {0.0: 0.0, 0.25: 0.6861328482627869, 0.5: 0.699999988079071, 1.3: 0.14609277248382568,
           7.77: 0.058577727526426315, 123.456: 0.8341333270072937, 511.9: -0.30186882615089417,
           1023.5: -0.30000001192092896, 4096.1: 0.3144732117652893, 9999.9: 0.04560413584113121}


@pytest.mark.parametrize("x", sorted(PNOISE1))
def test_perlin1_matches_the_noise_package(x):
    assert float(contours.perlin1(np.float32(x), 1024, 0)) == PNOISE1[x]
    assert float(pnoise1([x])[0]) == PNOISE1[x]


def test_independent_noise_has_pnoise1s_distribution():
    # Figures of noise.pnoise1 at 200,000 uniform positions in [0, 10000): mean 0, sd 0.3292, |max| 0.9521.
    values = contours.independent_noise(200, 500, 7)
    assert values.shape == (200, 2, 500) and values.dtype == np.float32
    assert abs(values.mean()) < 0.003
    assert values.std() == pytest.approx(0.3292, abs=0.003)
    assert np.abs(values).max() == pytest.approx(0.9521, abs=0.002)
    # Independent per vertex: neighbours are uncorrelated.
    flat = values.ravel()
    assert abs(np.corrcoef(flat[:-1], flat[1:])[0, 1]) < 0.01


def test_independent_noise_is_a_function_of_its_seed():
    first = contours.independent_noise(3, 50, 11)
    assert np.array_equal(first, contours.independent_noise(3, 50, 11))
    assert not np.array_equal(first, contours.independent_noise(3, 50, 12))


def test_independent_noise_is_pnoise1_along_the_splitmix_stream():
    """Value k is pnoise1 at the k-th uniform of the stream stepped one state at a time."""
    values = contours.independent_noise(3, 41, np.uint64(2**64 - 7)).ravel()
    state, span = np.uint64(2**64 - 7), np.float32(contours.NOISE_SPAN / 2**24)
    for value in values:
        state, word = splitmix64(np.uint64(state))
        assert value == contours.perlin1(np.float32(word >> np.uint64(40)) * span, 1024, 0)


def test_smooth_noise_is_coherent_and_closes_the_contour():
    rng = np.random.default_rng(0)
    cells, n = 8, 400
    values = contours.smooth_noise(rng.random((50, 2)) * cells, rng.integers(0, 256, (50, 2)), cells, n)
    steps = np.abs(np.diff(values, axis=2))
    seam = np.abs(values[:, :, 0] - values[:, :, -1])
    assert steps.max() < 0.15
    assert seam.max() < 0.15
    assert values.std() > 0.1  # not flat
    assert not np.array_equal(values[0], values[1])


def pil_line(segment, size=64):
    image = Image.new("L", (size, size), 0)
    ImageDraw.Draw(image).line(tuple(segment), fill=255, width=1)
    return np.asarray(image)


coordinate = st.floats(-40, 104, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.tuples(coordinate, coordinate, coordinate, coordinate))
def test_line_pixels_equal_pil(segment):
    canvas = np.zeros((64, 64), np.uint8)
    contours.draw_line(canvas, *(int(v) for v in segment), 255)
    assert np.array_equal(canvas, pil_line(segment))


@pytest.mark.parametrize("segment", [(3, 3, 3, 3), (0, 5, 60, 5), (5, 0, 5, 60), (0, 0, 63, 63),
                                     (-0.5, 10, -0.5, 20), (-1.5, 10, -1.5, 20), (70, 70, 100, 120)])
def test_line_special_cases_equal_pil(segment):
    canvas = np.zeros((64, 64), np.uint8)
    contours.draw_line(canvas, *(int(v) for v in segment), 255)
    assert np.array_equal(canvas, pil_line(segment))


def test_antialiased_line_spreads_the_same_ink():
    canvas = np.zeros((64, 64), np.uint8)
    contours.draw_line_aa(canvas, 5.0, 10.3, 50.0, 30.7, 200)
    values = canvas[canvas > 0]
    assert ((values > 0) & (values < 200)).any()  # partial coverage exists
    # Wu's line covers each of its 46 columns (x = 5..50) with weights summing to one.
    assert values.sum() / 200 == pytest.approx(46, abs=1)


def reference_case(seed, background, amp_factor, waves):
    """Random polygons drawn by our kernel and by the reference's per-segment PIL loop."""
    rand = random.Random(seed)
    n, polygons = rand.randint(3, 60), rand.randint(1, 30)
    c, w = rand.uniform(0, 4), rand.uniform(0, 0.1)
    angle = 2 * np.pi / n
    start_x = np.cos(angle * np.arange(n)) * rand.randint(0, 100) * rand.uniform(1, 2)
    start_y = np.sin(angle * np.arange(n)) * rand.randint(0, 100) * rand.uniform(1, 2)
    cx, cy = (512 + rand.randint(-400, 400)) / 2, (512 + rand.randint(-400, 400)) / 2
    grays = np.array([rand.randint(0, 255) for _ in range(polygons)])
    noise = np.stack([np.stack([noise_rows(rand, n), noise_rows(rand, n)]) for _ in range(polygons)])
    offset = np.full(n, -c) if not waves else -c - 0.5 * np.sin(angle * np.arange(n) * 3)
    ours = np.full((512, 512), background, np.uint8)
    contours.grow_and_draw(ours, start_x, start_y, cx, cy, amp_factor * c, offset, w,
                           noise.astype(np.float32), grays, 1.0, False)
    theirs = draw_polygons((background,) * 3, list(start_x), list(start_y), cx, cy, grays.tolist(),
                           noise[:, 0], noise[:, 1], amp_factor * c, list(offset), w)
    return ours, np.asarray(theirs.convert("L"))


@pytest.mark.parametrize("seed", range(6))
def test_polygons_equal_the_reference_drawing(seed):
    ours, theirs = reference_case(seed, 255, 2.0, waves=False)
    assert (ours != 255).any()
    assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("seed", range(3))
def test_wave_polygons_equal_the_reference_drawing(seed):
    ours, theirs = reference_case(seed, 0, 1.0, waves=True)
    assert (ours != 0).any()
    assert np.array_equal(ours, theirs)


def test_growth_returns_the_moved_vertices():
    n = 16
    angle = 2 * np.pi / n * np.arange(n)
    start_x, start_y = np.cos(angle) * 10, np.sin(angle) * 10
    canvas = np.full((64, 64), 255, np.uint8)
    noise = np.zeros((5, 2, n), np.float32)
    x, y = contours.grow_and_draw(canvas, start_x, start_y, 256.0, 256.0, 0.0, np.full(n, -1.0), 0.5,
                                  noise, np.zeros(5, np.int64), 64 / 512, False)
    # No noise: every polygon moves each vertex out by w - offset = 1.5 along its ray.
    assert np.allclose(np.hypot(x, y), 10 + 5 * 1.5)
    assert len(x) == n
