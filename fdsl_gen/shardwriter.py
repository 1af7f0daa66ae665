"""The writer: render one shard, store it whole, then record it.

The shard goes into the store with one atomic put; then a small record
(samples, bytes, sha256 and the config digest of the dataset it belongs to)
lands in `.render/`. The record is what resume and
the manifest trust, after checking it against the stored shard. In a folder a
lock per shard lets several processes (a job array, two runs by mistake, the
orphaned workers of a killed run) share it: a process that finds a shard
locked waits, then takes the other's result if it finished. An object store
has no lock: a second writer of a shard puts the same bytes again.
"""
import hashlib
import json

from fdsl_gen.storage import open_store
from fdsl_gen.tarformat import tar_blocks

RECORDS = ".render"  # hidden: dataset tools (Hugging Face datasets) skip it when they look for data files


def shard_name(name, split, index):
    return f"{name}-{split}-{index:06d}.tar"


def record_name(file):
    return f"{RECORDS}/{file}.json"


def write_shard(recipe, plan, location, name, split, index, digest):
    """Render, write and record one shard of the dataset whose config digest is `digest`; returns its record."""
    store = open_store(location)
    file = shard_name(name, split, index)
    with store.lock(f"{RECORDS}/{file}.lock") as contended:
        if contended:
            record = finished_record(store, file, digest)
            if record is not None:
                return record
        # left by a killed run; the lock says nobody writes them now
        store.discard_partial(file)
        store.discard_partial(record_name(file))
        from fdsl_gen.renderer import render_shard  # the codecs load in the writers, not in info or verify
        samples = render_shard(recipe, plan, split, index)
        blocks = tar_blocks(samples)
        store.put(file, blocks)
        sha256 = hashlib.sha256()
        for block in blocks:
            sha256.update(block)
        record = {"file": file, "split": split, "index": index, "samples": len(samples),
                  "bytes": sum(map(len, blocks)), "sha256": sha256.hexdigest(), "config": digest}
        store.put(record_name(file), json.dumps(record, sort_keys=True).encode())
    return record


def finished_record(location, file, digest):
    """The shard's record when it names config `digest` and the stored shard matches it, else None."""
    store = open_store(location)
    try:
        record = json.loads(store.get(record_name(file)) or b"null")
        if record is None or record["config"] != digest or store.size(file) != record["bytes"]:
            return None
    except (ValueError, KeyError, TypeError):
        return None
    return record if store.sha256(file) == record["sha256"] else None
