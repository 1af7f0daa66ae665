"""Every registered recipe and search against its declared contract, and every recipe's options against one table."""
import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from fdsl_gen import registry
from fdsl_gen.cli import render
from fdsl_gen.recipe import Recipe, Search
from helpers import TINY, loaded_after

# Options every `fdsl-gen render NAME` has.
SHARED = {"--seed", "--out", "--workers", "--quiet", "--name", "--samples-per-shard", "--val-fraction", "--shards",
          "--task-index", "--num-tasks", "--engine", "--scheduler", "--instances", "--size"}
IFS2D = {"--params", "--search", "--search-seed", "--fill-rate", "--categories", "--points"}
IFS3D = {"--params", "--search", "--search-seed", "--variance", "--categories", "--points", "--point-size",
         "--weights", "--weight-table", "--fov", "--distance"}
CONTOURS = {"--categories", "--gray-min", "--gray-max", "--noise", "--smooth-cells", "--antialias", "--min-ink",
            "--retries", "--vertices-min", "--vertices-max", "--noise-min", "--noise-max", "--step-min",
            "--step-max", "--radius-min", "--radius-max", "--oval-min", "--oval-max", "--offset"}
OWN = {
    "fractaldb": IFS2D | {"--weight-k", "--weights", "--counts", "--flips", "--draw", "--color"},
    "ofdb": IFS2D | {"--compat", "--weight-k"},
    "1p-frac": {"--params", "--sigma", "--maps", "--classes", "--delta", "--perturb", "--points", "--fill-rate",
                "--retries"},
    "real1p": {"--image", "--classes", "--delta", "--transform", "--elastic-grid", "--canny-low", "--canny-high"},
    "exfractaldb": IFS3D | {"--views"},
    "mvfractaldb": IFS3D | {"--compat"},
    "rcdb": CONTOURS | {"--vertices-mean", "--polygons-min", "--polygons-max", "--params"},
    "visualatom": CONTOURS | {"--orbits-min", "--orbits-max", "--frequency-min", "--frequency-max"},
    "perlin": {"--categories", "--frequency-min", "--frequency-max", "--octaves-min", "--octaves-max",
               "--persistence-min", "--persistence-max", "--shift"},
    "bezier": {"--categories", "--curves-min", "--curves-max", "--margin", "--jitter", "--width"},
}


def option_names(command):
    return {name for param in command.params for name in param.opts if name.startswith("--")}


def test_the_registry_lists_every_recipe_of_the_table():
    assert registry.list_recipes() == sorted(OWN) == sorted(TINY)
    assert registry.list_searches() == ["exfractaldb", "fractaldb"]


@pytest.mark.parametrize("name", sorted(OWN))
def test_recipe_options_match_the_table(name):
    assert option_names(render.get_command(None, name)) == SHARED | OWN[name]


def test_readme_names_the_shared_options():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    sentence = re.search(r"Options shared\s+by all:(.*?)\.\n", readme, re.S).group(1)
    named = set(re.findall(r"`(--[a-z-]+)", sentence))
    assert named == SHARED


def test_listing_recipes_and_their_options_imports_no_kernel():
    listing = ("from fdsl_gen import registry; from fdsl_gen.cli import main; "
               "[e.config for e in registry.entries('recipe').values()]")
    assert loaded_after(listing, ("numba", "fdsl_gen.formulas", "fdsl_gen.recipes.")) == "[]"


@pytest.mark.parametrize("name", sorted(OWN))
def test_recipe_satisfies_the_contract(name, param_folders):
    entry = registry.lookup("recipe", name)
    cls = entry.load()
    assert issubclass(cls, Recipe) and cls.name == name and cls.Config is entry.config
    fields = {f.name: f for f in dataclasses.fields(cls.Config)}
    assert {"size", "instances"} <= set(fields) and cls.Config.__dataclass_params__.frozen
    assert all(f.metadata.get("help") for f in fields.values())
    options = {k: v.format(**param_folders) if isinstance(v, str) else v for k, v in TINY[name].items()}
    recipe = registry.create_recipe(name, seed=5, **options)
    assert recipe.loss in ("ce", "lpce") and recipe.num_classes >= 1 and recipe.samples_per_class >= 1
    height, width, channels = recipe.image_shape
    group = recipe.render_group(recipe.num_classes - 1, 0)
    assert len(group) == recipe.group_samples(0)
    for image, meta in group:
        assert image.dtype == np.uint8 and image.shape[:2] == (height, width)
        assert (image.shape[2] if image.ndim == 3 else 1) == channels
        assert json.loads(json.dumps(meta)) == meta
        if recipe.levels is not None:
            assert set(np.unique(image).tolist()) <= set(recipe.levels)
    assert recipe.levels is None or list(recipe.levels) == sorted(set(recipe.levels))
    assert len(recipe.fingerprint()) == 64 and json.dumps(recipe.describe())


@pytest.mark.parametrize("name", ["exfractaldb", "fractaldb"])
def test_search_satisfies_the_contract(name, tmp_path):
    entry = registry.lookup("search", name)
    cls = entry.load()
    assert issubclass(cls, Search) and cls.name == name and cls.Config is entry.config
    assert "categories" in {f.name for f in dataclasses.fields(cls.Config)}
    found = []
    summary = registry.create_search(name, seed=1, categories=2).run(tmp_path, 1, lambda *a: found.append(a))
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == ["00000.csv", "00001.csv"]
    assert summary["trials"] >= 2 and len(summary[cls.score_name]) == 2 and len(found) == 2
    assert json.loads(json.dumps(summary)) == summary


@pytest.mark.parametrize("name", ["1p-frac", "rcdb", "visualatom"])
def test_set_up_threads_change_nothing_in_the_dataset(name):
    one, three = (registry.create_recipe(name, seed=2, threads=threads, **TINY[name]) for threads in (1, 3))
    assert one.fingerprint() == three.fingerprint()
