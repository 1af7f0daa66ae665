"""Local copies of remote shards (`--cache-dir`).

An http(s) or object-store (s3://) shard is downloaded the first time a reader needs it and read
from disk afterwards, in every epoch and by every worker of the machine. The
download goes to a temporary name and is renamed once complete and, when the
manifest gives the shard's sha256, once its digest matches: a file under its
final name is always a whole, checked shard, however many processes fill the
cache at once. Copies live under <cache-dir>/<hash of the shard's folder
URL>/<shard file>, so datasets whose shards share file names do not collide;
a shard whose manifest gives a digest is kept as <digest prefix>-<shard file>,
so a dataset published again under the same URL never reads a stale copy.
Each process checks a copy's digest again before its first use of it, so a
copy damaged on disk after its download is fetched again. Downloads read
through the shard's store (fdsl_gen.storage), under its policy with --io-timeout.
Local paths and pipe: URLs are read as they are.
"""
import hashlib
import os
import threading
from pathlib import Path
from typing import Optional

from fdsl_gen.storage import READ_TIMEOUT, Location, open_file
from fdsl_train.errors import UserError, check_writable

CHUNK = 1 << 20
_checked = set()  # (path, size, mtime) of the copies this process found intact


def cache_path(url: str, cache_dir: str, digest: Optional[str] = None) -> Path:
    folder, _, name = url.rpartition("/")
    if digest:
        name = f"{digest[:16]}-{name}"
    return Path(cache_dir) / hashlib.sha256(folder.encode()).hexdigest()[:16] / name


def cached(url: str, cache_dir: str, digest: Optional[str] = None, timeout: float = READ_TIMEOUT) -> str:
    """The local path to read `url` from, downloading it on first use; OSError/ValueError if it cannot be had."""
    if not Location.parse(url).is_url:
        return url
    dest = cache_path(url, cache_dir, digest)
    if dest.is_file() and (not digest or _intact(dest, digest)):
        return str(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        found = _download(url, part, timeout)
        if digest and found != digest:
            raise ValueError(f"{url}: sha256 {found[:12]}... does not match the manifest's {digest[:12]}...")
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    if digest:  # hashed on its way in: the next use in this process need not read it again
        _checked.add(_version(dest))
    return str(dest)


def _version(path: Path) -> tuple:
    stat = path.stat()
    return str(path), stat.st_size, stat.st_mtime_ns


def _intact(path: Path, digest: str) -> bool:
    """Whether a copy still has its digest: checked once per process and file version, as a copy can
    be damaged on disk after its download."""
    version = _version(path)
    if version not in _checked:
        found = hashlib.sha256()
        with open(path, "rb") as file:
            while chunk := file.read(CHUNK):
                found.update(chunk)
        if found.hexdigest() != digest:
            return False
        _checked.add(version)
    return True


def _download(url: str, dest: Path, timeout: float) -> str:
    """Copy `url` into `dest`; its sha256."""
    digest = hashlib.sha256()
    with open_file(url, timeout) as response, open(dest, "wb") as out:
        while chunk := response.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def check_folder(cache_dir: str) -> None:
    """Refuse a --cache-dir that cannot hold copies (a file, a read-only or missing place) before a run starts.

    A folder not there yet is made by the first copy (`cached`), not here: a run refused later leaves
    nothing behind."""
    if Path(cache_dir).exists() and not Path(cache_dir).is_dir():
        raise UserError(f"--cache-dir {cache_dir} is a file, not a folder")
    check_writable(Path(cache_dir), "--cache-dir", create=False)
