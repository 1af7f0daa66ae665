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
import json
import os
from pathlib import Path


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
    return [(f"{start + k:09d}", encode_png(rendered[j][0], recipe.levels), rendered[j][1])
            for k, j in enumerate(order)]


def tar_bytes(samples):
    """A WebDataset tar of (key, png, meta) samples: members cls, json, png per key.

    The bytes are those of webdataset's `TarWriter(mtime=0)` (a test holds
    them equal), written directly: tarfile's per-member overhead was a tenth
    of the render time.
    """
    blocks = []
    for key, png, meta in samples:
        for field, data in (("cls", str(meta["cls"]).encode()),
                            ("json", json.dumps(meta, sort_keys=True).encode()), ("png", png)):
            blocks += [_ustar_header(f"{key}.{field}", len(data)), data, b"\0" * (-len(data) % 512)]
    blocks.append(b"\0" * 1024)
    body = b"".join(blocks)
    return body + b"\0" * (-len(body) % _RECORD)


_RECORD = 10240  # tarfile pads a stream to whole records of 20 blocks
_OWNER = b"bigdata".ljust(32, b"\0")  # webdataset's default user and group names


def _ustar_header(name, size):
    """The 512-byte ustar header tarfile writes for a regular file with mode 0444 and mtime 0."""
    raw = name.encode()
    if len(raw) > 100:
        raise ValueError(f"tar member name too long: {name}")
    header = b"".join((raw.ljust(100, b"\0"), b"0000444\0", b"0000000\0", b"0000000\0",
                       b"%011o\0" % size, b"00000000000\0", b" " * 8, b"0", b"\0" * 100,
                       b"ustar\x0000", _OWNER, _OWNER, b"\0" * 16, b"\0" * 155)).ljust(512, b"\0")
    return header[:148] + b"%06o\0 " % sum(header) + header[156:]


def atomic_write(path, data):
    """Write under a temporary name, sync, rename; a failure removes the temporary and names `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OSError(err.errno, err.strerror or str(err), str(path)) from None


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
