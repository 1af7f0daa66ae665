import hashlib
import io
import json
from collections import Counter

import numpy as np
import pytest
import webdataset as wds
from click.testing import CliRunner
from PIL import Image

from fdsl_gen.cli import main
from fdsl_gen.families.ifs3d import instance_weights, weighted
from fdsl_gen.formulas import ifs3d
from fdsl_gen.formulas.ifs_search import search3d as search
from fdsl_gen.formulas.ifs_search import trial_variances
from fdsl_gen.recipes.exfractaldb import ExFractalDB
from fdsl_gen.recipes.mvfractaldb import MVFractalDB
from helpers import assert_one_line_error
from reference.exfractaldb import reference_accepts, reference_trial

TINY = ("--instances", 14, "--views", 4, "--size", 32, "--points", 400, "--samples-per-shard", 10, "--quiet")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def ex_params(tmp_path_factory):
    """Three categories of the 3D search, seed 1."""
    folder = tmp_path_factory.mktemp("ex") / "params"
    result = run("search", "exfractaldb", "--categories", 3, "--out", folder, "--quiet")
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture(scope="module")
def ex_dataset(tmp_path_factory, ex_params):
    out = tmp_path_factory.mktemp("ex") / "data"
    result = run("render", "exfractaldb", "--params", ex_params, "--out", out, "--workers", 1, *TINY)
    assert result.exit_code == 0, result.output
    return out


def shard_files(folder):
    return sorted(folder.glob("*-train-*.tar"))


def read_samples(folder):
    return list(wds.WebDataset([str(p) for p in shard_files(folder)], shardshuffle=False))


def decode(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"))


def small_recipe(recipe_class, params, **changes):
    fields = dict(params=str(params), instances=24, size=32, points=400)
    fields.update(changes)
    return recipe_class(recipe_class.Config(**fields), seed=3)


# ---------------------------------------------------------------- search

def test_search_accepts_exactly_the_reference_trials():
    ours, trials = search(2, seed=5, points=600)
    rs = np.random.RandomState(5)
    theirs, their_trials = [], 0
    while len(theirs) < 2:
        system, cloud = reference_trial(rs, 600)
        their_trials += 1
        if reference_accepts(cloud, 0.05):
            theirs.append(system)
    assert trials == their_trials
    assert all(np.array_equal(a, b) for (a, _), b in zip(ours, theirs))


def test_variance_criterion_is_strict_per_axis():
    found, trials = search(3, seed=2, points=2000)
    assert all((variances > 0.05).all() for _, variances in found)
    # A threshold above most accepted variances needs more trials for the same count.
    _, stricter = search(3, seed=2, points=2000, variance=0.12)
    assert stricter > trials
    # A flat system (z always 0) varies in x and y only: the z test alone rejects it.
    flat = found[0][0].copy()
    flat[:, [6, 7, 8, 11]] = 0.0
    variances = trial_variances(flat, np.random.default_rng(0).random(2000))
    assert variances[2] == 0.0 and (variances[:2] > 0.0).all()


def test_search_cli_writes_reference_style_csvs_and_summary(ex_params):
    files = sorted(ex_params.glob("*.csv"))
    assert [f.name for f in files] == ["00000.csv", "00001.csv", "00002.csv"]
    summary = json.loads((ex_params / "search.json").read_text())
    assert summary["search"] == "exfractaldb" and summary["trials"] >= 3
    assert len(summary["variances"]) == 3 and all(min(v) > 0.05 for v in summary["variances"])
    for file in files:
        system = np.loadtxt(file, delimiter=",", ndmin=2)
        assert system.shape[1] == 13 and 2 <= len(system) <= 7
        dets = np.abs(np.linalg.det(system[:, :9].reshape(-1, 3, 3)))
        assert np.allclose(system[:, 12], dets / dets.sum(), rtol=1e-12)
    assert (ex_params / "00000.csv").read_text() == run_search_again(ex_params.parent / "again")


def run_search_again(folder):
    assert run("search", "exfractaldb", "--categories", 1, "--out", folder, "--quiet").exit_code == 0
    return (folder / "00000.csv").read_text()


# ---------------------------------------------------------------- rendering

def test_shards_round_trip_and_every_image_is_reproduced_from_its_json(ex_dataset):
    samples = read_samples(ex_dataset)
    assert len(samples) == 3 * 14 and len({s["__key__"] for s in samples}) == 42
    assert Counter(int(s["cls"]) for s in samples) == {0: 14, 1: 14, 2: 14}
    weights = np.loadtxt(ex_dataset / "params" / "weights.csv", delimiter=",")
    assert np.array_equal(weights, instance_weights())
    for sample in samples:
        meta = json.loads(sample["json"])
        assert {"cls", "category", "instance", "view", "camera", "seed"} <= set(meta)
        image = decode(sample["png"])
        assert image.shape == (32, 32) and set(np.unique(image)) == {0, 255}
        system = np.loadtxt(ex_dataset / "params" / f"{meta['category']:05d}.csv", delimiter=",", ndmin=2)
        u = np.random.default_rng(int(meta["seed"])).random(401)
        cloud = ifs3d.point_cloud(weighted(system, weights[meta["instance"]]), u)
        camera = ifs3d.look_at(np.array([meta["camera"]["position"]]), np.array([meta["camera"]["up"]]))
        expected = ifs3d.draw_views(cloud, camera, 32, 1, 45.0, False)[0]
        assert np.array_equal(image, expected), meta


def test_png_is_one_bit(ex_dataset):
    png = read_samples(ex_dataset)[0]["png"]
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == "P"
        assert png[24] == 1  # IHDR bit depth


# weights_ins145.csv as released with the CVPR 2022 code: its sha256 (145 lines,
# LF, no final newline) and some of its rows, 0-based.
PUBLISHED_SHA256 = "1d113776db0823d8b9f5c573d8205a5cb0bb16d41de96df0ba48b8cb5944907c"
PUBLISHED_ROWS = {
    0: "0.4,1,1,1,1,1,1,1,1,1,1,1",
    6: "1,1,1,1,1,1,1,1,1,1,1,1",
    7: "1.1,1,1,1,1,1,1,1,1,1,1,1",
    13: "1,0.4,1,1,1,1,1,1,1,1,1,1",
    99: "1,1,1,1,1,1,1,1,0.6,1,1,1",
    107: "1,1,1,1,1,1,1,1,1.5,1,1,1",
    108: "1,1,1,1,1,1,1,1,0.6,1,1,1",
    109: "1,1,1,1,1,1,1,1,1,0.4,1,1",
    144: "1,1,1,1,1,1,1,1,1,1,1,1.6",
}


def as_published(weights):
    return "\n".join(",".join(f"{v:g}" for v in row) for row in weights)


def test_default_weight_table_is_the_published_file_row_for_row():
    lines = as_published(instance_weights()).split("\n")
    assert len(lines) == 145
    for row, line in PUBLISHED_ROWS.items():
        assert lines[row] == line
    assert hashlib.sha256(as_published(instance_weights()).encode()).hexdigest() == PUBLISHED_SHA256


def test_corrected_weight_table_differs_from_the_published_only_in_row_108():
    published, corrected = instance_weights("published"), instance_weights("corrected")
    differs = np.argwhere(published != corrected)
    assert differs.tolist() == [[108, 8]]
    assert corrected[108, 8] == 1.6 and (corrected[108] != 1).sum() == 1
    assert len({tuple(row) for row in corrected}) == 145  # every row a different variant


def test_weight_table_option_reaches_the_saved_table(tmp_path, ex_params):
    published = small_recipe(ExFractalDB, ex_params)
    corrected = small_recipe(ExFractalDB, ex_params, weight_table="corrected")
    assert published.weights[108, 8] == 0.6 and corrected.weights[108, 8] == 1.6
    assert published.fingerprint() != corrected.fingerprint()


def test_instances_spread_over_the_weight_table_and_views_over_the_sphere(ex_params):
    recipe = small_recipe(ExFractalDB, ex_params, instances=1000, views=0)
    assert recipe.group_size == 7 and recipe.groups == 143
    rows = [recipe.instance_of(g) for g in range(recipe.groups)]
    assert rows[0] == 0 and rows == sorted(set(rows)) and rows[-1] >= 140
    positions = np.array([meta["camera"]["position"] for g in range(40)
                          for _, meta in recipe.render_group(1, g)])
    assert np.allclose(np.linalg.norm(positions, axis=1), 4.0)
    assert np.abs(positions.mean(axis=0)).max() < 0.6  # 280 directions, uniform: mean near 0
    assert len({tuple(p) for p in positions}) == len(positions)


def test_same_command_same_bytes_whatever_the_workers_and_after_resume(tmp_path, ex_params, ex_dataset):
    out = tmp_path / "two"
    result = run("render", "exfractaldb", "--params", ex_params, "--out", out, "--workers", 2, *TINY)
    assert result.exit_code == 0, result.output
    ours, theirs = shard_files(out), shard_files(ex_dataset)
    assert len(ours) == 5 and [p.name for p in ours] == [p.name for p in theirs]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(ours, theirs))
    before = ours[2].read_bytes()
    ours[2].unlink()
    assert run("render", "exfractaldb", "--params", ex_params, "--out", out, "--workers", 2, *TINY).exit_code == 0
    assert ours[2].read_bytes() == before
    assert run("verify", out).exit_code == 0


def test_other_seed_other_images(tmp_path, ex_params, ex_dataset):
    out = tmp_path / "seed2"
    assert run("render", "exfractaldb", "--params", ex_params, "--out", out, "--seed", 2, *TINY).exit_code == 0
    assert shard_files(out)[0].read_bytes() != shard_files(ex_dataset)[0].read_bytes()


def test_mvfractaldb_twelve_views_about_y(ex_params):
    recipe = small_recipe(MVFractalDB, ex_params)
    group = recipe.render_group(0, 0)
    assert recipe.group_size == 12 and len(group) == 12
    positions = np.array([meta["camera"]["position"] for _, meta in group])
    azimuths = np.degrees(np.arctan2(positions[:, 2], -positions[:, 0])) % 360
    assert np.allclose(azimuths, 30 + 30 * np.arange(12)) and np.allclose(positions[:, 1], 0)
    assert all(np.allclose(meta["camera"]["up"], [0.0, 1.0, 0.0]) for _, meta in group)
    # The reference's view 3 (azimuth 120) sees the cloud from (-cos 120, 0, sin 120) * 4.
    instance = weighted(recipe.systems[0], recipe.weights[group[0][1]["instance"]])
    cloud = ifs3d.point_cloud(instance, np.random.default_rng(int(group[0][1]["seed"])).random(401))
    camera = ifs3d.look_at(np.array([[2.0, 0.0, 2.0 * 3 ** 0.5]]), np.array([[0.0, 1.0, 0.0]]))
    assert np.array_equal(group[3][0], ifs3d.draw_views(cloud, camera, 32, 1, 45.0, False)[0])


def test_mvfractaldb_compat_jitters_views_and_keeps_rows_bottom_up(ex_params):
    plain = small_recipe(MVFractalDB, ex_params).render_group(1, 0)
    compat = small_recipe(MVFractalDB, ex_params, compat=True).render_group(1, 0)
    positions = np.array([meta["camera"]["position"] for _, meta in compat])
    azimuths = np.degrees(np.arctan2(positions[:, 2], -positions[:, 0])) % 360
    jitter = (azimuths - (30 + 30 * np.arange(12)) + 180) % 360 - 180
    assert np.abs(jitter).max() <= np.pi and np.abs(jitter).min() > 0
    recipe = small_recipe(MVFractalDB, ex_params)
    instance = weighted(recipe.systems[1], recipe.weights[compat[0][1]["instance"]])
    cloud = ifs3d.point_cloud(instance, np.random.default_rng(int(compat[0][1]["seed"])).random(401))
    upright = ifs3d.draw_views(cloud, ifs3d.look_at(positions, np.tile([0.0, 1.0, 0.0], (12, 1))), 32, 1, 45.0, False)
    assert all(np.array_equal(image, upright[v][::-1]) for v, (image, _) in enumerate(compat))
    assert not np.array_equal(compat[0][0], plain[0][0])


# ---------------------------------------------------------------- errors

def write_params(folder, *systems):
    folder.mkdir()
    for i, system in enumerate(systems):
        np.savetxt(folder / f"{i:05d}.csv", system, delimiter=",", fmt="%.18e")
    return folder


def test_degenerate_category_is_rejected_before_any_shard(tmp_path, ex_params):
    collapsed = np.zeros((2, 13))
    collapsed[:, 9:12] = 0.5  # every map sends everything to (0.5, 0.5, 0.5)
    collapsed[:, 12] = 0.5
    params = write_params(tmp_path / "params", np.loadtxt(ex_params / "00000.csv", delimiter=","), collapsed)
    out = tmp_path / "out"
    assert_one_line_error(run("render", "exfractaldb", "--params", params, "--out", out, *TINY),
                          "00001.csv", "all NaN")
    assert not list(out.glob("*.tar"))


def test_diverging_instance_is_replaced_by_the_next_usable_row(tmp_path, ex_params):
    weights = tmp_path / "weights.csv"
    np.savetxt(weights, np.vstack([np.ones(12), np.full(12, 50.0)]), delimiter=",")
    recipe = small_recipe(ExFractalDB, ex_params, weights=str(weights), instances=2, views=1)
    assert recipe.instance_of(1) == 1
    (image, meta), = recipe.render_group(0, 1)
    assert meta["instance"] == 0 and image.any()


@pytest.mark.parametrize("args,words", [
    (("--point-size", 0), "--point-size"),
    (("--fov", 180), "--fov"),
    (("--distance", 0), "--distance"),
    (("--instances", 0), "--instances"),
    (("--views", -1), "--views"),
    (("--search",), "--search"),
    (("--instances", 2000, "--views", 1), "weight table"),
])
def test_bad_render_options_exit_2_with_one_line(tmp_path, ex_params, args, words):
    result = run("render", "exfractaldb", "--params", ex_params, "--out", tmp_path / "o", "--quiet", *args)
    assert_one_line_error(result, words)


def test_bad_files_and_search_options_exit_2_with_one_line(tmp_path, ex_params):
    assert_one_line_error(run("render", "mvfractaldb", "--params", ex_params, "--instances", 1741, "--quiet"),
                          "weight table")
    bad_weights = tmp_path / "w.csv"
    bad_weights.write_text("1,1,1\n")
    assert_one_line_error(run("render", "mvfractaldb", "--params", ex_params, "--weights", bad_weights, "--quiet"),
                          "w.csv", "expected 12")
    flat = write_params(tmp_path / "flat", np.ones((2, 7)))
    assert_one_line_error(run("render", "exfractaldb", "--params", flat, "--quiet"), "expected 13")
    assert_one_line_error(run("search", "exfractaldb", "--variance", -1, "--out", tmp_path / "s"), "--variance")
