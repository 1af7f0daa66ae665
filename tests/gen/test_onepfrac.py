import io
import json
import pickle

import numpy as np
import pytest
import webdataset as wds
from PIL import Image

from reference import fractaldb as ref
from fdsl_gen.formulas import ifs2d
from fdsl_gen.formulas.sigma import sigma_factor
from fdsl_gen.params import read_system
from fdsl_gen.configs import OnePFracConfig
from fdsl_gen.recipes.onepfrac import OnePFrac

SMALL = ("--classes", 8, "--size", 64, "--points", 5000, "--samples-per-shard", 3, "--quiet")


def samples(folder):
    urls = [str(p) for p in sorted(folder.glob("*-train-*.tar"))]
    return list(wds.WebDataset(urls, shardshuffle=False))


def grey(sample):
    return np.asarray(Image.open(io.BytesIO(sample["png"])).convert("L"))


def class_table(folder):
    return np.loadtxt(folder / "params" / "classes.csv", delimiter=",", ndmin=2)


@pytest.fixture
def rendered(tmp_path, cli):
    out = tmp_path / "one"
    result = cli("render", "1p-frac", "--out", out, "--workers", 1, *SMALL)
    assert result.exit_code == 0, result.output
    return out


def test_manifest_names_lpce_and_l_classes(rendered):
    manifest = json.loads((rendered / "manifest.json").read_text())
    info = json.loads((rendered / "_info.json").read_text())
    assert manifest["recipe"] == "1p-frac" and manifest["loss"] == "lpce"
    assert manifest["num_classes"] == info["num_classes"] == 8
    assert manifest["splits"]["train"]["num_samples"] == 8
    assert abs(manifest["config"]["sigma_factor"] - 3.5) <= 0.1
    assert sorted(int(s["cls"]) for s in samples(rendered)) == list(range(8))


def test_same_bytes_with_one_or_two_workers(tmp_path, cli, rendered):
    out = tmp_path / "two"
    result = cli("render", "1p-frac", "--out", out, "--workers", 2, *SMALL)
    assert result.exit_code == 0, result.output
    ours = sorted(out.glob("*.tar")) + sorted(out.glob("params/*"))
    theirs = sorted(rendered.glob("*.tar")) + sorted(rendered.glob("params/*"))
    assert len(ours) == len(theirs) == 5
    assert [p.name for p in ours] == [p.name for p in theirs]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(ours, theirs))


def test_every_image_equals_the_reference_algorithm(rendered):
    table = class_table(rendered)
    for sample in samples(rendered):
        meta = json.loads(sample["json"])
        rows = table[table[:, 0] == meta["cls"]]
        system = rows[:, 2:9]
        assert np.array_equal(system, np.array(meta["system"]))
        rand = np.random.RandomState(100).random_sample(5000)
        px, py = ref.rescale(*ref.orbit(system, rand), 64)
        masks = ifs2d.patch_masks(5000, np.uint64(int(meta["seed"])))
        expected = np.asarray(ref.draw_patch(px, py, 64, masks))[:, :, 0]
        assert np.array_equal(grey(sample), expected), meta
        assert np.count_nonzero(expected) / 64 ** 2 > 0.05


def test_saved_parameters_rebuild_every_class(rendered):
    base = read_system(rendered / "params" / "base.csv")
    assert base.shape == (2, 7) and abs(sigma_factor(base) - 3.5) <= 0.1
    table = class_table(rendered)
    assert table.shape == (16, 15)
    factors, systems = table[:, 9:], table[:, 2:9]
    tiled = np.tile(base, (8, 1))
    assert np.allclose(systems[:, :6], tiled[:, :6] * factors, rtol=0, atol=1e-15)
    assert np.array_equal(systems[:, 6], tiled[:, 6])
    assert np.all(np.abs(factors - 1) <= 0.1) and not np.allclose(factors, 1)


def test_base_file_gives_the_same_classes(tmp_path, cli, rendered):
    out = tmp_path / "from-file"
    result = cli("render", "1p-frac", "--params", rendered / "params" / "base.csv", "--out", out,
                 "--workers", 1, *SMALL)
    assert result.exit_code == 0, result.output
    assert (out / "params" / "classes.csv").read_bytes() == (rendered / "params" / "classes.csv").read_bytes()
    assert [a.read_bytes() for a in sorted(out.glob("*.tar"))] == \
        [b.read_bytes() for b in sorted(rendered.glob("*.tar"))]


def config(**changes):
    values = dict(classes=8, size=64, points=5000)
    values.update(changes)
    return OnePFracConfig(**values)


def test_a_class_does_not_depend_on_how_many_there_are():
    many = OnePFrac(config(classes=8), seed=3)
    few = OnePFrac(config(classes=3), seed=3)
    assert np.array_equal(many.systems[:3], few.systems)
    assert np.array_equal(many.render_group(2, 0)[0][0], few.render_group(2, 0)[0][0])
    assert not np.array_equal(many.systems[0], many.systems[1])


def test_kept_first_images_equal_redrawn_ones():
    recipe = OnePFrac(config(classes=4), seed=2)
    assert recipe.first_images is not None
    copy = pickle.loads(pickle.dumps(recipe))
    assert copy.first_images is None
    for cls in range(4):
        kept, redrawn = recipe.render_group(cls, 0)[0], copy.render_group(cls, 0)[0]
        assert np.array_equal(kept[0], redrawn[0]) and kept[1] == redrawn[1]
        assert kept[0].dtype == np.uint8 and set(np.unique(kept[0]).tolist()) == {0, 127}


def test_sparse_perturbations_are_drawn_again():
    recipe = OnePFrac(config(classes=8, fill_rate=0.09), seed=1)
    assert recipe.attempts.max() > 0
    assert np.all(recipe.fills > 0.09)
    cls = int(np.argmax(recipe.attempts))
    first = OnePFrac(config(classes=cls + 1, fill_rate=0.0), seed=1)
    assert first.fills[cls] <= 0.09  # attempt 0 of that class was too sparse


def test_additive_form_offsets_the_parameters():
    recipe = OnePFrac(config(classes=4, perturb="add", delta=0.2), seed=1)
    assert np.all(np.abs(recipe.draws) <= 0.1)
    assert np.allclose(recipe.systems[:, :, :6], recipe.base[:, :6] + recipe.draws, rtol=0, atol=1e-15)


def test_instances_differ_by_their_masks_only(tmp_path, cli):
    out = tmp_path / "two-each"
    result = cli("render", "1p-frac", "--out", out, "--instances", 2, "--workers", 1, *SMALL)
    assert result.exit_code == 0, result.output
    by_class = {}
    for sample in samples(out):
        by_class.setdefault(int(sample["cls"]), []).append(sample)
    assert sorted(len(v) for v in by_class.values()) == [2] * 8
    first, second = by_class[0]
    assert json.loads(first["json"])["system"] == json.loads(second["json"])["system"]
    assert not np.array_equal(grey(first), grey(second))


@pytest.mark.parametrize("args, words", [
    (("--fill-rate", 0.99, "--retries", 2), "too sparse"),
    (("--sigma", 6.5), "--sigma"),
    (("--delta", -0.1), "--delta"),
    (("--classes", 0), "--classes"),
    (("--params", "/no/such/base.csv"), "cannot read"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, cli, args, words):
    result = cli("render", "1p-frac", "--out", tmp_path / "bad", "--classes", 2, "--size", 32,
                 "--points", 2000, "--quiet", *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fdsl-gen: error:") and words in lines[0], result.stderr
