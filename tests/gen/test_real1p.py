import io
import json
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import webdataset as wds
from PIL import Image

from fdsl_gen.formulas.warp import TRANSFORMS, canny, draw_transform, warp
from fdsl_gen.recipes.real1p import load_grey

PHOTOS = Path(skimage.data.data_dir)
CAMERA = PHOTOS / "camera.png"  # grey photo
ASTRONAUT = PHOTOS / "astronaut.png"  # colour photo
SMALL = ("--classes", 8, "--size", 64, "--samples-per-shard", 3, "--quiet")


def samples(folder):
    urls = [str(p) for p in sorted(folder.glob("*-train-*.tar"))]
    return list(wds.WebDataset(urls, shardshuffle=False))


def grey(data):
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


@pytest.fixture(scope="module")
def edges():
    return canny(load_grey(ASTRONAUT, 96), 100, 200)


@pytest.mark.parametrize("photo", [CAMERA, ASTRONAUT, PHOTOS / "rocket.jpg"])
def test_canny_output_is_binary(photo):
    grey_image = load_grey(photo, 128)
    assert grey_image.shape == (128, 128) and grey_image.dtype == np.uint8
    out = canny(grey_image, 100, 200)
    assert set(np.unique(out).tolist()) == {0, 255}
    assert 0.01 < np.count_nonzero(out) / out.size < 0.5


def test_exif_orientation_is_applied(tmp_path):
    photo = Image.open(CAMERA)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: rotate 90 degrees clockwise to view
    photo.save(tmp_path / "tagged.png", exif=exif)
    photo.transpose(Image.Transpose.ROTATE_270).save(tmp_path / "upright.png")
    upright = load_grey(tmp_path / "upright.png", 64)
    assert np.array_equal(load_grey(tmp_path / "tagged.png", 64), upright)
    assert not np.array_equal(load_grey(CAMERA, 64), upright)


def test_canny_thresholds_matter():
    photo = load_grey(CAMERA, 128)
    assert np.count_nonzero(canny(photo, 20, 40)) > np.count_nonzero(canny(photo, 150, 300))


@pytest.mark.parametrize("kind", TRANSFORMS)
def test_each_transform_is_the_identity_at_zero_delta(edges, kind):
    draws = draw_transform(kind, 0.0, np.random.default_rng(1), 4)
    assert np.array_equal(warp(edges, kind, draws, 4), edges)
    moved = warp(edges, kind, draw_transform(kind, 0.2, np.random.default_rng(1), 4), 4)
    assert not np.array_equal(moved, edges)
    assert set(np.unique(moved).tolist()) <= {0, 255}


def test_affine_translation_moves_by_whole_pixels(edges):
    step = 2.0 / (edges.shape[0] - 1)  # one pixel in normalised units
    moved = warp(edges, "affine", np.array([0, 0, 0, 0, 3 * step, -2 * step]), 4)
    assert np.array_equal(moved[2:, :-3], edges[:-2, 3:])
    assert not moved[:2].any() and not moved[:, -3:].any()


def test_polynomial_contains_the_affine_map(edges):
    affine = np.array([0.05, -0.02, 0.03, 0.04, 0.01, -0.03])
    poly = np.array([0.01, 0.05, -0.02, 0, 0, 0, -0.03, 0.03, 0.04, 0, 0, 0])
    assert np.array_equal(warp(edges, "affine", affine, 4), warp(edges, "polynomial", poly, 4))


def direct_polynomial(edges, coeffs):
    """The documented polynomial map evaluated plainly, in float64."""
    size = edges.shape[0]
    y, x = np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size), indexing="ij")
    terms = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y])
    dx, dy = (np.tensordot(k, terms, 1) for k in coeffs.reshape(2, 6))
    rows, cols = np.indices(edges.shape)
    src_x = np.rint(cols + dx * (size - 1) / 2).astype(int)
    src_y = np.rint(rows + dy * (size - 1) / 2).astype(int)
    inside = (src_x >= 0) & (src_x < size) & (src_y >= 0) & (src_y < size)
    out = np.zeros_like(edges)
    out[inside] = edges[src_y[inside], src_x[inside]]
    return out


def test_polynomial_follows_its_formula(edges):
    coeffs = draw_transform("polynomial", 0.3, np.random.default_rng(5), 4)
    got = warp(edges, "polynomial", coeffs, 4)
    # float32 maps may round a coordinate lying on a half pixel the other way
    assert np.mean(got != direct_polynomial(edges, coeffs)) < 1e-3
    assert not np.array_equal(got, edges)


def test_elastic_displacement_is_smooth_and_bounded():
    from fdsl_gen.formulas.warp import source_maps
    size, delta = 64, 0.2
    draws = draw_transform("elastic", delta, np.random.default_rng(6), 4)
    map_x, map_y = source_maps("elastic", draws, size, 4)
    dx = map_x - np.arange(size)[None, :]
    dy = map_y - np.arange(size)[:, None]
    half = (size - 1) / 2
    largest = np.abs(draws).max() * half
    # bicubic weights (OpenCV's a = -0.75) sum to at most 1.25 in absolute value per axis
    assert max(np.abs(dx).max(), np.abs(dy).max()) <= 1.25 ** 2 * largest
    assert max(np.abs(dx).max(), np.abs(dy).max()) >= 0.5 * largest
    # smooth: neighbours differ by a small part of the amplitude (white noise would reach 2x)
    assert np.abs(np.diff(dx, axis=1)).max() < 0.25 * largest
    assert np.abs(np.diff(dy, axis=0)).max() < 0.25 * largest


def test_draws_stay_within_half_delta():
    for kind, count in (("affine", 6), ("polynomial", 12), ("elastic", 2 * 5 * 5)):
        draws = draw_transform(kind, 0.3, np.random.default_rng(2), 5)
        assert draws.shape == (count,) and np.all(np.abs(draws) <= 0.15)


@pytest.mark.parametrize("kind", TRANSFORMS)
def test_render_through_the_cli(tmp_path, cli, kind):
    one, two = tmp_path / "one", tmp_path / "two"
    for out, workers in ((one, 1), (two, 2)):
        result = cli("render", "real1p", "--image", ASTRONAUT, "--transform", kind, "--out", out,
                     "--workers", workers, *SMALL)
        assert result.exit_code == 0, result.output
    manifest = json.loads((one / "manifest.json").read_text())
    assert manifest["loss"] == "lpce" and manifest["num_classes"] == 8
    assert manifest["splits"]["train"]["num_samples"] == 8
    ours, theirs = sorted(one.glob("*.tar")), sorted(two.glob("*.tar"))
    assert len(ours) == 3 and all(a.read_bytes() == b.read_bytes() for a, b in zip(ours, theirs))
    found = samples(one)
    assert sorted(int(s["cls"]) for s in found) == list(range(8))
    images = [grey(s["png"]) for s in found]
    assert all(set(np.unique(i).tolist()) <= {0, 255} for i in images)
    assert len({i.tobytes() for i in images}) == 8
    table = np.loadtxt(one / "params" / "transforms.csv", delimiter=",", ndmin=2)
    edge_map = grey((one / "params" / "edges.png").read_bytes())
    for sample, image in zip(found, images):
        meta = json.loads(sample["json"])
        assert np.array_equal(table[meta["cls"], 1:], meta["draws"])
        assert np.array_equal(image, warp(edge_map, kind, np.array(meta["draws"]), 4))


def test_zero_delta_renders_the_edge_map_in_every_class(tmp_path, cli):
    out = tmp_path / "still"
    result = cli("render", "real1p", "--image", CAMERA, "--delta", 0, "--out", out, *SMALL)
    assert result.exit_code == 0, result.output
    edge_map = grey((out / "params" / "edges.png").read_bytes())
    assert np.array_equal(edge_map, canny(load_grey(CAMERA, 64), 100, 200))
    assert all(np.array_equal(grey(s["png"]), edge_map) for s in samples(out))


@pytest.mark.parametrize("args, words", [
    (("--image", __file__), "cannot read image"),
    (("--image", "/no/such/photo.png"), "does not exist"),
    ((), "--image"),
    (("--image", CAMERA, "--canny-low", 300, "--canny-high", 100), "Canny"),
    (("--image", CAMERA, "--canny-low", 5000, "--canny-high", 9000), "no edge"),
    (("--image", CAMERA, "--elastic-grid", 1), "--elastic-grid"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, cli, args, words):
    result = cli("render", "real1p", "--out", tmp_path / "bad", "--size", 32, "--quiet", *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fdsl-gen: error:") and words in lines[0], result.stderr


def test_unknown_transform_is_a_usage_error(tmp_path, cli):
    result = cli("render", "real1p", "--image", CAMERA, "--transform", "shear", "--out", tmp_path / "bad")
    assert result.exit_code == 2 and "'shear' is not one of" in result.stderr, result.stderr
