import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from reference import fractaldb as ref
from fdsl_gen.formulas import ifs2d
from fdsl_gen.formulas.ifs_search import draw_trial


def trial(seed, points=3000):
    return draw_trial(np.random.RandomState(seed), points)


@pytest.mark.parametrize("seed", [1, 2, 3, 7])
def test_chaos_game_is_bit_identical_to_reference(seed):
    system, u = trial(seed)
    xs, ys = ifs2d.chaos_game(system, u)
    ref_xs, ref_ys = ref.orbit(system, u)
    assert np.array_equal(xs, np.array(ref_xs), equal_nan=True)
    assert np.array_equal(ys, np.array(ref_ys), equal_nan=True)


def test_rounding_gap_repeats_the_point():
    system = np.array([[0.5, 0, 0, 0.5, 0.1, 0.2, 0.5], [0.5, 0, 0, 0.5, -0.1, 0.3, 0.25]])
    u = np.array([0.1, 0.9, 0.6, 0.1])  # 0.9 lies above the total 0.75: no map
    xs, ys = ifs2d.chaos_game(system, u)
    assert xs[2] == xs[1] and ys[2] == ys[1]
    assert xs[3] == pytest.approx(xs[2] * 0.5 - 0.1)


@pytest.mark.parametrize("seed", [1, 5, 11])
def test_pixels_match_reference_rescale(seed):
    system, u = trial(seed)
    xs, ys = ifs2d.chaos_game(system, u)
    px, py = ifs2d.to_pixels(xs, ys, 362)
    ref_px, ref_py = ref.rescale(xs, ys, 362)
    assert np.array_equal(px, ref_px) and np.array_equal(py, ref_py)


@pytest.mark.parametrize("first_nan", [40, 700])
def test_nan_points_are_dropped_like_the_reference(first_nan):
    rng = np.random.default_rng(0)
    xs, ys = rng.normal(size=1000), rng.normal(size=1000)
    xs[[first_nan, first_nan + 3]] = np.nan
    ys[first_nan + 150] = np.nan
    px, py = ifs2d.to_pixels(xs, ys, 128)
    ref_px, ref_py = ref.rescale(xs, ys, 128)
    # 2 NaN + 100 before them, then 1 NaN + 100 before it (the first 40 wrap to the end)
    assert len(px) == len(ref_px) == 1000 - 203
    assert np.array_equal(px, ref_px) and np.array_equal(py, ref_py)


def test_all_nan_orbit_leaves_nothing():
    xs = np.full(500, np.nan)
    px, py = ifs2d.to_pixels(xs, xs.copy(), 64)
    assert px.size == 0 and py.size == 0


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(16, 400))
def test_pixels_stay_inside_the_padded_canvas(seed, size):
    system, u = trial(seed, points=500)
    px, py = ifs2d.to_pixels(*ifs2d.chaos_game(system, u), size)
    if np.isfinite(ifs2d.chaos_game(system, u)[0]).all():
        assert px.min() >= 6 and px.max() <= size - 6
        assert py.min() >= 6 and py.max() <= size - 6


@pytest.mark.parametrize("seed", [1, 4])
def test_fill_rate_matches_reference(seed):
    system, u = trial(seed, points=5000)
    px, py = ifs2d.to_pixels(*ifs2d.chaos_game(system, u), 512)
    assert ifs2d.fill_rate(px, py, 512) == ref.search_fill(system, u)
    assert ifs2d.orbit_fill_rate(system, u, 512, 6) == ref.search_fill(system, u)


def test_patch_masks_are_seeded_and_uniform_on_1_to_511():
    masks = ifs2d.patch_masks(200_000, np.uint64(42))
    assert masks.min() == 1 and masks.max() == 511
    assert np.array_equal(masks, ifs2d.patch_masks(200_000, np.uint64(42)))
    assert not np.array_equal(masks, ifs2d.patch_masks(200_000, np.uint64(43)))
    counts = np.bincount(masks, minlength=512)[1:]
    expected = 200_000 / 511
    assert abs(counts - expected).max() < 6 * np.sqrt(expected)


@pytest.mark.parametrize("bit", range(9))
def test_patch_bit_order_is_msb_first_row_major(bit):
    mask = np.array([1 << (8 - bit)], np.uint16)
    canvas = ifs2d.draw_patches(np.array([10], np.uint16), np.array([20], np.uint16), 40, mask, ifs2d.GRAY)
    rows, cols = np.nonzero(canvas)
    assert list(zip(rows, cols)) == [(21 + bit // 3, 11 + bit % 3)]
    assert canvas.max() == ifs2d.PATCH_VALUE


def test_later_patch_zeros_erase_earlier_points():
    px = np.array([5, 5], np.uint16)
    canvas = ifs2d.draw_patches(px, px, 16, np.array([511, 256], np.uint16), ifs2d.GRAY)
    assert np.count_nonzero(canvas) == 1 and canvas[6, 6] == 127


def test_patches_clip_at_the_border():
    px = np.array([14, 60000], np.uint16)
    py = np.array([14, 3], np.uint16)
    canvas = ifs2d.draw_patches(px, py, 16, np.array([511, 511], np.uint16), ifs2d.GRAY)
    assert np.array_equal(np.argwhere(canvas), [[15, 15]])


@pytest.mark.parametrize("seed", [2, 9])
def test_patch_canvas_equals_reference_paste(seed):
    system, u = trial(seed, points=2000)
    px, py = ifs2d.to_pixels(*ifs2d.chaos_game(system, u), 48)
    masks = ifs2d.patch_masks(len(px), np.uint64(seed))
    ours = ifs2d.draw_patches(px, py, 48, masks, ifs2d.GRAY)[::-1]
    theirs = np.asarray(ref.draw_patch(px, py, 48, masks))
    assert np.array_equal(ours, theirs[:, :, 0])
    assert (theirs[:, :, 0] == theirs[:, :, 2]).all()


def test_hue_cycle_has_128_distinct_colours():
    table = ifs2d.hue_cycle()
    assert table.shape == (128, 3)
    assert len({tuple(c) for c in table}) > 100
    assert tuple(table[0]) == (47, 47, 191)
