"""A dataset folder: claim it, then describe the finished shards.

`claim` makes sure a folder holds this dataset (or nothing), locks it against
a second writer and stores the recipe's parameter files. `finalize` writes
_info.json, SHA256SUMS, the card and, last, manifest.json: a folder with a
manifest is complete.
"""
import fcntl
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

from fdsl_gen import __version__
from fdsl_gen.card import dataset_card
from fdsl_gen.errors import UserError
from fdsl_gen.shardwriter import RECORDS, atomic_write

FORMAT = "fdsl-shards"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CLAIM = "config.json"


def identity(recipe, plan, name):
    """What the folder must match for a re-run to resume instead of refuse."""
    fields = {"recipe": recipe.name, "name": name, "seed": plan.seed,
              "samples_per_shard": plan.samples_per_shard, "val_fraction": plan.val_fraction,
              "recipe_fingerprint": recipe.fingerprint()}
    fields["fingerprint"] = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    return fields


def claim(folder, recipe, plan, name):
    """Prepare `folder` for writing; returns the held lock (keep it open)."""
    folder = Path(folder)
    wanted = identity(recipe, plan, name)
    claim_file = folder / RECORDS / CLAIM
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / RECORDS).mkdir(exist_ok=True)
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
    lock = _lock(folder)
    atomic_write(claim_file, json.dumps(wanted, indent=1, sort_keys=True).encode())
    for relative, data in recipe.extra_files().items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / relative, data)
    return lock


def _lock(folder):
    handle = open(folder / RECORDS / ".lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise UserError(f"another fdsl-gen process is writing to {folder}; wait for it to finish") from None
    return handle


def manifest_for(recipe, plan, name, records, command):
    height, width, channels = recipe.image_shape
    splits = {}
    for split in plan.splits():
        shards = [{k: r[k] for k in ("file", "samples", "bytes", "sha256")} for r in records if r["split"] == split]
        splits[split] = {"num_samples": sum(s["samples"] for s in shards), "shards": shards}
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "name": name, "recipe": recipe.name,
        "fdsl_version": __version__, "numpy_version": np.__version__, "command": command,
        "seed": plan.seed, "num_classes": recipe.num_classes, "loss": recipe.loss,
        "samples_per_class": recipe.samples_per_class, "samples_per_shard": plan.samples_per_shard,
        "val_fraction": plan.val_fraction,
        "image": {"height": height, "width": width, "channels": channels},
        "config": recipe.describe(), "splits": splits,
    }


def timm_info(manifest):
    splits = {}
    for split, info in manifest["splits"].items():
        splits[split] = {"name": split, "num_samples": info["num_samples"],
                         "filenames": [s["file"] for s in info["shards"]],
                         "shard_lengths": [s["samples"] for s in info["shards"]]}
    return {"name": manifest["name"], "num_classes": manifest["num_classes"], "splits": splits}


def finalize(folder, recipe, plan, name, records, command=None):
    """Write the description files; manifest.json last."""
    folder = Path(folder)
    command = command or " ".join(["fdsl-gen"] + sys.argv[1:])
    manifest = manifest_for(recipe, plan, name, records, command)
    sums = "".join(f"{s['sha256']}  {s['file']}\n" for info in manifest["splits"].values() for s in info["shards"])
    atomic_write(folder / "_info.json", _json(timm_info(manifest)))
    atomic_write(folder / "SHA256SUMS", sums.encode())
    atomic_write(folder / "README.md", dataset_card(manifest).encode())
    atomic_write(folder / MANIFEST, _json(manifest))
    return manifest


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


def remove_stale_temporaries(folder):
    """Temporary files left by a killed run (their names start with a dot)."""
    for path in list(Path(folder).glob(".*.tmp-*")) + list((Path(folder) / RECORDS).glob(".*.tmp-*")):
        try:
            os.remove(path)
        except OSError:
            pass
