"""A dataset's life in its store (folder or object-store prefix): claim it, then describe the finished shards.

`claim` makes sure the store holds this dataset (or nothing) and stores what
the manifest needs in `.render/config.json`, with the recipe's parameter
files; from then on the store describes itself. `finalize` gathers the
shard records and writes _info.json, the card, preview.png, SHA256SUMS
(every file of the dataset, the manifest included) and, last,
manifest.json: a store with a manifest is complete. Any process that sees
every shard finished may finalize (a job array's last task, or
`fdsl-gen finalize`).
"""
import contextlib
import hashlib
import json
import re


from fdsl_gen import __version__, contract
from fdsl_gen.card import dataset_card
from fdsl_gen.contract import CARD, CHECKSUMS, FORMAT, FORMAT_VERSION, MANIFEST, PREVIEW, TIMM_INFO, WIDS_INDEX
from fdsl_gen.errors import UserError
from fdsl_gen.shardwriter import RECORDS, finished_record, shard_name
from fdsl_gen.storage import open_store
from fdsl_gen.tarformat import iter_samples

CLAIM = "config.json"
CLAIM_LOCK = "claim.lock"  # taken while a claim is checked and written
HOLDERS = "holders.lock"  # shared by every live render of the dataset
FINALIZE = "finalize"  # the name of the lock finalizers share


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
        raise UserError(f"name {name!r} is not a dataset name: use letters, digits, '_', '-' and '.' "
                        "(starting with a letter or digit, at most 100 characters)", options="name")


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


@contextlib.contextmanager
def claim(location, recipe, plan, name, command):
    """Hold a folder or prefix for this dataset while the block runs; yields its config digest.

    Exactly one configuration can hold a store. The claim file is created
    atomically (a hard link in a folder, a conditional PUT on an object
    store), so of two renders with other settings started together one wins
    and the other gets a one-line error naming it. In a folder every render
    also holds a shared lock until it ends, which tells a live claim from the
    one a killed render left. A refusal leaves the store as it was.
    """
    store = open_store(location)
    check_name(name)
    wanted = identity(recipe, plan, name)
    manifest = manifest_base(recipe, plan, name, command)
    _releasable_claim(store, wanted["fingerprint"], manifest["png_encoder"])  # refuse before creating anything
    store.prepare()
    extra = recipe.extra_files()
    described = dict(wanted, manifest=manifest,
                     shards={split: plan.num_shards(split) for split in plan.splits()}, files=sorted(extra))
    with contextlib.ExitStack() as held:
        with store.lock(f"{RECORDS}/{CLAIM_LOCK}"):
            check_claim(store, wanted["fingerprint"], manifest["png_encoder"])
            _create_claim(store, described)
            held.enter_context(store.share(f"{RECORDS}/{HOLDERS}"))
        for relative, data in extra.items():
            store.put(relative, data)
        yield wanted["fingerprint"]


def _create_claim(store, described):
    """Write the claim unless the store holds one; a claim found (an object store has no lock: another
    render may have claimed since the check) must be this dataset's."""
    data = json.dumps(described, indent=1, sort_keys=True).encode()
    if _held_claim(store) is None and store.put_new(f"{RECORDS}/{CLAIM}", data):
        return
    check_claim(store, described["fingerprint"], described["manifest"]["png_encoder"])


def check_claim(store, fingerprint, encoder=None):
    """UserError unless `store` is empty or holds the dataset with this fingerprint (and, when given, this
    PNG `encoder`).

    The claim of another dataset is refused while it holds shards or a live
    render holds it. A claim with neither, left by a render killed before its
    first shard, holds nothing to lose: it is released, so that a fixed
    re-run takes the place. An object store cannot tell a live render from
    a killed one: there the user deletes the claim.
    """
    held = _releasable_claim(store, fingerprint, encoder)
    if held is not None:
        _release(store, held)
        _releasable_claim(store, fingerprint, encoder)  # what the claim leaves must be nothing


def _releasable_claim(store, fingerprint, encoder=None):
    """The claim of another dataset that a killed render left with no shard, or None; refuses the rest."""
    # Listed before the claim is read: a render writes its claim before any other file, so files listed
    # with no claim after them are not a render's (read the other way, a render starting meanwhile looks foreign).
    names = store.list()
    held = _held_claim(store)
    if held is None:
        if any(not name.startswith(f"{RECORDS}/") for name in names):
            raise UserError(f"output {store} is not empty and holds no fdsl dataset; choose another --out")
        return None
    if held.get("fingerprint") == fingerprint:
        if encoder is not None:
            _check_encoder(store, held, encoder)
        return None
    holder = _holder(held)
    if _holds_shards(names):
        raise UserError(f"output {store} holds another dataset ({holder}); choose another --out or delete it")
    live = store.in_use(f"{RECORDS}/{HOLDERS}")
    if live is None:
        raise UserError(f"output {store} is claimed by another render ({holder}); if it is not running, "
                        f"delete {store}/{RECORDS}/{CLAIM}, or choose another --out")
    if live:
        raise UserError(f"output {store} is being rendered by another dataset ({holder}); choose another --out")
    return held


def _check_encoder(store, held, encoder):
    """Refuse to resume a dataset begun by another PNG encoder version: the shards it adds would have other bytes
    than those the first version writes (the same pixels), and same command, same bytes would hold for neither."""
    begun = held.get("manifest", {}).get("png_encoder")
    if begun == encoder:
        return
    from fdsl_gen.encode import describe
    was = f"PNG encoder {describe(begun)}" if begun else "the zlib its Python linked (an older fdsl)"
    cure = f"resume it after pip install '{begun['package']}=={begun['version']}', or" \
        if begun and begun["package"] == encoder["package"] else "delete it, or"
    raise UserError(f"output {store} was begun with {was} and this fdsl has {describe(encoder)}: "
                    f"the shards would differ in bytes; {cure} choose another --out")


def _holder(claimed):
    """A claim in words: recipe, name and the command that made it."""
    return f"{claimed.get('recipe')} {claimed.get('name')}: {claimed.get('manifest', {}).get('command', '?')}"


def _held_claim(store):
    """The claim a store holds, or None."""
    try:
        data = store.get(f"{RECORDS}/{CLAIM}")
        held = None if data is None else json.loads(data)
    except (OSError, ValueError):
        raise UserError(f"{store}/{RECORDS}/{CLAIM} is unreadable; delete {store} to start over") from None
    if held is not None and not isinstance(held, dict):
        raise UserError(f"{store}/{RECORDS}/{CLAIM} is not an fdsl claim; delete {store} to start over")
    return held


def _holds_shards(names):
    """Whether the listed `names` of a store hold a shard or a shard's record."""
    return any(name.endswith(".tar") and "/" not in name
               or name.startswith(f"{RECORDS}/") and name.endswith(".tar.json") for name in names)


def _release(store, held):
    """Remove what a claim wrote (its parameter files and the claim itself)."""
    for relative in held.get("files", []):
        store.delete(relative)
    store.delete(f"{RECORDS}/{CLAIM}")


def manifest_base(recipe, plan, name, command):
    """Everything in the manifest but the shards."""
    import numpy as np  # here, not at the top: info and verify start without it

    from fdsl_gen.encode import ENCODER
    height, width, channels = recipe.image_shape
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "name": name, "recipe": recipe.name,
        "fdsl_version": __version__, "numpy_version": np.__version__, "png_encoder": ENCODER, "command": command,
        "seed": plan.seed, "config_digest": identity(recipe, plan, name)["fingerprint"],
        "num_classes": recipe.num_classes, "class_names": recipe.class_names(),
        "loss": recipe.loss,
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
    info = {"name": manifest["name"], "num_classes": manifest["num_classes"], "splits": splits}
    if "class_names" in manifest:  # format 2
        info["class_names"] = manifest["class_names"]
    return info


def wids_index(manifest, split):
    """wids' index of one split (what its `widsindex create` writes, less the md5sums): shard URLs relative to
    the index file, with their sample counts and sizes."""
    shards = manifest["splits"][split]["shards"]
    return {"__kind__": "wids-shard-index-v1", "wids_version": 1, "name": f"{manifest['name']}-{split}",
            "shardlist": [{"url": s["file"], "nsamples": s["samples"], "filesize": s["bytes"]} for s in shards]}


def read_claim(location):
    data = open_store(location).get(f"{RECORDS}/{CLAIM}")
    if data is None:
        raise UserError(f"{location} holds no fdsl render (no {RECORDS}/{CLAIM})")
    return json.loads(data)


def missing_shards(location, known=()):
    """Shard files of the claimed dataset that are not finished yet, and the records of the others."""
    store = open_store(location)
    described = read_claim(store)
    name, digest = described["name"], described["fingerprint"]
    if any(r["config"] != digest for r in known):
        raise UserError(f"{store} was claimed by another render while this one ran ({_holder(described)}); "
                        "this run's shards are not its dataset's")
    known = {r["file"]: r for r in known}
    records, missing = [], []
    for split, count in described["shards"].items():
        for index in range(count):
            file = shard_name(name, split, index)
            record = known.get(file) or finished_record(store, file, digest)
            (records.append(record) if record else missing.append(file))
    return missing, records


def finalize(location, known=(), preview=None):
    """Write the description files (SHA256SUMS, then manifest.json, last) once every shard is finished.

    `known`: records already checked by this process. `preview(store, manifest, already_read)`,
    when given, returns the PNG bytes of preview.png, which SHA256SUMS covers;
    `already_read` holds the shard read for the card, so that the preview does
    not read it again.
    Finalizers take turns (a lock), so each may clear the temporaries of
    killed ones. Returns the manifest, or raises UserError naming how many
    shards are missing.
    """
    store = open_store(location)
    missing, records = missing_shards(store, known)
    if missing:
        raise UserError(f"{store}: {len(missing)} shards not finished yet (first: {missing[0]})")
    manifest = dict(read_claim(store)["manifest"], splits={})
    for record in records:
        split = manifest["splits"].setdefault(record["split"], {"num_samples": 0, "shards": []})
        split["shards"].append({k: record[k] for k in ("file", "samples", "bytes", "sha256")})
        split["num_samples"] += record["samples"]
    first = next(iter(manifest["splits"].values()))["shards"][0]["file"]
    first_data = store.get(first)
    examples = [json.loads(fields["json"]) for _, fields in iter_samples(first_data)]
    files = {TIMM_INFO: _json(timm_info(manifest)), CARD: dataset_card(manifest, examples).encode()}
    files.update({WIDS_INDEX.format(split=split): _json(wids_index(manifest, split)) for split in manifest["splits"]})
    if preview is not None:
        files[PREVIEW] = preview(store, manifest, {first: first_data})
    manifest_bytes = _json(manifest)
    with store.lock(f"{RECORDS}/{FINALIZE}.lock"):
        for name in [*files, CHECKSUMS, MANIFEST]:
            store.discard_partial(name)
        for name, data in files.items():
            store.put(name, data)
        store.put(CHECKSUMS, checksums(store, manifest, manifest_bytes).encode())
        store.put(MANIFEST, manifest_bytes)
    return manifest


def dataset_files(location):
    """Names of every file of a dataset but SHA256SUMS; hidden ones (render state, temporaries) left out."""
    names = open_store(location).list()
    return sorted(name for name in names
                  if not any(part.startswith(".") for part in name.split("/")) and name != CHECKSUMS)


def checksums(store, manifest, manifest_bytes):
    """SHA256SUMS text (`sha256sum -c` format) of every dataset file; shard digests come from their records."""
    known = {s["file"]: s["sha256"] for info in manifest["splits"].values() for s in info["shards"]}
    known[MANIFEST] = hashlib.sha256(manifest_bytes).hexdigest()
    files = sorted(set(dataset_files(store)) | {MANIFEST})
    return "".join(f"{known.get(f) or store.sha256(f)}  {f}\n" for f in files)


def _json(data):
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def load_manifest(location):
    """The checked manifest of a complete dataset (folder or URL); one line when the folder is missing."""
    store = open_store(location)
    store.require()
    return contract.load_manifest(store)
