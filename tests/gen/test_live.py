"""Live rendering (fdsl_gen.live) against the shards fdsl-gen writes: same samples, same order, same pixels."""
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from fdsl_gen import registry
from fdsl_gen.cli import main
from fdsl_gen.errors import UserError
from fdsl_gen.live import from_manifest, open_live
from fdsl_gen.options import flag
from fdsl_gen.pipeline import render_dataset
from fdsl_gen.tarformat import iter_samples
from helpers import TINY


def decoded(folder, split, file):
    """[(image, cls, meta)] of a written shard, its PNGs decoded as a reader decodes them."""
    return decoded_tar(str(folder / file))


def decoded_tar(source):
    samples = []
    for _, fields in iter_samples(source):
        with Image.open(io.BytesIO(fields["png"])) as image:
            mode = "L" if image.mode in ("L", "1") or _grey_palette(image) else "RGB"
            pixels = np.asarray(image.convert(mode))
        samples.append((pixels, int(fields["cls"]), json.loads(fields["json"])))
    return samples


def _grey_palette(image):
    palette = image.getpalette() if image.mode == "P" else None
    return bool(palette) and palette[0::3] == palette[1::3] == palette[2::3]


def assert_same(live, written):
    assert len(live) == len(written) > 0
    for (image, cls, meta), (pixels, label, stored) in zip(live, written):
        assert image.dtype == np.uint8 and image.shape == pixels.shape
        assert np.array_equal(image, pixels)
        assert cls == label and meta == stored


def tiny_options(name, folders):
    return {k: v.format(**folders) if isinstance(v, str) else v for k, v in TINY[name].items()}


@pytest.mark.parametrize("name", registry.list_recipes())
def test_live_samples_equal_the_decoded_shards_of_every_recipe(name, param_folders, tmp_path):
    out = tmp_path / name
    manifest = render_dataset(name, out, seed=5, samples_per_shard=3, **tiny_options(name, param_folders))
    live = from_manifest(out)
    assert live.num_classes == manifest["num_classes"] and live.loss == manifest["loss"]
    for split, info in manifest["splits"].items():
        assert live.shard_sizes(split) == tuple(s["samples"] for s in info["shards"])
        for index, shard in enumerate(info["shards"]):
            assert_same(live.shard(split, index), decoded(out, split, shard["file"]))


def test_a_manifest_renders_from_its_stored_params_alone(param_folders, tmp_path):
    params = shutil.copytree(param_folders["ifs2d"], tmp_path / "params")
    out = tmp_path / "fdb"
    manifest = render_dataset("fractaldb", out, seed=2, samples_per_shard=4, val_fraction=0.5, params=str(params),
                              size=32, points=500, counts=2, weight_k=0.1)
    shutil.rmtree(params)  # the live source reads out/params/, not the folder the render was given
    live = from_manifest(out / "manifest.json")
    assert live.splits() == ["train", "validation"]
    for split in live.splits():
        files = [s["file"] for s in manifest["splits"][split]["shards"]]
        assert_same([s for i in range(len(files)) for s in live.shard(split, i)],
                    [s for file in files for s in decoded(out, split, file)])


def test_a_dataset_in_an_object_store_renders_from_its_stored_params(param_folders, s3, tmp_path):
    params = shutil.copytree(param_folders["ifs2d"], tmp_path / "params")
    manifest = render_dataset("fractaldb", f"{s3.url}/fdb", samples_per_shard=5, params=str(params), size=32,
                              points=500, counts=1, weight_k=0.1, instances=6)
    shutil.rmtree(params)
    live = from_manifest(f"{s3.url}/fdb/manifest.json")
    for index, shard in enumerate(manifest["splits"]["train"]["shards"]):
        assert_same(live.shard("train", index), decoded_tar(s3.get(f"fdb/{shard['file']}")))


def test_readers_deal_every_virtual_shard_once(param_folders, tmp_path):
    out = tmp_path / "rcdb"
    render_dataset("rcdb", out, seed=1, samples_per_shard=1, categories=2, instances=3, size=32, polygons_max=5)
    live = from_manifest(out)
    dealt = [meta["instance"] * 10 + cls
             for rank in range(2) for worker in range(2)
             for _, cls, meta in live.samples("train", rank=rank, world=2, worker=worker, workers=2)]
    assert sorted(dealt) == sorted(m["instance"] * 10 + c for i in range(6) for _, c, m in live.shard("train", i))
    assert [m for _, _, m in live.samples("train", rank=1, world=2, worker=0, workers=2)] == \
        [m for i in (2,) for _, _, m in live.shard("train", i)]


def test_fresh_epochs_draw_new_instances_of_the_same_classes(tmp_path):
    live = open_live("live:fractaldb?search&categories=2&size=32&points=800&counts=1&weight-k=0.1&samples-per-shard=8")
    first = live.shard("train", 0)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first, live.shard("train", 0, epoch=1)))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first, live.shard("train", 0, epoch=0, fresh=True)))
    fresh = live.shard("train", 0, epoch=1, fresh=True)
    assert [s[1] for s in fresh] == [s[1] for s in first]
    assert [m["flip"] for _, _, m in fresh] == [m["flip"] for _, _, m in first]
    changed = sum(not np.array_equal(a[0], b[0]) for a, b in zip(first, fresh))
    assert changed == len(first)
    again = live.shard("train", 0, epoch=1, fresh=True)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(fresh, again))
    assert {m["seed"] for _, _, m in live.shard("train", 0, epoch=2, fresh=True)}.isdisjoint(
        m["seed"] for _, _, m in fresh)


def test_a_recipe_spec_is_the_dataset_fdsl_gen_would_write(param_folders, tmp_path):
    out = tmp_path / "rcdb"
    manifest = render_dataset("rcdb", out, seed=5, name="contours", samples_per_shard=3, **TINY["rcdb"])
    live = open_live("rcdb?categories=2&instances=2&size=32&polygons_max=10&seed=5&name=contours"
                     "&samples-per-shard=3")
    assert {k: v for k, v in live.manifest.items() if k != "splits"} == \
        {k: v for k, v in manifest.items() if k != "splits"}
    for index, shard in enumerate(manifest["splits"]["train"]["shards"]):
        assert live.manifest["splits"]["train"]["shards"][index]["file"] == shard["file"]
        assert_same(live.shard("train", index), decoded(out, "train", shard["file"]))


@pytest.mark.parametrize("query, flags", [
    ("size=8", ["--size", "8"]),
    ("noise=wavy", ["--noise", "wavy"]),
    ("instances=two", ["--instances", "two"]),
    ("gray_min=200&gray-max=100", ["--gray-min", "200", "--gray-max", "100"]),
])
def test_bad_options_fail_with_the_line_fdsl_gen_render_prints(query, flags, tmp_path):
    """The same refusal, its parameters named as a query names them (`gray_min`), the CLI's as flags."""
    result = CliRunner().invoke(main, ["render", "rcdb", *flags, "--out", str(tmp_path / "out"), "--quiet"],
                                prog_name="fdsl-gen")
    assert result.exit_code == 2
    line = result.stderr.strip().removeprefix("fdsl-gen: error: ")
    with pytest.raises(UserError) as refused:
        open_live(f"live:rcdb?{query}")
    assert refused.value.spelled(flag) == line
    assert "--" not in str(refused.value)


@pytest.mark.parametrize("query, words", [
    ("workers=4", ["workers", "says how a render runs"]),
    ("task_index=1", ["task_index", "says how a render runs"]),
    ("colour=red", ["colour", "is no option"]),
    ("help", ["help", "is no option"]),
    ("antialias=maybe", ["antialias", "'maybe'", "true or false"]),
    ("out=here", ["out", "says how a render runs"]),
    ("engine=dask", ["engine", "says how a render runs"]),
])
def test_options_a_live_source_has_not_are_refused_by_name(query, words):
    with pytest.raises(UserError) as refused:
        open_live(f"rcdb?{query}")
    assert all(word in str(refused.value) for word in words)


def test_a_manifest_of_a_newer_format_is_refused_by_name(tmp_path):
    out = tmp_path / "rcdb"
    render_dataset("rcdb", out, **TINY["rcdb"])
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps(dict(manifest, format_version=3)))
    with pytest.raises(UserError, match=r"format_version 3 is newer than this fdsl"):
        from_manifest(out)
    (out / "manifest.json").write_text(json.dumps(dict(manifest, format_version=1)))
    with pytest.raises(UserError, match=r"format_version 1; this reads format 2 only"):
        from_manifest(out)


def test_a_manifest_this_fdsl_would_render_otherwise_is_refused(tmp_path):
    out = tmp_path / "rcdb"
    render_dataset("rcdb", out, **TINY["rcdb"])
    manifest = json.loads((out / "manifest.json").read_text())
    categories = manifest["config"]["category_params"]
    categories[0] = dict(categories[0], vertices=categories[0]["vertices"] + 1)  # as an older recipe drew it
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match=r"other settings than the manifest \(category_params\); read its shards"):
        from_manifest(out)


def test_the_live_api_imports_no_torch():
    code = ("import sys; from fdsl_gen.live import open_live; "
            "data = open_live('bezier?categories=2&instances=3&size=32&samples-per-shard=2'); "
            "n = sum(1 for _ in data.samples('train', rank=0, world=1, worker=0, workers=1)); "
            "print(n, sorted(m for m in ('torch', 'torchvision', 'timm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[0] == "6" and out.strip().endswith("[]")


def test_readme_python_live_block_runs_verbatim():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "open_live" in b)
    scope = {}
    exec(block, scope)
    assert len(scope["images"]) == 4 * 5 and scope["images"][0].shape == (64, 64)
