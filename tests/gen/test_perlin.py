import numpy as np
import webdataset as wds
from click.testing import CliRunner

from fdsl_gen.cli import main
from fdsl_gen.formulas import perlin
from fdsl_gen.configs import PerlinConfig
from fdsl_gen.recipes.perlin import PerlinNoise

TINY = ("--categories", 3, "--instances", 4, "--size", 32, "--samples-per-shard", 5, "--quiet")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def recipe(**changes):
    return PerlinNoise(PerlinConfig(**dict(dict(size=48, categories=6, instances=4), **changes)), seed=5)


def test_noise_is_zero_on_the_lattice_bounded_continuous_and_periodic():
    perm = perlin.permutation(np.random.default_rng(1))
    rng = np.random.default_rng(2)
    assert all(perlin.noise2(float(i), float(j), perm) == 0.0 for i, j in rng.integers(-300, 300, (50, 2)))
    points = rng.uniform(-50, 50, (5000, 2))
    values = np.array([perlin.noise2(x, y, perm) for x, y in points])
    assert np.abs(values).max() <= 1.0 and values.std() > 0.1 and abs(values.mean()) < 0.05
    nudged = np.array([perlin.noise2(x + 1e-4, y - 1e-4, perm) for x, y in points])
    assert np.abs(nudged - values).max() < 1e-3
    shifted = np.array([perlin.noise2(x + 256.0, y - 512.0, perm) for x, y in points])
    assert np.allclose(shifted, values, atol=1e-9)


def test_fractal_sum_stays_in_range_and_more_octaves_add_detail():
    perm = perlin.permutation(np.random.default_rng(3))
    one = perlin.fractal_image(64, 4.0, 1, 0.5, 10.0, 20.0, perm)
    four = perlin.fractal_image(64, 4.0, 4, 0.5, 10.0, 20.0, perm)
    assert np.abs(four).max() <= 1.0
    roughness = [np.abs(np.diff(image, axis=1)).mean() / image.std() for image in (one, four)]
    assert roughness[1] > 1.3 * roughness[0]


def test_images_are_grey_full_range_and_a_pure_function_of_seed_class_and_instance():
    r = recipe()
    (image, meta), = r.render_group(2, 1)
    assert image.shape == (48, 48) and image.dtype == np.uint8 and image.min() == 0 and image.max() == 255
    assert np.array_equal(recipe().render_group(2, 1)[0][0], image)
    assert not np.array_equal(r.render_group(2, 2)[0][0], image)
    assert meta["category"] == 2 and 1 <= meta["octaves"] <= 4 and 1.0 <= meta["frequency"] <= 16.0
    assert not np.array_equal(PerlinNoise(r.config, seed=6).render_group(2, 1)[0][0], image)


def test_categories_separate_instances_of_one_field_correlate():
    r = recipe()
    images = np.array([r.render_group(c, j)[0][0] for c in range(6) for j in range(4)], float).reshape(24, -1)
    labels = np.repeat(np.arange(6), 4)
    corr = np.corrcoef(images)
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(24, dtype=bool)
    assert corr[same & off_diagonal].mean() > corr[~same].mean() + 0.3
    np.fill_diagonal(corr, -2)
    assert (labels[corr.argmax(axis=1)] == labels).mean() >= 0.9  # leave-one-out nearest neighbour


def test_cli_shards_are_identical_for_any_number_of_workers(tmp_path):
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        assert run("render", "perlin", "--out", out, "--workers", workers, *TINY).exit_code == 0
        outs.append(out)
    tars = [sorted(out.glob("perlin-train-*.tar")) for out in outs]
    assert len(tars[0]) == 3 and [t.read_bytes() for t in tars[0]] == [t.read_bytes() for t in tars[1]]
    samples = list(wds.WebDataset([str(t) for t in tars[0]], shardshuffle=False))
    assert sorted(int(s["cls"]) for s in samples) == [0] * 4 + [1] * 4 + [2] * 4


def test_an_empty_range_is_one_line_error(tmp_path):
    result = run("render", "perlin", "--octaves-min", 5, "--octaves-max", 2, "--out", tmp_path / "x", *TINY)
    assert result.exit_code == 2
    assert result.stderr.strip() == "fdsl-gen: error: --octaves-min must not exceed --octaves-max"
    assert not (tmp_path / "x" / "manifest.json").exists()
