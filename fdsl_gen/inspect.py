"""Reading a finished dataset back: verify, info and preview."""
import io
import json
import tarfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from fdsl_gen.errors import UserError
from fdsl_gen.dataset import folder_bytes, load_manifest, timm_info
from fdsl_gen.shardwriter import sha256_file

FIELDS = ("cls", "json", "png")


def iter_samples(path):
    """(key, {field: bytes}) of a shard tar, in order; raises tarfile.TarError if broken."""
    current, fields = None, {}
    with tarfile.open(path) as tar:
        for member in tar:
            key, _, field = member.name.partition(".")
            if key != current and current is not None:
                yield current, fields
                fields = {}
            current = key
            fields[field] = tar.extractfile(member).read()
    if current is not None:
        yield current, fields


def check_sample(key, fields, num_classes):
    """The problems of one sample, as short strings."""
    missing = [f for f in FIELDS if f not in fields]
    if missing:
        return [f"sample {key}: missing {', '.join(missing)}"]
    try:
        cls = int(fields["cls"])
        meta = json.loads(fields["json"])
        with Image.open(io.BytesIO(fields["png"])) as image:
            image.load()
    except (ValueError, OSError) as err:
        return [f"sample {key}: does not decode ({err})"]
    problems = []
    if not 0 <= cls < num_classes:
        problems.append(f"sample {key}: class {cls} outside 0..{num_classes - 1}")
    if meta.get("cls") != cls:
        problems.append(f"sample {key}: json cls {meta.get('cls')} != cls {cls}")
    return problems


def verify_shard(folder, shard, num_classes):
    path = Path(folder) / shard["file"]
    if not path.is_file():
        return [f"{shard['file']}: missing"]
    if sha256_file(path) != shard["sha256"]:
        return [f"{shard['file']}: sha256 does not match the manifest"]
    problems, count = [], 0
    try:
        for key, fields in iter_samples(path):
            count += 1
            problems += check_sample(key, fields, num_classes)
    except (tarfile.TarError, OSError) as err:
        return [f"{shard['file']}: unreadable tar ({err})"]
    if count != shard["samples"]:
        problems.append(f"{shard['file']}: {count} samples, manifest says {shard['samples']}")
    return [f"{shard['file']}: {p}" if not p.startswith(shard["file"]) else p for p in problems]


def verify(folder):
    """Every problem found in a dataset folder (an empty list when it is sound)."""
    manifest = load_manifest(folder)
    problems = []
    for info in manifest["splits"].values():
        for shard in info["shards"]:
            problems += verify_shard(folder, shard, manifest["num_classes"])
        if sum(s["samples"] for s in info["shards"]) != info["num_samples"]:
            problems.append("manifest: shard counts do not add up to num_samples")
    problems += _check_side_files(Path(folder), manifest)
    return problems


def _check_side_files(folder, manifest):
    problems = []
    expected = {s["file"]: s["sha256"] for i in manifest["splits"].values() for s in i["shards"]}
    try:
        listed = dict(reversed(line.split("  ", 1)) for line in (folder / "SHA256SUMS").read_text().splitlines())
        if listed != expected:
            problems.append("SHA256SUMS: does not match the manifest")
    except (OSError, ValueError):
        problems.append("SHA256SUMS: missing or malformed")
    try:
        if json.loads((folder / "_info.json").read_text()) != timm_info(manifest):
            problems.append("_info.json: does not match the manifest")
    except (OSError, ValueError):
        problems.append("_info.json: missing or malformed")
    return problems


def summary(folder):
    """Counts, classes, size on disk and config of a dataset, as text lines."""
    manifest = load_manifest(folder)
    image = manifest["image"]
    lines = [f"name        {manifest['name']} ({manifest['recipe']}, fdsl {manifest['fdsl_version']})",
             f"classes     {manifest['num_classes']} (loss {manifest['loss']})",
             f"image       {image['width']} x {image['height']} x {image['channels']}"]
    for split, info in manifest["splits"].items():
        lines.append(f"{split:<11} {info['num_samples']} samples in {len(info['shards'])} shards")
    lines.append(f"on disk     {folder_bytes(folder) / 2**20:.1f} MiB")
    lines.append(f"seed        {manifest['seed']}")
    lines.append(f"command     {manifest['command']}")
    for key, value in sorted(manifest["config"].items()):
        if not isinstance(value, list):
            lines.append(f"  {key:<18} {value}")
    return lines


def contact_sheet(folder, classes=8, per_class=8, thumb=96, split="train"):
    """A grid image: one row per class (the first `classes` met), `per_class` samples each."""
    manifest = load_manifest(folder)
    if split not in manifest["splits"]:
        raise UserError(f"{folder} has no {split!r} split (it has {', '.join(manifest['splits'])})")
    rows = defaultdict(list)
    for shard in manifest["splits"][split]["shards"]:
        for _, fields in iter_samples(Path(folder) / shard["file"]):
            cls = int(fields["cls"])
            if (cls in rows or len(rows) < classes) and len(rows[cls]) < per_class:
                rows[cls].append(fields["png"])
        if len(rows) == classes and all(len(r) == per_class for r in rows.values()):
            break
    sheet = np.full((len(rows) * (thumb + 2), per_class * (thumb + 2), 3), 255, np.uint8)
    for r, cls in enumerate(sorted(rows)):
        for c, png in enumerate(rows[cls]):
            with Image.open(io.BytesIO(png)) as image:
                small = image.convert("RGB").resize((thumb, thumb), Image.Resampling.BOX)
            sheet[r * (thumb + 2) + 1:r * (thumb + 2) + 1 + thumb,
                  c * (thumb + 2) + 1:c * (thumb + 2) + 1 + thumb] = np.asarray(small)
    return Image.fromarray(sheet), sorted(rows)
