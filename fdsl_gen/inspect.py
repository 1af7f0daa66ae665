"""Reading a finished dataset back: verify, info and preview.

verify reads a local folder or an http(s) URL of one (a published dataset)
the same way: manifest.json first, then every file it lists.
"""
import hashlib
import io
import json
import tarfile
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from fdsl_gen.dataset import MANIFEST, check_manifest, folder_bytes, load_manifest, timm_info
from fdsl_gen.configs import check_bounds
from fdsl_gen.errors import UserError

FIELDS = ("cls", "json", "png")


def is_url(location):
    return str(location).startswith(("http://", "https://"))


def fetch(location, relative):
    """The bytes of `relative` inside a dataset folder or URL; None when it does not exist."""
    if not is_url(location):
        path = Path(location) / relative
        return path.read_bytes() if path.is_file() else None
    url = str(location).rstrip("/") + "/" + relative
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise UserError(f"{url}: HTTP {err.code}") from None
    except (urllib.error.URLError, OSError) as err:
        raise UserError(f"cannot reach {url}: {getattr(err, 'reason', err)}") from None


def read_manifest(location):
    if not is_url(location):
        return load_manifest(location)
    data = fetch(location, MANIFEST)
    if data is None:
        raise UserError(f"{location} serves no {MANIFEST}: not a finished fdsl dataset")
    try:
        manifest = json.loads(data)
    except ValueError:
        raise UserError(f"{location}/{MANIFEST} is not valid JSON") from None
    return check_manifest(manifest, f"{location}/{MANIFEST}")


def iter_samples(source):
    """(key, {field: bytes}) of a shard tar (a path or bytes), in order; raises tarfile.TarError if broken."""
    current, fields = None, {}
    opened = tarfile.open(fileobj=io.BytesIO(source)) if isinstance(source, bytes) else tarfile.open(source)
    with opened as tar:
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


def verify_shard(location, shard, num_classes):
    data = fetch(location, shard["file"])
    if data is None:
        return [f"{shard['file']}: missing"]
    if hashlib.sha256(data).hexdigest() != shard["sha256"]:
        return [f"{shard['file']}: sha256 does not match the manifest"]
    problems, count = [], 0
    try:
        for key, fields in iter_samples(data):
            count += 1
            problems += check_sample(key, fields, num_classes)
    except (tarfile.TarError, OSError) as err:
        return [f"{shard['file']}: unreadable tar ({err})"]
    if count != shard["samples"]:
        problems.append(f"{count} samples, manifest says {shard['samples']}")
    return [f"{shard['file']}: {p}" for p in problems]


def verify(location):
    """Every problem found in a dataset folder or URL (an empty list when it is sound)."""
    manifest = read_manifest(location)
    problems = []
    for info in manifest["splits"].values():
        for shard in info["shards"]:
            problems += verify_shard(location, shard, manifest["num_classes"])
        if sum(s["samples"] for s in info["shards"]) != info["num_samples"]:
            problems.append("manifest: shard counts do not add up to num_samples")
    return problems + _check_side_files(location, manifest)


def _check_side_files(location, manifest):
    problems = []
    expected = {s["file"]: s["sha256"] for i in manifest["splits"].values() for s in i["shards"]}
    try:
        lines = (fetch(location, "SHA256SUMS") or b"").decode().splitlines()
        listed = dict(reversed(line.split("  ", 1)) for line in lines)
        if listed != expected:
            problems.append("SHA256SUMS: missing or does not match the manifest")
    except ValueError:
        problems.append("SHA256SUMS: malformed")
    try:
        if json.loads(fetch(location, "_info.json") or b"null") != timm_info(manifest):
            problems.append("_info.json: missing or does not match the manifest")
    except ValueError:
        problems.append("_info.json: malformed")
    return problems


def summary(folder):
    """Counts, classes, size on disk and config of a dataset folder or URL, as text lines."""
    manifest = read_manifest(folder)
    image = manifest["image"]
    lines = [f"name        {manifest['name']} ({manifest['recipe']}, fdsl {manifest['fdsl_version']})",
             f"classes     {manifest['num_classes']} (loss {manifest['loss']})",
             f"image       {image['width']} x {image['height']} x {image['channels']}"]
    for split, info in manifest["splits"].items():
        lines.append(f"{split:<11} {info['num_samples']} samples in {len(info['shards'])} shards")
    if not is_url(folder):
        lines.append(f"on disk     {folder_bytes(folder) / 2**20:.1f} MiB")
    lines.append(f"seed        {manifest['seed']}")
    lines.append(f"command     {manifest['command']}")
    for key, value in sorted(manifest["config"].items()):
        if not isinstance(value, list):
            lines.append(f"  {key:<18} {value}")
    return lines


MAX_SHEET_ROWS = 256  # classes on a contact sheet: 256 x 64 thumbnails is about 300 MB of pixels
MAX_SHEET_COLUMNS = 64


def contact_sheet(folder, classes=8, per_class=8, thumb=96, split="train"):
    """A grid image: one row per class (the first `classes` met), `per_class` samples each."""
    check_bounds("--classes", classes, 1, MAX_SHEET_ROWS)
    check_bounds("--per-class", per_class, 1, MAX_SHEET_COLUMNS)
    manifest = load_manifest(folder)
    if split not in manifest["splits"]:
        raise UserError(f"{folder} has no {split!r} split (it has {', '.join(manifest['splits'])})")
    rows = defaultdict(list)
    for shard in manifest["splits"][split]["shards"]:
        try:
            for key, fields in iter_samples(Path(folder) / shard["file"]):
                cls = int(fields["cls"])
                if (cls in rows or len(rows) < classes) and len(rows[cls]) < per_class:
                    rows[cls].append(_thumbnail(fields["png"], thumb))
        except (tarfile.TarError, KeyError, ValueError, OSError) as err:
            raise UserError(f"{Path(folder) / shard['file']} is damaged ({err}); "
                            "fdsl-gen verify lists every damaged shard") from None
        if len(rows) == classes and all(len(r) == per_class for r in rows.values()):
            break
    sheet = np.full((len(rows) * (thumb + 2), per_class * (thumb + 2), 3), 255, np.uint8)
    for r, cls in enumerate(sorted(rows)):
        for c, small in enumerate(rows[cls]):
            sheet[r * (thumb + 2) + 1:r * (thumb + 2) + 1 + thumb,
                  c * (thumb + 2) + 1:c * (thumb + 2) + 1 + thumb] = small
    return Image.fromarray(sheet), sorted(rows)


def _thumbnail(png, thumb):
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB").resize((thumb, thumb), Image.Resampling.BOX))
