"""VisualAtom: category draws, orbit geometry with its two waves, determinism, shard round trip, errors."""
import io
import json
import math

import numpy as np
import pytest
import webdataset as wds
from PIL import Image

from fdsl_gen.formulas import contours
from fdsl_gen.configs import VisualAtomConfig
from fdsl_gen.recipes.visualatom import VisualAtom, frequencies
from helpers import assert_one_line_error

SMALL = ("--size", 64, "--categories", 3, "--instances", 3, "--orbits-max", 40, "--vertices-max", 400,
         "--samples-per-shard", 4, "--quiet")


def read_shards(folder):
    """The manifest and [(image array, cls, meta)] of every sample, via webdataset."""
    manifest = json.loads((folder / "manifest.json").read_text())
    urls = [str(folder / s["file"]) for s in manifest["splits"]["train"]["shards"]]
    return manifest, [(np.asarray(Image.open(io.BytesIO(s["png"])).convert("L")), int(s["cls"]), json.loads(s["json"]))
                      for s in wds.WebDataset(urls, shardshuffle=False)]


def test_frequencies_differ_unless_the_first_is_zero():
    rng = np.random.default_rng(0)
    pairs = [frequencies(rng, 0, 20) for _ in range(20_000)]
    assert all(0 <= a <= 20 and 0 <= b <= 20 for a, b in pairs)
    assert all(a != b for a, b in pairs if a)
    assert any(a == b == 0 for a, b in pairs)  # the reference keeps n2 = 0 when n1 = 0 (1 in 441)
    assert frequencies(rng, 0, 0) == (0, 0)
    assert all(2 <= a != b <= 3 for a, b in (frequencies(rng, 2, 3) for _ in range(50)))


def test_category_parameters_are_in_their_ranges_and_stable():
    few = VisualAtom(VisualAtomConfig(categories=3, instances=1, size=64), seed=1).categories
    many = VisualAtom(VisualAtomConfig(categories=8, instances=1, size=64), seed=1).categories
    assert few == many[:3]
    for p in many:
        assert 200 <= p["vertices"] <= 1000 and 1 <= p["polygons"] <= 200 and 10 <= p["radius"] <= 60
        assert 0 <= p["c"] <= 4 and 0 <= p["w"] <= 0.1 and 1 <= p["oval_x"] <= 2 and 1 <= p["oval_y"] <= 2


def orbit_steps(n1, n2, c, w, orbits=150, instances=8):
    """Mean outward step per orbit of every vertex, over several instances of one category."""
    config = VisualAtomConfig(categories=1, instances=1, size=64, noise_min=c, noise_max=c, step_min=w, step_max=w,
                              orbits_min=orbits, orbits_max=orbits, vertices_min=300, vertices_max=300)
    recipe = VisualAtom(config, seed=2)
    params = dict(recipe.categories[0], n1=n1, n2=n2)
    n = params["vertices"]
    cos = np.cos(2 * np.pi / n * np.arange(n))
    along = np.abs(cos) > 0.5
    steps = []
    for seed in range(instances):
        rng = np.random.default_rng(seed)
        start_x, start_y, cx, cy, _ = recipe.draw_instance(params, rng)
        noise = recipe.noise(rng, orbits, n)
        canvas = np.zeros((64, 64), np.uint8)
        x, _ = contours.grow_and_draw(canvas, start_x, start_y, cx, cy, c, recipe.offsets(params), w, noise,
                                      np.zeros(orbits, np.int64), recipe.scale, False)
        steps.append((x - start_x)[along] / cos[along] / orbits)
    theta = 2 * np.pi / n * np.arange(n)[along]
    return np.mean(steps, axis=0), theta


@pytest.mark.parametrize("n1,n2,c,w", [(3, 7, 1.0, 0.05), (0, 5, 2.5, 0.0)])
def test_orbit_step_is_c_plus_w_plus_the_two_waves(n1, n2, c, w):
    """w - N with N = c pnoise1 - c - 0.5 sin(n1 theta) - 0.5 sin(n2 theta)."""
    steps, theta = orbit_steps(n1, n2, c, w)
    expected = c + w + 0.5 * np.sin(n1 * theta) + 0.5 * np.sin(n2 * theta)
    noise_sd = c * 0.3292 / math.sqrt(150 * 8)
    assert np.abs(steps - expected).max() < 5 * noise_sd
    assert steps.mean() == pytest.approx(c + w, abs=0.05)


def test_instances_share_the_shape_and_move_the_centre():
    recipe = VisualAtom(VisualAtomConfig(categories=1, instances=4, size=64, orbits_max=20), seed=3)
    metas = [recipe.render_group(0, j)[0][1] for j in range(4)]
    assert len({(m["cx"], m["cy"]) for m in metas}) == 4
    assert all(0 <= m["cx"] <= 512 and 0 <= m["cy"] <= 512 for m in metas)
    assert len({m["seed"] for m in metas}) == 4


def test_same_bytes_with_one_or_two_workers(tmp_path, cli):
    for workers in (1, 2):
        result = cli("render", "visualatom", "--out", tmp_path / f"w{workers}", "--workers", workers, *SMALL)
        assert result.exit_code == 0, result.output
    one, two = (json.loads((tmp_path / f"w{w}" / "manifest.json").read_text()) for w in (1, 2))
    assert len(one["splits"]["train"]["shards"]) == 3
    assert one["splits"] == two["splits"]


def test_shard_round_trip(tmp_path, cli):
    out = tmp_path / "va"
    assert cli("render", "visualatom", "--out", out, *SMALL).exit_code == 0
    assert cli("verify", out).exit_code == 0
    manifest, samples = read_shards(out)
    assert len(samples) == 9 and manifest["image"] == {"height": 64, "width": 64, "channels": 1}
    counts = np.bincount([cls for _, cls, _ in samples], minlength=3)
    assert counts.tolist() == [3, 3, 3]
    for image, cls, meta in samples:
        assert cls == meta["category"]
        assert meta == dict(meta, **manifest["config"]["category_params"][cls])
        assert meta["ink"] == np.count_nonzero(image) >= 16  # lines on black


def test_antialias_changes_the_lines_only(tmp_path):
    plain = VisualAtom(VisualAtomConfig(categories=1, instances=1, size=64, orbits_max=10), seed=1)
    smooth = VisualAtom(VisualAtomConfig(categories=1, instances=1, size=64, orbits_max=10, antialias=True), seed=1)
    assert plain.categories == smooth.categories
    a, b = plain.render_group(0, 0)[0][0], smooth.render_group(0, 0)[0][0]
    assert not np.array_equal(a, b)
    assert len(np.unique(b)) > len(np.unique(a))


def test_black_lines_on_black_fail_clearly(tmp_path, cli):
    result = cli("render", "visualatom", "--out", tmp_path / "x", "--gray-max", 0, "--retries", 1, *SMALL)
    assert_one_line_error(result, "blank", "visualatom category 0")


@pytest.mark.parametrize("option,value", [("--orbits-min", 0), ("--vertices-min", 500), ("--radius-min", -1),
                                          ("--frequency-max", -2), ("--step-min", 1.0), ("--instances", 0),
                                          ("--frequency-min", 20), ("--frequency-min", 21), ("--oval-min", 3.0)])
def test_bad_options_give_one_line(tmp_path, cli, option, value):
    assert_one_line_error(cli("render", "visualatom", "--out", tmp_path / "x", *SMALL, option, value), option)
