"""Reading a finished dataset back: verify, info and preview.

They read any store (a local folder, an object-store prefix, an http(s) URL
of a published dataset) the same way: manifest.json first, then every file
it lists.
"""
import hashlib
import io
import json
import tarfile
from collections import defaultdict

from fdsl_gen.errors import UserError, check_bounds
from fdsl_gen.contract import CHECKSUMS, MANIFEST, TIMM_INFO
from fdsl_gen.lifecycle import dataset_files, load_manifest, timm_info
from fdsl_gen.shardwriter import record_name
from fdsl_gen.storage import is_web, open_store
from fdsl_gen.tarformat import iter_samples

FIELDS = ("cls", "json", "png")


def check_sample(key, fields, num_classes):
    """The problems of one sample, as short strings."""
    missing = [f for f in FIELDS if f not in fields]
    if missing:
        return [f"sample {key}: missing {', '.join(missing)}"]
    from PIL import Image  # here, not at the top: info needs no image library
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


def verify_shard(store, shard, num_classes):
    data = store.get(shard["file"])
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
    store = open_store(location)
    manifest = load_manifest(store)
    problems = []
    for info in manifest["splits"].values():
        for shard in info["shards"]:
            problems += verify_shard(store, shard, manifest["num_classes"])
        if sum(s["samples"] for s in info["shards"]) != info["num_samples"]:
            problems.append("manifest: shard counts do not add up to num_samples")
    return problems + _check_records(store, manifest) + _check_side_files(store, manifest)


def _check_records(store, manifest):
    """A shard whose render record names another config than the manifest's was made for another dataset."""
    digest = manifest.get("config_digest")
    if digest is None or is_web(store.location):  # older datasets, and published ones, keep no records
        return []
    problems = []
    for info in manifest["splits"].values():
        for shard in info["shards"]:
            try:
                record = json.loads(store.get(record_name(shard["file"])) or b"null")
            except ValueError:
                record = {}
            if record is not None and (not isinstance(record, dict) or record.get("config") != digest):
                problems.append(f"{shard['file']}: its render record names another config than the manifest")
    return problems


def _check_side_files(store, manifest):
    problems = _check_sums(store, manifest)
    try:
        if json.loads(store.get(TIMM_INFO) or b"null") != timm_info(manifest):
            problems.append(f"{TIMM_INFO}: missing or does not match the manifest")
    except ValueError:
        problems.append(f"{TIMM_INFO}: malformed")
    return problems


def _check_sums(store, manifest):
    """SHA256SUMS against the files: every file of the dataset (format 2), the shards only (format 1)."""
    try:
        lines = (store.get(CHECKSUMS) or b"").decode().splitlines()
        listed = dict(reversed(line.split("  ", 1)) for line in lines)
    except ValueError:
        return [f"{CHECKSUMS}: malformed"]
    shards = {s["file"]: s["sha256"] for i in manifest["splits"].values() for s in i["shards"]}
    if manifest.get("format_version", 1) < 2:
        return [] if listed == shards else [f"{CHECKSUMS}: missing or does not match the manifest"]
    problems = [f"{CHECKSUMS}: {f} missing or not the manifest's digest"
                for f, digest in shards.items() if listed.get(f) != digest]
    if MANIFEST not in listed:
        problems.append(f"{CHECKSUMS}: does not list {MANIFEST}")
    for relative, digest in sorted(listed.items()):
        if relative not in shards:
            problems += _check_listed(store, relative, digest)
    if not is_web(store.location):  # a web server cannot list its files; folders and object stores can
        problems += [f"{f}: not listed in {CHECKSUMS}" for f in dataset_files(store) if f not in listed]
    return problems


def _check_listed(store, relative, digest):
    data = store.get(relative)
    if data is None:
        return [f"{relative}: missing (listed in {CHECKSUMS})"]
    if hashlib.sha256(data).hexdigest() != digest:
        return [f"{relative}: sha256 does not match {CHECKSUMS}"]
    return []


def summary(location):
    """Counts, classes, size in storage and config of a dataset, as text lines."""
    store = open_store(location)
    manifest = load_manifest(store)
    image = manifest["image"]
    lines = [f"name        {manifest['name']} ({manifest['recipe']}, fdsl {manifest['fdsl_version']})",
             f"classes     {manifest['num_classes']} (loss {manifest['loss']})",
             f"image       {image['width']} x {image['height']} x {image['channels']}"]
    for split, info in manifest["splits"].items():
        lines.append(f"{split:<11} {info['num_samples']} samples in {len(info['shards'])} shards")
    lines.append(f"stored      {sum(store.list().values()) / 2**20:.1f} MiB")
    lines.append(f"seed        {manifest['seed']}")
    lines.append(f"command     {manifest['command']}")
    for key, value in sorted(manifest["config"].items()):
        if not isinstance(value, list):
            lines.append(f"  {key:<18} {value}")
    return lines


MAX_SHEET_ROWS = 256  # classes on a contact sheet: 256 x 64 thumbnails is about 300 MB of pixels
MAX_SHEET_COLUMNS = 64


def contact_sheet(location, classes=8, per_class=8, thumb=96, split="train"):
    """A grid image: one row per class (the first `classes` met), `per_class` samples each."""
    check_bounds("classes", classes, 1, MAX_SHEET_ROWS)
    check_bounds("per_class", per_class, 1, MAX_SHEET_COLUMNS)
    store = open_store(location)
    return manifest_sheet(store, load_manifest(store), classes, per_class, thumb, split)


def manifest_sheet(store, manifest, classes=8, per_class=8, thumb=96, split="train", already_read=None):
    """contact_sheet of the dataset `manifest` describes (finalize draws it before writing the manifest).

    `already_read`: {file: bytes} of shards the caller has read (finalize's first shard), which the sheet
    takes from there instead of reading them again.
    """
    if split not in manifest["splits"]:
        raise UserError(f"{store} has no {split!r} split (it has {', '.join(manifest['splits'])})")
    import numpy as np
    from PIL import Image
    rows = defaultdict(list)
    # A dataset of fewer classes, or fewer samples per class, than the sheet has room for fills it sooner:
    # reading stops there instead of at the end of the split.
    filled = (min(classes, manifest["num_classes"]), min(per_class, manifest.get("samples_per_class", per_class)))
    for shard in manifest["splits"][split]["shards"]:
        data = (already_read or {}).get(shard["file"]) or store.get(shard["file"])
        if data is None:
            raise UserError(f"{store}: {shard['file']} is missing")
        try:
            for key, fields in iter_samples(data):
                cls = int(fields["cls"])
                if (cls in rows or len(rows) < classes) and len(rows[cls]) < per_class:
                    rows[cls].append(_thumbnail(fields["png"], thumb))
                    if _filled(rows, *filled):
                        break
        except (tarfile.TarError, KeyError, ValueError, OSError) as err:
            raise UserError(f"{store}/{shard['file']} is damaged ({err}); "
                            "fdsl-gen verify lists every damaged shard") from None
        if _filled(rows, *filled):
            break
    sheet = np.full((len(rows) * (thumb + 2), per_class * (thumb + 2), 3), 255, np.uint8)
    for r, cls in enumerate(sorted(rows)):
        for c, small in enumerate(rows[cls]):
            sheet[r * (thumb + 2) + 1:r * (thumb + 2) + 1 + thumb,
                  c * (thumb + 2) + 1:c * (thumb + 2) + 1 + thumb] = small
    return Image.fromarray(sheet), sorted(rows)


def _filled(rows, classes, per_class):
    return len(rows) == classes and all(len(r) == per_class for r in rows.values())


def _thumbnail(png, thumb):
    import numpy as np
    from PIL import Image
    with Image.open(io.BytesIO(png)) as image:
        if _grey(image):  # resized before it is made RGB: a third of the work, the same pixels
            image = image.convert("L").resize((thumb, thumb), Image.Resampling.BOX)
            return np.asarray(image.convert("RGB"))
        return np.asarray(image.convert("RGB").resize((thumb, thumb), Image.Resampling.BOX))


def _grey(image):
    """Whether `image` is 8-bit grey, or a palette of greys without transparency (which converts to
    grey exactly)."""
    if image.mode == "L":
        return True
    if image.mode != "P" or "transparency" in image.info:
        return False
    palette = image.getpalette() or []
    return all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette), 3))


def png_bytes(image):
    """A PIL image's PNG bytes through fdsl_gen.encode, not Pillow's own zlib: SHA256SUMS lists preview.png,
    so it must be the same bytes on every machine."""
    import numpy as np
    from fdsl_gen.encode import encode_png
    pixels = np.asarray(image)
    if pixels.ndim == 3 and (pixels == pixels[:, :, :1]).all():  # a sheet of grey datasets: a third of the bytes
        pixels = pixels[:, :, 0]
    return encode_png(pixels)
