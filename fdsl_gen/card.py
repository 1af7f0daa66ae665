"""The dataset card (README.md) written beside the shards.

Its YAML front matter tells Hugging Face `datasets` (and the Hub) which files
hold which split (`configs`) and what each column is (`dataset_info`: `png`
an image, `cls` a ClassLabel with the class names, `json` a struct whose
fields are read from the samples). The code blocks are meant to be run as
printed from inside the dataset folder.
"""
import json

from fdsl_gen.clients import object_store_section
from fdsl_gen.contract import CHECKSUMS, MANIFEST, PARAMS, PREVIEW, TIMM_INFO, WIDS_INDEX

_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                    (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))
# JSON value types and their Arrow/datasets names; bool before int, as bool is an int to Python.
_KINDS = ((bool, "bool"), (int, "int64"), (float, "float64"), (str, "string"), (list, "list"), (dict, "struct"))
_KIND_OF_TYPE = dict(_KINDS)
# the batch size per rank of every fdsl-train preset (fdsl_gen does not import fdsl_train; a test ties the two)
PRESET_BATCH = 256
_LOSSES = {
    "ce": "plain cross-entropy over the classes",
    "lpce": "LPCE, the L-way cross-entropy over the perturbation classes (manifest.json says `loss: lpce`)",
}


def size_category(n):
    for limit, label in _SIZE_CATEGORIES:
        if n < limit:
            return label
    return "n>10M"


def split_pattern(manifest, split):
    """The glob of a split's shards, relative to the dataset folder."""
    return f"{manifest['name']}-{split}-*.tar"


def front_matter(manifest, json_examples):
    """The card's YAML metadata as data: Hub fields, configs and dataset_info."""
    splits = manifest["splits"]
    names = {str(k): n for k, n in enumerate(manifest["class_names"])}
    features = [
        {"name": "cls", "dtype": {"class_label": {"names": names}}},
        {"name": "json", **json_feature(json_examples)},
        # palette PNGs decode to their grey levels or colours, not to palette indices, in every output format
        {"name": "png", "dtype": {"image": {"mode": image_mode(manifest)}}},
        {"name": "__key__", "dtype": "string"},
        {"name": "__url__", "dtype": "string"},
    ]
    return {
        "license": "cc-by-4.0",
        "task_categories": ["image-classification"],
        "size_categories": [size_category(sum(s["num_samples"] for s in splits.values()))],
        "tags": ["synthetic", "formula-driven", manifest["recipe"]],
        "pretty_name": manifest["name"],
        "configs": [{"config_name": "default",
                     "data_files": [{"split": split, "path": split_pattern(manifest, split)} for split in splits]}],
        "dataset_info": {
            "features": features,
            "splits": [{"name": split, "num_bytes": sum(s["bytes"] for s in info["shards"]),
                        "num_examples": info["num_samples"]} for split, info in splits.items()],
        },
    }


def image_mode(manifest):
    """The PIL mode every image of the dataset reads as: `L` (grey) or `RGB`."""
    return "RGB" if manifest["image"]["channels"] == 3 else "L"


def batch_option(manifest):
    """The pretrain command's batch option: none where the train split holds a preset batch, else one batch of
    the whole split (fdsl-train refuses a split smaller than one batch)."""
    samples = manifest["splits"]["train"]["num_samples"]
    return "" if samples >= PRESET_BATCH else f" --batch-size {samples}"


def json_feature(examples):
    """The Hugging Face feature (YAML form) of JSON values: the types of `examples`, merged."""
    kinds = {_kind(value) for value in examples} - {"null"}  # any column may hold nulls
    if not kinds:
        return {"dtype": "null"}
    if kinds <= {"int64", "float64"}:
        return {"dtype": "float64" if "float64" in kinds else "int64"}
    if kinds == {"list"}:
        inner = json_feature([item for value in examples if value is not None for item in value])
        return {"list": inner["dtype"] if set(inner) == {"dtype"} else inner}
    if kinds == {"struct"}:
        structs = [value for value in examples if value is not None]
        names = sorted({name for value in structs for name in value})
        return {"struct": [{"name": name, **json_feature([v[name] for v in structs if name in v])}
                           for name in names]}
    if len(kinds) == 1:
        return {"dtype": kinds.pop()}
    raise ValueError(f"sample json mixes types {sorted(kinds)} in one field")


def _kind(value):
    kind = _KIND_OF_TYPE.get(type(value))  # json.loads makes exactly these types: one look-up, not six tests
    return kind or next((kind for python_type, kind in _KINDS if isinstance(value, python_type)), "null")


def to_yaml(value, indent=0):
    """Block-style YAML of dicts, lists and scalars (scalars as JSON, which YAML reads)."""
    pad, lines = " " * indent, []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines += [f"{pad}{_key(key)}:"] + to_yaml(item, indent + 2)
            else:
                lines.append(f"{pad}{_key(key)}: {json.dumps(item)}")
        return lines
    for item in value:
        inner = to_yaml(item, indent + 2) if isinstance(item, (dict, list)) else [f"{pad}  {json.dumps(item)}"]
        lines += [f"{pad}- {inner[0].lstrip()}"] + inner[1:]
    return lines


def _key(key):
    return key if key.replace("_", "").isalnum() and not key.isdigit() else json.dumps(key)


def dataset_card(manifest, json_examples):
    """README.md of a dataset folder; `json_examples`: sample json objects the `json` column is typed from."""
    total = sum(s["num_samples"] for s in manifest["splits"].values())
    image = manifest["image"]
    name = manifest["name"]
    mode = image_mode(manifest)
    split_rows = "\n".join(f"| {split} | {info['num_samples']} | {len(info['shards'])} | "
                           f"`{split_pattern(manifest, split)}` |" for split, info in manifest["splits"].items())
    train_shards = len(manifest["splits"]["train"]["shards"])
    train_urls = f"{name}-train-{{000000..{train_shards - 1:06d}}}.tar"
    indexes = ", ".join(f"`{WIDS_INDEX.format(split=split)}`" for split in manifest["splits"])
    timm_lines = "\n".join(f'{split} = create_dataset("wds/{name}", root=".", split="{split}")'
                           for split in manifest["splits"])
    return f"""---
{chr(10).join(to_yaml(front_matter(manifest, json_examples)))}
---

# {name}

A formula-driven image classification dataset ({manifest['recipe']}): {manifest['num_classes']} classes,
{total} images of {image['width']} x {image['height']} pixels, {image['channels']} channel(s), stored as
WebDataset shards (`png`, `cls`, `json` per sample). No photograph is involved: every image is drawn from
a mathematical formula whose parameters are in `{PARAMS}/` and in each sample's `json`.

| split | images | shards | files |
| --- | --- | --- | --- |
{split_rows}

Classes are named `{manifest['class_names'][0]}` to `{manifest['class_names'][-1]}` (`class_names` in
`{MANIFEST}` and `{TIMM_INFO}`; `cls` is the index into that list). Preview: `{PREVIEW}`.
Each image reads as `PIL.Image.open(...).convert("{mode}")` gives it (a PNG may store a palette of
grey levels or colours).

## Pre-training

Loss: {_LOSSES[manifest['loss']]}. `fdsl-train` reads it from `{MANIFEST}`
(from inside this folder; the run goes to `../runs/{name}`). The batch is the preset's
({PRESET_BATCH} per rank) where the train split holds one, else the whole split:

```sh
fdsl-train pretrain --data . --output ../runs/{name}{batch_option(manifest)}
```

## Reproduce

```sh
{manifest['command']} --out {name}
```

Same command and seed give byte-identical files for any `--workers` (fdsl {manifest['fdsl_version']},
seed {manifest['seed']}).
Check the files with `sha256sum -c {CHECKSUMS}` or `fdsl-gen verify .` ({CHECKSUMS} lists every file
of the dataset, {MANIFEST} included).

## Load

Run from inside this folder. Hugging Face `datasets` (the `configs` above name each split's shards; the
features make `png` an `Image(mode="{mode}")`, so that `.with_format("numpy")` and `("torch")` give the
same pixel values as PIL, not palette indices):

```python
import os
from datasets import load_dataset
ds = load_dataset(os.getcwd())
stream = load_dataset(os.getcwd(), split="train", streaming=True)
```

webdataset:

```python
import webdataset as wds
train = wds.WebDataset("{train_urls}", shardshuffle=False).decode("pil").to_tuple("png", "cls")
```

wids (random access; {indexes} list each split's shards and sample counts):

```python
import wids
train = wids.ShardListDataset("{WIDS_INDEX.format(split='train')}")
image, label = train[0][".png"].convert("{mode}"), train[0][".cls"]
```

timm (`wds/` reads `{TIMM_INFO}`, and so do timm's `train.py` and `validate.py` given
`--dataset wds/{name} --data-dir .`; `hfds/` goes through `datasets`):

```python
import os
from timm.data import create_dataset
{timm_lines}
hfds_train = create_dataset("hfds/" + os.getcwd(), split="train", input_key="png", target_key="cls")
```

{object_store_section(manifest, mode)}
## Configuration

Every option of the run (per-category parameters are in `{MANIFEST}` and `{PARAMS}/`):

```json
{json.dumps(_scalars(manifest['config']), indent=1, sort_keys=True)}
```
"""


def _scalars(config):
    """The config without its long lists (category parameters, weight tables)."""
    return {k: v for k, v in config.items() if not isinstance(v, (list, dict))}
