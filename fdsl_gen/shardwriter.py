"""Render one shard and write it as a WebDataset tar, atomically.

The shard is written under a temporary name, synced and renamed; then a small
record (samples, bytes, sha256) lands in `_shards/`. The record is what
resume and the manifest trust, after checking it against the file. A lock
per shard lets several processes (a job array, two runs by mistake, the
orphaned workers of a killed run) share one folder: a process that finds a
shard locked waits for it, then takes the other's result if it finished.
"""
import fcntl
import hashlib
import io
import json
import os
from pathlib import Path

import webdataset as wds

from fdsl_gen.encode import encode_png

RECORDS = "_shards"


def shard_name(name, split, index):
    return f"{name}-{split}-{index:06d}.tar"


def render_shard(recipe, plan, split, index):
    """[(key, png bytes, cls, meta)] of one shard, in written order."""
    rendered = []
    for piece in plan.pieces(split, index):
        group = recipe.render_group(piece.cls, piece.group)
        for image, meta in group[piece.lo:piece.hi]:
            rendered.append((image, dict(meta, cls=piece.cls)))
    start, _ = plan.shard_range(split, index)
    order = plan.shard_order(split, index)
    levels = getattr(recipe, "levels", None)
    return [(f"{start + k:09d}", encode_png(rendered[j][0], levels), rendered[j][1])
            for k, j in enumerate(order)]


def tar_bytes(samples):
    buffer = io.BytesIO()
    with wds.TarWriter(buffer, mtime=0, encoder=False) as sink:
        for key, png, meta in samples:
            sink.write({"__key__": key, "png": png, "cls": str(meta["cls"]).encode(),
                        "json": json.dumps(meta, sort_keys=True).encode()})
    return buffer.getvalue()


def atomic_write(path, data):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_shard(recipe, plan, folder, name, split, index):
    """Render, write and record one shard; returns its record."""
    folder = Path(folder)
    file = shard_name(name, split, index)
    with shard_lock(folder, file) as contended:
        if contended:
            record = finished_record(folder, file)
            if record is not None:
                return record
        for stale in list(folder.glob(f".{file}.tmp-*")) + list((folder / RECORDS).glob(f".{file}.json.tmp-*")):
            stale.unlink(missing_ok=True)  # left by a killed run; the lock says nobody writes them now
        samples = render_shard(recipe, plan, split, index)
        data = tar_bytes(samples)
        atomic_write(folder / file, data)
        record = {"file": file, "split": split, "index": index, "samples": len(samples),
                  "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        atomic_write(folder / RECORDS / f"{file}.json", json.dumps(record, sort_keys=True).encode())
    return record


class shard_lock:
    """An exclusive lock on one shard; `with` gives True when another process held it first."""

    def __init__(self, folder, file):
        self.path = Path(folder) / RECORDS / f"{file}.lock"

    def __enter__(self):
        self.handle = open(self.path, "w")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            fcntl.flock(self.handle, fcntl.LOCK_EX)
            return True

    def __exit__(self, *exc):
        self.handle.close()
        return False


def sha256_file(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def finished_record(folder, file):
    """The shard's record when the file on disk matches it, else None."""
    folder = Path(folder)
    try:
        record = json.loads((folder / RECORDS / f"{file}.json").read_text())
        if (folder / file).stat().st_size != record["bytes"]:
            return None
    except (OSError, ValueError, KeyError):
        return None
    return record if sha256_file(folder / file) == record["sha256"] else None
