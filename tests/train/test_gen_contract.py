"""The boundary between the packages: fdsl-gen's shards, read by fdsl_train, give the rendered pixels."""
import io
import json

import numpy as np
import pytest
import webdataset as wds
from PIL import Image

from fdsl_gen.pipeline import render_dataset
from fdsl_gen.registry import create_recipe
from fdsl_train.data import shards
from fdsl_train.data.decode import Tally, decode_samples

# One recipe per PNG kind: 1-bit palette (1p-frac), 8-bit grey (rcdb), colour palette (fractaldb colour).
RENDERS = {
    "1p-frac": dict(classes=3, instances=2, size=32, points=2000),
    "rcdb": dict(categories=3, instances=2, size=32, polygons_max=10),
    "fractaldb": dict(search=True, categories=2, instances=2, size=32, points=2000, draw="point",
                      color="color", flips=2),
}


def group_and_index(recipe, meta):
    """Where a sample's image comes from: (class, group, position in the group)."""
    if recipe.name == "fractaldb":
        return meta["cls"], meta["count"] * len(recipe.weights) + meta["weight"], meta["flip"]
    return meta["cls"], meta["instance"], 0


@pytest.mark.parametrize("name", sorted(RENDERS))
def test_fdsl_train_decodes_the_rendered_pixels(name, tmp_path):
    manifest = render_dataset(name, tmp_path / name, seed=4, samples_per_shard=4, **RENDERS[name])
    shardset = shards.resolve(str(tmp_path / name))
    raw = list(wds.WebDataset(list(shardset.urls), shardshuffle=False))
    tally = Tally()
    decoded = list(decode_samples(raw, tally))
    assert len(decoded) == manifest["splits"]["train"]["num_samples"] == sum(shardset.sizes) and not tally.lost
    recipe = create_recipe(name, seed=4, **RENDERS[name])
    for sample, (image, label) in zip(raw, decoded):
        with Image.open(io.BytesIO(sample["png"])) as png:
            png.verify()
        meta = json.loads(sample["json"])
        cls, group, position = group_and_index(recipe, meta)
        expected = recipe.render_group(cls, group)[position][0]
        assert label == cls
        assert image.mode == ("RGB" if expected.ndim == 3 else "L")
        assert np.array_equal(np.asarray(image), expected)
