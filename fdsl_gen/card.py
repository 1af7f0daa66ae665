"""The dataset card (README.md) written beside the shards."""
import json

_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                    (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))


def size_category(n):
    for limit, label in _SIZE_CATEGORIES:
        if n < limit:
            return label
    return "n>10M"


def dataset_card(manifest):
    total = sum(s["num_samples"] for s in manifest["splits"].values())
    image = manifest["image"]
    split_rows = "\n".join(f"| {name} | {info['num_samples']} | {len(info['shards'])} |"
                           for name, info in manifest["splits"].items())
    first = next(iter(manifest["splits"].values()))["shards"][0]["file"]
    return f"""---
license: cc-by-4.0
task_categories:
- image-classification
size_categories:
- {size_category(total)}
tags:
- synthetic
- formula-driven
- {manifest['recipe']}
pretty_name: {manifest['name']}
---

# {manifest['name']}

A formula-driven image classification dataset ({manifest['recipe']}): {manifest['num_classes']} classes,
{total} images of {image['width']} x {image['height']} pixels, {image['channels']} channel(s), stored as
WebDataset shards (`png`, `cls`, `json` per sample). No photograph is involved: every image is drawn from
a mathematical formula whose parameters are in `params/` and in each sample's `json`.

| split | images | shards |
| --- | --- | --- |
{split_rows}

Preview: `preview.png` when present (`fdsl-gen preview .`).

## Reproduce

```
{manifest['command']}
```

Same command and seed give byte-identical shards (fdsl {manifest['fdsl_version']}, seed {manifest['seed']}).
Check the files with `sha256sum -c SHA256SUMS` or `fdsl-gen verify .`.

## Load

```python
import webdataset as wds
ds = wds.WebDataset("{first}").decode("pil").to_tuple("png", "cls")
```

timm: `train.py --dataset wds/{manifest['name']} --data-dir . --train-split train --num-classes {manifest['num_classes']}`.

## Configuration

Every option of the run (per-category parameters are in `manifest.json` and `params/`):

```json
{json.dumps(_scalars(manifest['config']), indent=1, sort_keys=True)}
```
"""


def _scalars(config):
    """The config without its long lists (category parameters, weight tables)."""
    return {k: v for k, v in config.items() if not isinstance(v, (list, dict))}
