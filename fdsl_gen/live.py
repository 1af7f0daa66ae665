"""Live rendering: a dataset's samples drawn on demand instead of read from shards (no torch, no files).

    from fdsl_gen.live import open_live
    data = open_live("rcdb?categories=4&instances=5&size=64")   # or a dataset folder, URL or manifest.json
    for image, cls, meta in data.samples("train", rank=0, world=1, worker=0, workers=1, epoch=0):
        ...                                                       # uint8 HxW (or HxWx3), int, the sample's json

A LiveDataset is the dataset of a manifest (rendered again, sample for
sample) or of a recipe's `fdsl-gen render` options (a dataset never
written). Its shards are virtual: shard i of a split holds the samples of
the file the manifest lists as shard i, in the same order, with the same
pixels as that file's decoded PNGs and the same json. So a trainer deals
virtual shards to its ranks and workers exactly as it deals files.

Fresh instances (`fresh=True`): from epoch 1 on, every per-instance random
draw (patch masks, views, contour shapes) takes the epoch as one more word
of its seed (`Recipe.instance_seed`), so each epoch draws new instances of
the same classes, in the same order and numbers. Epoch 0 is the written
dataset, with or without `fresh`.
"""
import contextlib
import hashlib
import json
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from fdsl_gen import contract
from fdsl_gen.configs import DatasetOptions
from fdsl_gen.contract import CHECKSUMS, LIVE_READABLE, MANIFEST, PARAMS
from fdsl_gen.errors import UserError
from fdsl_gen.lifecycle import manifest_base
from fdsl_gen.options import fields as option_fields, parse as parse_option
from fdsl_gen.plan import Plan, check_plan_options
from fdsl_gen.registry import create_recipe, entries, lookup
from fdsl_gen.renderer import shard_images
from fdsl_gen.shardwriter import shard_name
from fdsl_gen.storage import is_url, open_store

__all__ = ["LiveDataset", "UserError", "from_manifest", "from_options", "open_live"]
PREFIX = contract.LIVE


@dataclass(frozen=True)
class LiveDataset:
    """A dataset that renders its samples when asked: the recipe, the plan and the manifest it matches."""

    recipe: object
    plan: Plan
    manifest: dict

    @property
    def num_classes(self):
        return self.manifest["num_classes"]

    @property
    def loss(self):
        return self.manifest["loss"]

    def splits(self):
        return list(self.manifest["splits"])

    def shard_sizes(self, split):
        """Samples per virtual shard of `split`: the manifest's sample counts, shard by shard."""
        return tuple(shard["samples"] for shard in self._split(split)["shards"])

    def shard(self, split, index, epoch=0, fresh=False):
        """[(image, cls, meta)] of virtual shard `index`, in the order its file holds them."""
        recipe = self.recipe.for_epoch(epoch) if fresh and epoch else self.recipe
        return [(_plain(image), meta["cls"], meta) for _, image, meta in shard_images(recipe, self.plan, split, index)]

    def samples(self, split="train", *, rank=0, world=1, worker=0, workers=1, epoch=0, fresh=False):
        """The samples of one reader: every (world x workers)-th virtual shard from rank x workers + worker.

        This deals shards as a trainer's evaluation pass does; a training loader
        shuffles the shards and samples itself, per epoch, with `shard`.
        """
        count = len(self.shard_sizes(split))
        for index in range(rank * workers + worker, count, world * workers):
            yield from self.shard(split, index, epoch, fresh)

    def _split(self, split):
        splits = self.manifest["splits"]
        if split not in splits:
            raise UserError(f"{self.manifest['name']} has no '{split}' split (it has: {', '.join(splits)})")
        return splits[split]


def _plain(image):
    """A grey image as HxW, as its PNG decodes."""
    return image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image


def open_live(spec):
    """The LiveDataset of `spec`: `RECIPE?option=value&...` (a registered recipe name, with the options
    of `fdsl-gen render RECIPE`), or a dataset folder, URL or manifest.json; a leading `live:` is dropped."""
    spec = spec[len(PREFIX):] if spec.startswith(PREFIX) else spec
    recipe, _, query = spec.partition("?")
    if recipe in entries("recipe"):
        return from_options(recipe, **render_options(recipe, query))
    if not is_url(spec) and not Path(spec).exists() and (query or "/" not in spec):  # reads as a recipe name
        try:
            lookup("recipe", recipe)
        except UserError as err:
            raise UserError(f"{PREFIX}{spec}: {'' if query else 'not a dataset folder, and '}{err}") from None
    return from_manifest(spec)


def from_options(recipe, *, seed=1, name=None, samples_per_shard=1000, val_fraction=0.0, **options):
    """The dataset that `render_dataset(recipe, seed=..., ..., **options)` would write, never written."""
    from fdsl_gen.pipeline import render_command  # the command the dataset would record

    name = recipe if name is None else name
    check_plan_options(seed, samples_per_shard, val_fraction)
    built = create_recipe(recipe, seed=seed, **options)
    plan = Plan.of(built, seed, samples_per_shard, val_fraction)
    command = render_command(recipe, seed, name, samples_per_shard, val_fraction, options)
    manifest = dict(manifest_base(built, plan, name, command), splits={})
    for split in plan.splits():
        sizes = [_planned_size(plan, split, index) for index in range(plan.num_shards(split))]
        manifest["splits"][split] = {"num_samples": plan.num_samples(split), "shards": [
            {"file": shard_name(name, split, index), "samples": size} for index, size in enumerate(sizes)]}
    return LiveDataset(built, plan, manifest)


def render_options(recipe, query):
    """The keyword arguments of `from_options` from a query `size=64&search&...`: the options of
    `fdsl-gen render RECIPE` that shape the data (`size_min` or `size-min`), each parsed and checked
    by fdsl_gen.options as the command parses it. A yes/no option alone (`search`) is true."""
    from fdsl_gen.pipeline import RunOptions

    shaping = {**option_fields(DatasetOptions), **option_fields(lookup("recipe", recipe).config)}
    running = {"out", *option_fields(RunOptions)}
    values = {}
    for key, text in urllib.parse.parse_qsl(query, keep_blank_values=True):
        name = key.replace("-", "_")
        if name not in shaping:
            reason = "says how a render runs" if name in running else "is no option"
            raise UserError(f"live:{recipe}: {key} {reason}; a live source takes the options of "
                            f"`fdsl-gen render {recipe}` that shape the data")
        values[name] = parse_option(shaping[name], text)
    return values


def from_manifest(location):
    """The dataset a finished fdsl dataset describes (folder, URL or its manifest.json), rendered again."""
    location = str(location)
    if location.endswith(MANIFEST):
        location = location[: -len(MANIFEST)].rstrip("/") or "."
    store = open_store(location)
    manifest = contract.load_manifest(store, LIVE_READABLE)
    missing = [key for key in ("recipe", "seed", "samples_per_shard", "val_fraction") if key not in manifest]
    if missing:
        raise UserError(f"{location}/{MANIFEST} is malformed: '{missing[0]}' missing")
    entry = lookup("recipe", manifest.get("recipe"))
    fields = set(entry.config.__dataclass_fields__)
    written = {key: value for key, value in manifest["config"].items() if key in fields}
    with _stored_files(store) as folder:
        options = entry.load().dataset_options(written, folder)
        recipe = create_recipe(entry.name, seed=manifest["seed"], **options)
    _check_same(recipe, manifest, {key for key in options if options[key] != written.get(key)}, location)
    plan = Plan.of(recipe, manifest["seed"], manifest["samples_per_shard"], manifest["val_fraction"])
    _check_shards(plan, manifest, location)
    return LiveDataset(recipe, plan, manifest)


@contextlib.contextmanager
def _stored_files(store):
    """A local folder holding the dataset's `params/` files: the folder itself, or a temporary copy of a
    remote dataset's, each checked against SHA256SUMS (removed once the recipe has read them)."""
    if not is_url(str(store)):
        yield Path(str(store))
        return
    with tempfile.TemporaryDirectory(prefix="fdsl-live-") as folder:
        for name, digest in _param_files(store):
            data = store.get(name)
            if data is None or hashlib.sha256(data).hexdigest() != digest:
                raise UserError(f"{store}/{name} is missing or does not match {CHECKSUMS}")
            target = Path(folder) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        yield Path(folder)


def _param_files(store):
    data = store.get(CHECKSUMS) or b""
    rows = (line.split("  ", 1) for line in data.decode().splitlines() if "  " in line)
    return [(name, digest) for digest, name in rows if name.startswith(f"{PARAMS}/")]


def _check_same(recipe, manifest, changed, location):
    """Refuse to stand in for the shards when this fdsl's recipe describes itself otherwise."""
    described = json.loads(json.dumps(recipe.describe()))
    differ = sorted(key for key in set(described) | set(manifest["config"])
                    if key not in changed and described.get(key) != manifest["config"].get(key))
    if differ or recipe.num_classes != manifest["num_classes"]:
        raise UserError(f"{location}: this fdsl builds {manifest['recipe']} with other settings than the "
                        f"manifest ({', '.join(differ) or 'num_classes'}); read its shards instead")


def _check_shards(plan, manifest, location):
    """Virtual shard i must be the manifest's shard i: its file name and sample count."""
    for split, info in manifest["splits"].items():
        if split not in plan.splits():
            raise UserError(f"{location}: split {split!r} is not one this recipe's plan makes")
        for index, shard in enumerate(info["shards"]):
            if shard["file"] != shard_name(manifest["name"], split, index) \
                    or shard["samples"] != _planned_size(plan, split, index):
                raise UserError(f"{location}: shard {shard['file']} is not the plan's shard {index} of {split}")
        if len(info["shards"]) != plan.num_shards(split):
            raise UserError(f"{location}: {split} lists {len(info['shards'])} shards, the plan has "
                            f"{plan.num_shards(split)}")


def _planned_size(plan, split, index):
    start, stop = plan.shard_range(split, index)
    return stop - start
