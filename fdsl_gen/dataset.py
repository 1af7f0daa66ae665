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
import re
import sys
from pathlib import Path

import numpy as np

from fdsl_gen import __version__
from fdsl_gen.card import dataset_card
from fdsl_gen.errors import UserError
from fdsl_gen.shardwriter import RECORDS, atomic_write, finished_record, shard_lock, shard_name

FORMAT = "fdsl-shards"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CLAIM = "config.json"
PREVIEW = "preview.png"
FINALIZE = "finalize"  # the name of the lock finalizers share
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


def check_name(name):
    """A dataset name is one plain word: it starts every shard's file name inside the folder."""
    if not _NAME.fullmatch(name or "") or ".." in name:
        raise UserError(f"--name {name!r} is not a dataset name: use letters, digits, '_', '-' and '.' "
                        "(starting with a letter or digit, at most 100 characters)")


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def claim(folder, recipe, plan, name, command=None):
    """Prepare `folder` for writing shards of this dataset; a refusal leaves the folder as it was."""
    folder = Path(folder)
    check_name(name)
    wanted = identity(recipe, plan, name)
    held = _held_claim(folder)
    if held is not None and held.get("fingerprint") != wanted["fingerprint"]:
        if _holds_shards(folder):
            raise UserError(f"output folder {folder} holds another dataset "
                            f"({held.get('recipe')} {held.get('name')}, other settings); "
                            "choose another --out or delete it")
        _release(folder, held)  # a claim with no shard yet holds nothing to lose: a fixed re-run takes it
        held = None
    if held is None and folder.is_dir() and any(p.name != RECORDS for p in folder.iterdir()):
        raise UserError(f"output folder {folder} is not empty and holds no fdsl dataset; choose another --out")
    try:
        (folder / RECORDS).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create output folder {folder}: {err.strerror}") from None
    command = command or dataset_command(sys.argv[1:])
    extra = recipe.extra_files()
    described = dict(wanted, manifest=manifest_base(recipe, plan, name, command),
                     shards={split: plan.num_shards(split) for split in plan.splits()}, files=sorted(extra))
    atomic_write(folder / RECORDS / CLAIM, json.dumps(described, indent=1, sort_keys=True).encode())
    for relative, data in extra.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / relative, data)


def _held_claim(folder):
    """The claim a folder holds, or None; a folder that is not a folder is refused."""
    if folder.exists() and not folder.is_dir():
        raise UserError(f"cannot create output folder {folder}: it is a file")
    try:
        held = json.loads((folder / RECORDS / CLAIM).read_text())
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError):
        raise UserError(f"{folder / RECORDS / CLAIM} is unreadable; delete {folder} to start over") from None
    if not isinstance(held, dict):
        raise UserError(f"{folder / RECORDS / CLAIM} is not an fdsl claim; delete {folder} to start over")
    return held


def _holds_shards(folder):
    return any(folder.glob("*.tar")) or any((folder / RECORDS).glob("*.tar.json"))


def _release(folder, held):
    """Remove what a claim wrote (its parameter files and the claim itself)."""
    root = folder.resolve()
    for relative in held.get("files", []):
        path = (folder / relative).resolve()
        if path.is_relative_to(root):
            path.unlink(missing_ok=True)
            while path.parent != root and not any(path.parent.iterdir()):
                path = path.parent
                path.rmdir()
    (folder / RECORDS / CLAIM).unlink()


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


def finalize(folder, known=(), preview=None):
    """Write the description files (manifest.json last) once every shard is finished.

    `known`: records already checked by this process. `preview(folder)`, when
    given, returns the PNG bytes of preview.png, written after the manifest.
    Finalizers take turns (a lock), so each may clear the temporaries of
    killed ones. Returns the manifest, or raises UserError naming how many
    shards are missing.
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
    files = {"_info.json": _json(timm_info(manifest))}
    for split, index in wids_indexes(manifest).items():
        files[f"{manifest['name']}-{split}.wids.json"] = _json(index)
    files.update({"SHA256SUMS": sums.encode(), "README.md": dataset_card(manifest).encode(), MANIFEST: _json(manifest)})
    with shard_lock(folder, FINALIZE):
        for name in [*files, PREVIEW]:
            for stale in folder.glob(f".{name}.tmp-*"):
                stale.unlink(missing_ok=True)
        for name, data in files.items():
            atomic_write(folder / name, data)
        if preview is not None:
            atomic_write(folder / PREVIEW, preview(folder))
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
    return check_manifest(manifest, path)


def check_manifest(manifest, where):
    """The manifest when it has the shape every reader relies on; else one line naming what is wrong."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UserError(f"{where} is not an fdsl manifest")
    problem = _manifest_problem(manifest)
    if problem:
        raise UserError(f"{where} is malformed: {problem}")
    return manifest


def _manifest_problem(manifest):
    for key, kind in (("name", str), ("num_classes", int), ("splits", dict), ("image", dict), ("config", dict)):
        if not isinstance(manifest.get(key), kind):
            return f"'{key}' missing or not {kind.__name__}"
    for split, info in manifest["splits"].items():
        if not isinstance(info, dict) or not isinstance(info.get("shards"), list) \
                or not isinstance(info.get("num_samples"), int):
            return f"split {split!r} lacks its shards or num_samples"
        for shard in info["shards"]:
            if not isinstance(shard, dict) or not all(k in shard for k in ("file", "samples", "bytes", "sha256")):
                return f"a shard of split {split!r} lacks file, samples, bytes or sha256"
            if not isinstance(shard["file"], str) or "/" in shard["file"] or shard["file"].startswith("."):
                return f"shard file {shard['file']!r} is not a file name inside the dataset"
    return None


def folder_bytes(folder):
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())
