import io
import json

import numpy as np
import pytest
import webdataset as wds
from PIL import Image

from reference import fractaldb as ref
from fdsl_gen.formulas import ifs2d
from fdsl_gen.params import read_system, weight_rows

SMALL = ("--size", 64, "--points", 5000, "--samples-per-shard", 3, "--quiet")


def samples(folder):
    urls = [str(p) for p in sorted(folder.glob("*-train-*.tar"))]
    return list(wds.WebDataset(urls, shardshuffle=False))


def grey(sample):
    return np.asarray(Image.open(io.BytesIO(sample["png"])).convert("L"))


def render(cli, params_dir, out, *args):
    result = cli("render", "ofdb", "--params", params_dir, "--out", out, *SMALL, *args)
    assert result.exit_code == 0, result.output
    return out


def reference_image(params_dir, meta, weight_row):
    system = read_system(params_dir / f"{meta['category']:05d}.csv")
    masks = ifs2d.patch_masks(5000, np.uint64(int(meta["seed"])))
    return np.asarray(ref.render_canvas(system, weight_row, 5000, 64, masks))[:, :, 0]


@pytest.mark.parametrize("compat", [False, True])
def test_one_image_per_category_equal_to_the_reference(tmp_path, cli, params_dir, compat):
    out = render(cli, params_dir, tmp_path / "ofdb", *(["--compat"] if compat else []))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["num_classes"] == 4 and manifest["loss"] == "ce"
    assert manifest["splits"]["train"]["num_samples"] == 4
    row = weight_rows(0.4)[0] if compat else np.ones(6)
    assert manifest["config"]["weight_row"] == row.tolist()
    found = samples(out)
    assert sorted(int(s["cls"]) for s in found) == [0, 1, 2, 3]
    for sample in found:
        meta = json.loads(sample["json"])
        assert np.array_equal(grey(sample), reference_image(params_dir, meta, row)), meta


def test_compat_scales_a_by_one_minus_2k(tmp_path, cli, params_dir):
    plain = samples(render(cli, params_dir, tmp_path / "plain"))
    compat = samples(render(cli, params_dir, tmp_path / "compat", "--compat"))
    assert weight_rows(0.4)[0].tolist() == [0.2, 1, 1, 1, 1, 1]
    assert any(not np.array_equal(grey(a), grey(b)) for a, b in zip(plain, compat))


def test_instances_redraw_the_masks(tmp_path, cli, params_dir):
    found = samples(render(cli, params_dir, tmp_path / "three", "--instances", 3))
    first = [s for s in found if int(s["cls"]) == 0]
    assert len(found) == 12 and len(first) == 3
    images = [grey(s) for s in first]
    assert not np.array_equal(images[0], images[1]) and not np.array_equal(images[1], images[2])
    metas = [json.loads(s["json"]) for s in first]
    assert sorted(m["instance"] for m in metas) == [0, 1, 2] and len({m["seed"] for m in metas}) == 3


def test_same_bytes_with_one_or_two_workers(tmp_path, cli, params_dir):
    one = render(cli, params_dir, tmp_path / "one", "--workers", 1, "--instances", 2)
    two = render(cli, params_dir, tmp_path / "two", "--workers", 2, "--instances", 2)
    ours, theirs = sorted(one.glob("*.tar")), sorted(two.glob("*.tar"))
    assert len(ours) == 3 and [p.name for p in ours] == [p.name for p in theirs]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(ours, theirs))


def test_inline_search_uses_the_published_categories(tmp_path, cli, params_dir):
    out = tmp_path / "searched"
    result = cli("render", "ofdb", "--search", "--categories", 2, "--out", out, *SMALL)
    assert result.exit_code == 0, result.output
    for i in range(2):
        assert np.array_equal(read_system(out / "params" / f"{i:05d}.csv"),
                              read_system(params_dir / f"{i:05d}.csv"))


@pytest.mark.parametrize("args, words", [
    ((), "--params DIR or --search"),
    (("--params", "/no/such/folder"), "does not exist"),
    (("--search", "--instances", 0), "--instances"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, cli, args, words):
    result = cli("render", "ofdb", "--out", tmp_path / "bad", "--quiet", *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fdsl-gen: error:") and words in lines[0], result.stderr
