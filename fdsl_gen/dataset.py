"""A dataset folder: claim it, then describe the finished shards.

`claim` makes sure a folder holds this dataset (or nothing) and stores what
the manifest needs in `_shards/config.json`, with the recipe's parameter
files; from then on the folder describes itself. `finalize` gathers the
shard records and writes _info.json, SHA256SUMS, the card and, last,
manifest.json: a folder with a manifest is complete. Any process that sees
every shard finished may finalize (a job array's last task, or
`fdsl-gen finalize`).
"""
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from fdsl_gen import __version__
from fdsl_gen.card import dataset_card
from fdsl_gen.errors import UserError
from fdsl_gen.shardwriter import RECORDS, atomic_write, finished_record, shard_name

FORMAT = "fdsl-shards"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CLAIM = "config.json"
# Options that say how or where a run works, not what it makes.
RUN_OPTIONS = {"--workers": 1, "--quiet": 0, "--shards": 1, "--task-index": 1, "--num-tasks": 1,
               "--engine": 1, "--scheduler": 1}


def dataset_command(argv):
    """The command that makes the dataset: argv without the options of one run."""
    words, skip = ["fdsl-gen"], 0
    for word in argv:
        if skip:
            skip -= 1
            continue
        option = word.split("=", 1)[0]
        if option in RUN_OPTIONS:
            skip = RUN_OPTIONS[option] if "=" not in word else 0
            continue
        words.append(word)
    return " ".join(words)


def identity(recipe, plan, name):
    """What the folder must match for a re-run to resume instead of refuse."""
    fields = {"recipe": recipe.name, "name": name, "seed": plan.seed,
              "samples_per_shard": plan.samples_per_shard, "val_fraction": plan.val_fraction,
              "recipe_fingerprint": recipe.fingerprint()}
    fields["fingerprint"] = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    return fields


def claim(folder, recipe, plan, name, command=None):
    """Prepare `folder` for writing shards of this dataset."""
    folder = Path(folder)
    wanted = identity(recipe, plan, name)
    claim_file = folder / RECORDS / CLAIM
    try:
        (folder / RECORDS).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create output folder {folder}: {err.strerror}") from None
    if claim_file.exists():
        held = json.loads(claim_file.read_text())
        if held.get("fingerprint") != wanted["fingerprint"]:
            raise UserError(f"output folder {folder} holds another dataset "
                            f"({held.get('recipe')} {held.get('name')}, other settings); "
                            "choose another --out or delete it")
    elif any(p.name != RECORDS for p in folder.iterdir()):
        raise UserError(f"output folder {folder} is not empty and holds no fdsl dataset; choose another --out")
    command = command or dataset_command(sys.argv[1:])
    described = dict(wanted, manifest=manifest_base(recipe, plan, name, command),
                     shards={split: plan.num_shards(split) for split in plan.splits()})
    atomic_write(claim_file, json.dumps(described, indent=1, sort_keys=True).encode())
    for relative, data in recipe.extra_files().items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / relative, data)


def manifest_base(recipe, plan, name, command):
    """Everything in the manifest but the shards."""
    height, width, channels = recipe.image_shape
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "name": name, "recipe": recipe.name,
        "fdsl_version": __version__, "numpy_version": np.__version__, "command": command,
        "seed": plan.seed, "num_classes": recipe.num_classes, "loss": recipe.loss,
        "samples_per_class": recipe.samples_per_class, "samples_per_shard": plan.samples_per_shard,
        "val_fraction": plan.val_fraction,
        "image": {"height": height, "width": width, "channels": channels},
        "config": recipe.describe(),
    }


def timm_info(manifest):
    splits = {}
    for split, info in manifest["splits"].items():
        splits[split] = {"name": split, "num_samples": info["num_samples"],
                         "filenames": [s["file"] for s in info["shards"]],
                         "shard_lengths": [s["samples"] for s in info["shards"]]}
    return {"name": manifest["name"], "num_classes": manifest["num_classes"], "splits": splits}


def read_claim(folder):
    try:
        return json.loads((Path(folder) / RECORDS / CLAIM).read_text())
    except FileNotFoundError:
        raise UserError(f"{folder} holds no fdsl render (no {RECORDS}/{CLAIM})") from None


def missing_shards(folder, known=()):
    """Shard files of the claimed dataset that are not finished yet, and the records of the others."""
    described = read_claim(folder)
    name = described["name"]
    known = {r["file"]: r for r in known}
    records, missing = [], []
    for split, count in described["shards"].items():
        for index in range(count):
            file = shard_name(name, split, index)
            record = known.get(file) or finished_record(folder, file)
            (records.append(record) if record else missing.append(file))
    return missing, records


def finalize(folder, known=()):
    """Write the description files (manifest.json last) once every shard is finished.

    `known`: records already checked by this process. Returns the manifest,
    or raises UserError naming how many shards are missing.
    """
    folder = Path(folder)
    missing, records = missing_shards(folder, known)
    if missing:
        raise UserError(f"{folder}: {len(missing)} shards not finished yet (first: {missing[0]})")
    manifest = dict(read_claim(folder)["manifest"], splits={})
    for record in records:
        split = manifest["splits"].setdefault(record["split"], {"num_samples": 0, "shards": []})
        split["shards"].append({k: record[k] for k in ("file", "samples", "bytes", "sha256")})
        split["num_samples"] += record["samples"]
    sums = "".join(f"{s['sha256']}  {s['file']}\n" for info in manifest["splits"].values() for s in info["shards"])
    atomic_write(folder / "_info.json", _json(timm_info(manifest)))
    for split, index in wids_indexes(manifest).items():
        atomic_write(folder / f"{manifest['name']}-{split}.wids.json", _json(index))
    atomic_write(folder / "SHA256SUMS", sums.encode())
    atomic_write(folder / "README.md", dataset_card(manifest).encode())
    atomic_write(folder / MANIFEST, _json(manifest))
    return manifest


def wids_indexes(manifest):
    """Random-access shard indexes in the format of webdataset's `wids`."""
    return {split: {"__kind__": "wids-shard-index-v1", "wids_version": 1, "name": f"{manifest['name']}-{split}",
                    "shardlist": [{"url": s["file"], "nsamples": s["samples"]} for s in info["shards"]]}
            for split, info in manifest["splits"].items()}


def _json(data):
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def load_manifest(folder):
    """The manifest of a complete dataset folder."""
    path = Path(folder) / MANIFEST
    if not Path(folder).is_dir():
        raise UserError(f"{folder} is not a folder")
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{folder} holds no {MANIFEST}: not a finished fdsl dataset") from None
    except ValueError:
        raise UserError(f"{path} is not valid JSON") from None
    if manifest.get("format") != FORMAT:
        raise UserError(f"{path} is not an fdsl manifest")
    return manifest


def folder_bytes(folder):
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())
