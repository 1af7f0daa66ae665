"""Rendering from Python (a notebook) gives the CLI's dataset; the README's Python runs."""
import inspect
import json
import re
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from fdsl_gen.errors import UserError
from fdsl_gen.lifecycle import missing_shards
from fdsl_gen.pipeline import RunOptions, render_dataset, run_search
from fdsl_gen.plan import Plan
from fdsl_gen.recipes.ofdb import OFDB
from fdsl_gen.registry import create_recipe
from fdsl_gen.renderer import render_shard, shard_images

OPTIONS = {"categories": 2, "instances": 3, "size": 32, "polygons_max": 10}


def test_render_dataset_from_python_equals_the_cli_render(cli, tmp_path):
    manifest = render_dataset("rcdb", tmp_path / "py", seed=3, samples_per_shard=4, **OPTIONS)
    result = cli("render", "rcdb", "--seed", 3, "--samples-per-shard", 4, "--categories", 2, "--instances", 3,
                 "--size", 32, "--polygons-max", 10, "--workers", 1, "--quiet", "--out", tmp_path / "cli")
    assert result.exit_code == 0, result.output
    assert manifest["splits"]["train"]["num_samples"] == 6
    tars = sorted(p.name for p in (tmp_path / "cli").glob("*.tar"))
    assert tars == sorted(p.name for p in (tmp_path / "py").glob("*.tar")) and len(tars) == 2
    for name in tars:
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
    recorded = {way: json.loads((tmp_path / way / "manifest.json").read_text())["command"] for way in ("py", "cli")}
    assert recorded["py"] == recorded["cli"] == ("fdsl-gen render rcdb --seed 3 --name rcdb --samples-per-shard 4 "
                                                 "--val-fraction 0.0 --categories 2 --instances 3 --size 32 "
                                                 "--polygons-max 10")


def test_the_recorded_command_is_one_spelling_of_the_dataset(cli, tmp_path):
    """Options given in another order, at their defaults, as other types, or with run options: one command."""
    render_dataset("rcdb", tmp_path / "py", size=32.0, polygons_max=10, categories=2, instances=3, antialias=False,
                   noise="independent", samples_per_shard=4, val_fraction=0, run=RunOptions(workers=2))
    result = cli("render", "rcdb", "--polygons-max", 10, "--noise", "independent", "--size", 32, "--categories", 2,
                 "--instances", 3, "--samples-per-shard", 4, "--workers", 1, "--quiet", "--out", tmp_path / "cli")
    assert result.exit_code == 0, result.output
    recorded = {way: json.loads((tmp_path / way / "manifest.json").read_text())["command"] for way in ("py", "cli")}
    assert recorded["py"] == recorded["cli"] == ("fdsl-gen render rcdb --seed 1 --name rcdb --samples-per-shard 4 "
                                                 "--val-fraction 0.0 --categories 2 --instances 3 --size 32 "
                                                 "--polygons-max 10")


@pytest.mark.parametrize("call, words", [
    (lambda out: render_dataset("rcdb", out, seed=-1, **OPTIONS), "seed must be at least 0, not -1"),
    (lambda out: render_dataset("rcdb", out, val_fraction=float("nan"), **OPTIONS),
     "val_fraction must be a finite number, not nan"),
    (lambda out: render_dataset("rcdb", out, **dict(OPTIONS, gray_min=9, gray_max=3)),
     "grey levels must satisfy 0 <= gray_min <= gray_max <= 255"),
    (lambda out: render_dataset("rcdb", out, run=RunOptions(task_index=1), **OPTIONS),
     "give both task_index and num_tasks (or neither)"),
    (lambda out: RunOptions(engine="dask"), "engine dask needs scheduler ADDRESS"),
])
def test_a_library_call_names_parameters_as_python_spells_them(tmp_path, call, words):
    """`seed`, not `--seed`: the flags are fdsl-gen's (test_faults.py); nothing is written."""
    with pytest.raises(UserError) as refused:
        call(tmp_path / "out")
    assert words in str(refused.value) and "--" not in str(refused.value)
    assert not (tmp_path / "out").exists()


def test_run_search_from_python_writes_the_cli_search(cli, tmp_path):
    record = run_search("fractaldb", tmp_path / "py", categories=2)
    assert cli("search", "fractaldb", "--categories", 2, "--out", tmp_path / "cli", "--quiet").exit_code == 0
    assert record["trials"] >= 2 and record["config"]["categories"] == 2
    for name in ("00000.csv", "00001.csv"):
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()


def readme_python_blocks():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    return [textwrap.dedent(block) for block in re.findall(r"```python\n(.*?)```", readme, re.S)]


def test_readme_python_render_runs_verbatim(tmp_path, monkeypatch):
    block = next(b for b in readme_python_blocks() if "render_dataset" in b)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(block, scope)
    assert scope["manifest"]["splits"]["train"]["num_samples"] == 4 * 5
    assert (tmp_path / "shards" / "rcdb-small" / "manifest.json").exists()


def test_readme_worked_example_is_the_recipe_source():
    example = next(b for b in readme_python_blocks() if "def render_group" in b)
    source = textwrap.dedent(inspect.getsource(OFDB.render_group))
    assert example == source


def test_a_claim_taken_over_mid_run_stops_the_run_before_its_manifest(tmp_path):
    """Records of this run that name another config than the store's claim never become its manifest."""
    out = tmp_path / "taken"
    assert render_dataset("rcdb", out, categories=2, instances=2, size=32, samples_per_shard=2,
                          run=RunOptions(shards=(0, 1))) is None
    claim_file = out / ".render" / "config.json"
    record = json.loads((out / ".render" / "rcdb-train-000000.tar.json").read_text())
    claim_file.write_text(json.dumps(dict(json.loads(claim_file.read_text()), fingerprint="0" * 64)))
    with pytest.raises(UserError, match="claimed by another render while this one ran"):
        missing_shards(out, [record])


def test_a_shard_is_encoded_as_it_is_drawn_never_holding_all_its_images():
    """128 images of 256 px are 8 MiB raw: the shard's memory peak is its PNGs and a little, not that."""
    recipe = create_recipe("rcdb", seed=1, categories=4, instances=32, size=256, min_ink=0)
    plan = Plan.of(recipe, 1, 128)
    render_shard(recipe, plan, "train", 0)  # the kernels compile outside the measure
    tracemalloc.start()
    try:
        samples = render_shard(recipe, plan, "train", 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    raw, pngs = 128 * 256 * 256, sum(len(png) for _, png, _ in samples)
    assert len(samples) == 128
    assert peak < pngs + raw / 4
    assert [(key, meta) for key, _, meta in samples] == [(key, meta) for key, _, meta in
                                                         shard_images(recipe, plan, "train", 0)]
