"""Every recipe's sample json fits Arrow, the storage of Hugging Face datasets."""
from pathlib import Path

import pyarrow as pa
import pytest
import skimage
from datasets import Dataset, Features

from fdsl_gen.card import json_feature
from fdsl_gen.registry import create_recipe, list_recipes

PHOTO = Path(skimage.data.data_dir) / "camera.png"

# The smallest render of each registered recipe: two classes.
TINY = {
    "fractaldb": dict(search=True, categories=2, size=32, points=2000, counts=1, flips=2),
    "ofdb": dict(search=True, categories=2, size=32, points=2000),
    "exfractaldb": dict(search=True, categories=2, instances=2, size=32, points=400),
    "mvfractaldb": dict(search=True, categories=2, instances=12, size=32, points=400),
    "rcdb": dict(categories=2, instances=2, size=64),
    "visualatom": dict(categories=2, instances=2, size=64, orbits_max=40, vertices_max=400),
    "1p-frac": dict(classes=2, size=64, points=5000),
    "real1p": dict(image=str(PHOTO), classes=2, size=64),
    "perlin": dict(categories=2, instances=2, size=32),
    "bezier": dict(categories=2, instances=2, size=32),
}


def test_every_registered_recipe_has_a_tiny_config():
    assert sorted(TINY) == list_recipes()


def sample_jsons(name):
    recipe = create_recipe(name, seed=2**63 - 1, **TINY[name])
    groups = min(2, -(-recipe.samples_per_class // recipe.group_size))
    return [dict(meta, cls=cls) for cls in range(2) for group in range(groups)
            for _, meta in recipe.render_group(cls, group)]


def ints(value):
    if isinstance(value, dict):
        return [i for v in value.values() for i in ints(v)]
    if isinstance(value, list):
        return [i for v in value for i in ints(v)]
    return [value] if isinstance(value, int) else []


@pytest.mark.parametrize("name", sorted(TINY))
def test_sample_json_is_arrow_safe(name):
    metas = sample_jsons(name)
    assert all(-2**63 <= i < 2**63 for i in ints(metas))
    assert all(isinstance(m.get("seed", ""), str) for m in metas)
    assert pa.Table.from_pylist(metas).num_rows == len(metas)  # what datasets infers from the tars
    features = Features._from_yaml_list([{"name": "json", **json_feature(metas)}])  # what the card declares
    assert Dataset.from_list([{"json": m} for m in metas], features=features)["json"] == metas
