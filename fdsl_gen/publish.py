"""Upload a finished dataset to another store (an object-store prefix, usually).

Resumable and idempotent: an object already there with the same sha256 is
kept, so a second run, or a run after an interruption, uploads only what is
missing or different. Every file is checked against SHA256SUMS and the
manifest before the destination is touched, so a damaged folder is refused
with the destination as it was; each upload is read back and its digest
checked. The claim goes first, so that no render takes the prefix
meanwhile, and manifest.json last, so that the copy looks complete only
once it is.
"""
import hashlib
import json

from fdsl_gen.errors import UserError
from fdsl_gen.contract import CHECKSUMS, MANIFEST
from fdsl_gen.lifecycle import CLAIM, check_claim, load_manifest
from fdsl_gen.shardwriter import RECORDS
from fdsl_gen.storage import open_store


def plan_upload(source, destination):
    """Check both ends, the source first and whole; returns [(name, size, sha256 the manifest gives or None)]
    in upload order."""
    src, dst = open_store(source), open_store(destination)
    manifest = load_manifest(src)
    claim = src.get(f"{RECORDS}/{CLAIM}")
    if claim is None:
        raise UserError(f"{source} holds no {RECORDS}/{CLAIM}: not a dataset written by fdsl-gen")
    expected = _listed_digests(src, manifest)
    files = stored_files(src)
    missing = sorted(set(expected) - set(files))
    if missing:
        more = f" ({len(missing)} listed files are)" if len(missing) > 1 else ""
        raise UserError(f"{src}/{missing[0]} is missing{more}; run fdsl-gen verify {src}")
    for name, digest in sorted(expected.items()):
        if src.sha256(name) != digest:
            raise _damaged(src, name)
    check_claim(dst, json.loads(claim)["fingerprint"])
    dst.prepare()
    order = [f"{RECORDS}/{CLAIM}"] + sorted(set(files) - {f"{RECORDS}/{CLAIM}", MANIFEST}) + [MANIFEST]
    return [(name, files[name], expected.get(name)) for name in order]


def publish(source, destination, plan, progress=lambda size: None):
    """Copy the planned files from `source` to `destination`; returns (files uploaded, bytes)."""
    src, dst = open_store(source), open_store(destination)
    uploaded = sent = 0
    for name, size, expected in plan:
        if _upload(src, dst, name, expected):
            uploaded, sent = uploaded + 1, sent + size
        progress(size)
    return uploaded, sent


def stored_files(store):
    """{name: size} of the files to copy (the dataset and its render records): no locks, no temporary names."""
    return {name: size for name, size in store.list().items()
            if not name.endswith(".lock") and not name.rsplit("/", 1)[-1].startswith(".")}


def _listed_digests(src, manifest):
    """{name: sha256} every upload must match: SHA256SUMS (every file of the dataset) and the manifest's shards."""
    expected = {}
    for line in (src.get(CHECKSUMS) or b"").decode(errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        expected[name] = digest
    expected.update({s["file"]: s["sha256"] for info in manifest["splits"].values() for s in info["shards"]})
    return expected


def _upload(src, dst, name, expected):
    """Put `name` unless `dst` holds it with the same digest; True when it was sent.

    Files are read whole: one GET tells whether the object is there and what
    it holds (shards are tens of MB).
    """
    data = src.get(name)
    digest = _sha256(data)
    if expected and digest != expected:
        raise _damaged(src, name)  # changed since plan_upload checked it
    if _sha256(dst.get(name)) == digest:
        return False
    dst.put(name, data)
    if _sha256(dst.get(name)) != digest:
        raise UserError(f"{dst}/{name}: reads back with another sha256 after upload")
    return True


def _damaged(src, name):
    return UserError(f"{src}/{name}: sha256 does not match {CHECKSUMS} or the manifest; run fdsl-gen verify {src}")


def _sha256(data):
    return None if data is None else hashlib.sha256(data).hexdigest()
