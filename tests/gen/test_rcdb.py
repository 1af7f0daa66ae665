"""RCDB: category and polygon geometry, determinism, shard round trip, blank images, errors."""
import dataclasses
import io
import json
import math

import numpy as np
import pytest
import webdataset as wds
from PIL import Image

from fdsl_gen.formulas import contours
from fdsl_gen.configs import RCDBConfig
from fdsl_gen.recipes.rcdb import RCDB, truncated_exponential_int
from helpers import assert_one_line_error

SMALL = ("--size", 64, "--categories", 3, "--instances", 4, "--samples-per-shard", 5, "--quiet")


def read_shards(folder):
    """[(image array, cls, meta)] of every sample of a dataset folder, via webdataset."""
    manifest = json.loads((folder / "manifest.json").read_text())
    urls = [str(folder / s["file"]) for s in manifest["splits"]["train"]["shards"]]
    samples = []
    for sample in wds.WebDataset(urls, shardshuffle=False):
        image = np.asarray(Image.open(io.BytesIO(sample["png"])).convert("L"))
        samples.append((image, int(sample["cls"]), json.loads(sample["json"])))
    return manifest, samples


def test_vertex_count_follows_the_references_rejection_loop():
    """int(Exp(100)) kept when 3 <= n <= 200, as the reference redraws; ours inverts the CDF."""
    rng = np.random.default_rng(0)
    ours = np.array([truncated_exponential_int(rng, 100.0, 3, 200) for _ in range(40_000)])
    draws = rng.exponential(100.0, 80_000).astype(int)
    theirs = draws[(draws >= 3) & (draws <= 200)][:40_000]
    assert ours.min() >= 3 and ours.max() <= 200
    assert ours.mean() == pytest.approx(theirs.mean(), abs=1.0)
    ours_hist = np.histogram(ours, bins=10, range=(3, 201))[0] / len(ours)
    theirs_hist = np.histogram(theirs, bins=10, range=(3, 201))[0] / len(theirs)
    assert np.abs(ours_hist - theirs_hist).max() < 0.01


def test_narrow_vertex_range_needs_no_retries():
    rng = np.random.default_rng(1)
    assert {truncated_exponential_int(rng, 1.0, 150, 151) for _ in range(200)} == {150, 151}


def grow(recipe, cls, seed):
    """Start and end vertices of one instance, drawn the way the recipe draws them."""
    params = recipe.categories[cls]
    rng = np.random.default_rng(seed)
    start_x, start_y, cx, cy, _ = recipe.draw_instance(params, rng)
    noise = recipe.noise(rng, params["polygons"], params["vertices"])
    canvas = np.full((64, 64), 255, np.uint8)
    x, y = contours.grow_and_draw(canvas, start_x, start_y, cx, cy, recipe.amp_factor * params["c"],
                                  recipe.offsets(params), params["w"], noise,
                                  np.zeros(params["polygons"], np.int64), recipe.scale, False)
    return params, start_x, start_y, x, y


@pytest.mark.parametrize("c,w", [(0.5, 0.0), (3.0, 0.08)])
def test_radius_grows_by_c_plus_w_per_polygon(c, w):
    """Each polygon moves a vertex out by w - N, N = c (2 pnoise1 - 1): mean c + w, sd 2c x 0.329."""
    config = RCDBConfig(categories=1, instances=1, size=64, noise_min=c, noise_max=c, step_min=w, step_max=w,
                        polygons_min=150, polygons_max=150, vertices_min=150, vertices_max=200)
    recipe = RCDB(config, seed=3)
    params, start_x, _, x, _ = grow(recipe, 0, seed=5)
    n, polygons = params["vertices"], params["polygons"]
    assert len(x) == n and polygons == 150
    cos = np.cos(2 * np.pi / n * np.arange(n))
    along = np.abs(cos) > 0.5
    per_polygon = (x[along] - start_x[along]) / cos[along] / polygons
    spread = 2 * c * 0.3292 / math.sqrt(polygons)  # sd of one vertex's mean step
    assert per_polygon.mean() == pytest.approx(c + w, abs=4 * spread / math.sqrt(along.sum()) + 1e-9)
    assert per_polygon.std() == pytest.approx(spread, rel=0.25)


def test_smooth_noise_keeps_the_mean_growth_and_neighbours_close():
    config = RCDBConfig(categories=1, instances=1, size=64, noise="smooth", noise_min=2.0, noise_max=2.0,
                        step_min=0.05, step_max=0.05, polygons_min=100, polygons_max=100,
                        vertices_min=200, vertices_max=200)
    recipe = RCDB(config, seed=4)
    params, start_x, start_y, x, y = grow(recipe, 0, seed=9)
    radius = np.hypot(x, y) - np.hypot(start_x, start_y)
    assert radius.mean() / 100 == pytest.approx(2.05, abs=0.3)
    jumps = np.abs(np.diff(radius))
    independent = RCDB(dataclasses.replace(config, noise="independent"), seed=4)
    _, sx, sy, ix, iy = grow(independent, 0, seed=9)
    assert jumps.mean() < 0.5 * np.abs(np.diff(np.hypot(ix, iy) - np.hypot(sx, sy))).mean()


def test_categories_do_not_depend_on_how_many_are_asked():
    few = RCDB(RCDBConfig(categories=3, instances=1, size=64), seed=1).categories
    many = RCDB(RCDBConfig(categories=6, instances=1, size=64), seed=1).categories
    assert few == many[:3]
    assert few != RCDB(RCDBConfig(categories=3, instances=1, size=64), seed=2).categories
    for params in many:
        assert 3 <= params["vertices"] <= 200 and 1 <= params["polygons"] <= 200
        assert 0 <= params["c"] <= 4 and 0 <= params["w"] <= 0.1


def test_same_bytes_with_one_or_two_workers(tmp_path, cli):
    for workers in (1, 2):
        result = cli("render", "rcdb", "--out", tmp_path / f"w{workers}", "--workers", workers, *SMALL)
        assert result.exit_code == 0, result.output
    one, two = (json.loads((tmp_path / f"w{w}" / "manifest.json").read_text()) for w in (1, 2))
    assert len(one["splits"]["train"]["shards"]) == 3
    assert one["splits"] == two["splits"]
    assert one["config"]["category_params"] == two["config"]["category_params"]


def test_resume_rewrites_a_lost_shard_identically(tmp_path, cli):
    out = tmp_path / "rcdb"
    assert cli("render", "rcdb", "--out", out, *SMALL).exit_code == 0
    before = json.loads((out / "manifest.json").read_text())
    lost = out / before["splits"]["train"]["shards"][1]["file"]
    lost.unlink()
    assert cli("render", "rcdb", "--out", out, *SMALL).exit_code == 0
    assert lost.exists()
    assert json.loads((out / "manifest.json").read_text())["splits"] == before["splits"]


def test_shard_round_trip(tmp_path, cli):
    out = tmp_path / "rcdb"
    assert cli("render", "rcdb", "--out", out, "--seed", 5, *SMALL).exit_code == 0
    assert cli("verify", out).exit_code == 0
    manifest, samples = read_shards(out)
    assert len(samples) == 12 and manifest["num_classes"] == 3
    recipe = RCDB(RCDBConfig(categories=3, instances=4, size=64), seed=5)
    assert manifest["config"]["category_params"] == recipe.categories
    seen = set()
    for image, cls, meta in samples:
        assert image.shape == (64, 64)
        assert cls == meta["cls"] == meta["category"]
        assert {k: meta[k] for k in recipe.categories[cls]} == recipe.categories[cls]
        assert meta["ink"] == np.count_nonzero(image != 255) >= 16  # 0.25 x 64 pixels drawn at least
        expected, _ = recipe.render_group(cls, meta["instance"])[0]
        assert np.array_equal(image, expected)
        seen.add((cls, meta["instance"]))
    assert seen == {(c, j) for c in range(3) for j in range(4)}


def test_blank_instances_are_drawn_again(tmp_path, cli):
    """One or two polygons in grey 254 or white: about a third of the first draws are blank; none is written."""
    out = tmp_path / "faint"
    result = cli("render", "rcdb", "--out", out, "--polygons-max", 2, "--gray-min", 254, "--retries", 50, *SMALL)
    assert result.exit_code == 0, result.output
    _, samples = read_shards(out)
    assert all(np.count_nonzero(image != 255) >= 16 for image, _, _ in samples)
    assert any(meta["redraw"] > 0 for _, _, meta in samples)


def test_a_category_that_is_always_blank_fails_clearly(tmp_path, cli):
    out = tmp_path / "white"
    result = cli("render", "rcdb", "--out", out, "--gray-min", 255, "--retries", 2, *SMALL)
    assert_one_line_error(result, "blank", "category 0")
    assert not (out / "manifest.json").exists()


def test_min_ink_zero_keeps_blank_images_as_the_reference(tmp_path, cli):
    out = tmp_path / "white"
    assert cli("render", "rcdb", "--out", out, "--gray-min", 255, "--min-ink", 0, *SMALL).exit_code == 0
    _, samples = read_shards(out)
    assert all((image == 255).all() for image, _, _ in samples)


@pytest.mark.parametrize("option,value,word", [
    ("--gray-max", 300, "--gray-max"), ("--vertices-min", 2, "--vertices-min"), ("--categories", 0, "--categories"),
    ("--smooth-cells", 0, "--smooth-cells"), ("--oval-max", 0.5, "--oval-max"), ("--size", 8, "--size"),
    ("--noise-min", 5, "--noise-min"), ("--min-ink", -1, "--min-ink"), ("--vertices-mean", 0, "--vertices-mean")])
def test_bad_options_give_one_line(tmp_path, cli, option, value, word):
    result = cli("render", "rcdb", "--out", tmp_path / "x", *SMALL, option, value)
    assert_one_line_error(result, word)
