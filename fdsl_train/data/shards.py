"""Resolve a `--data` argument that names shard files into their URLs with their sample counts.

(A `live:` source names rendered shards instead: fdsl_train.data.datasets.resolve tells the two apart.)
Accepted forms: a dataset folder (manifest.json, else timm's _info.json), the
path, http(s) URL or object-store URL (s3://bucket/prefix/) of such a folder or
of its manifest.json, and shard lists in brace notation as local paths,
file://, http(s)://, s3:// or pipe: URLs. Sample counts
are needed to give every rank the same number of batches; they come from the
manifest, from reading local tar headers, or from --samples-per-shard.
"""
import hashlib
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import braceexpand

from fdsl_gen import contract
from fdsl_gen.contract import MANIFEST, READABLE, TIMM_INFO
from fdsl_gen.storage import READ_TIMEOUT, Location, answered_absent, open_file, remote_errors
from fdsl_train.errors import UserError, describe_read_error


@dataclass(frozen=True)
class ShardSet:
    """Shards of one split, in their listed order."""

    urls: Tuple[str, ...]
    sizes: Tuple[int, ...]
    num_classes: Optional[int] = None
    loss: str = "ce"
    digests: Tuple[str, ...] = ()  # sha256 per shard where the manifest gives it, else ""

    @property
    def num_samples(self) -> int:
        return sum(self.sizes)

    @property
    def digest(self) -> str:
        """Short sha256 over the shards' sha256s in order: one name for exactly this data; "" when some are unknown."""
        if not self.digests or not all(self.digests):
            return ""
        return hashlib.sha256("\n".join(self.digests).encode()).hexdigest()[:16]


def resolve(data: str, split: str = "train", samples_per_shard: Optional[int] = None,
            timeout: float = READ_TIMEOUT) -> ShardSet:
    """The shards that `data` names for `split`; a network read waits at most `timeout` seconds."""
    data = data.strip()
    if not data:
        raise UserError("empty shard list: --data is empty")
    base = _remote_base(data)
    if base is not None:
        return _from_manifest(_fetch_json(base + MANIFEST, timeout), base, split, data)
    folder = _local_folder(data)
    if folder is not None:
        return _from_folder(folder, split)
    return _from_list(data, samples_per_shard, timeout)


def has_split(data: str, split: str, timeout: float = READ_TIMEOUT) -> bool:
    """Whether the dataset that `data` names (any form but a shard list: lists have no splits) declares `split`."""
    data = data.strip()
    base = _remote_base(data)
    if base is not None:
        splits = _checked(_fetch_json(base + MANIFEST, timeout), base + MANIFEST)["splits"]
    else:
        folder = _local_folder(data)
        if folder is None:
            return False
        if (folder / MANIFEST).is_file():
            splits = _checked(_read_json(folder / MANIFEST), f"{folder}/{MANIFEST}")["splits"]
        elif (folder / TIMM_INFO).is_file():
            splits = _read_json(folder / TIMM_INFO).get("splits", {})
        else:
            return False
    return contract.split_name(split, splits) in splits


def _checked(manifest: dict, where: str) -> dict:
    """A manifest of one of the versions fdsl-train reads, in the shape the contract gives it."""
    return contract.check(manifest, where, READABLE)


def _remote_base(data: str) -> Optional[str]:
    """The URL (ending in /) of the remote dataset folder that `data` names: the folder, its manifest.json or an
    object-store prefix; None for anything else."""
    where = Location.parse(data)
    if where.is_object_store and not data.endswith(".tar") and "{" not in data:
        data = data.rstrip("/") + "/"  # an object-store prefix: its dataset
    if where.is_url and (data.endswith("/") or data.endswith(MANIFEST)):
        return data if data.endswith("/") else data[: -len(MANIFEST)]
    return None


def _local_folder(data: str) -> Optional[Path]:
    """The dataset folder that `data` names as a folder, a file:// URL of one, or its manifest.json."""
    where = Location.parse(data)
    if not where.is_local:
        return None
    local = Path(where.text)
    try:
        if local.is_dir():
            return local
        if local.name == MANIFEST and local.is_file():
            return local.parent
    except OSError:  # a shard list longer than a path may be is no folder
        pass
    return None


def _read_json(path: Path) -> dict:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UserError(f"cannot read {path}: {err.strerror or err}") from None
    return contract.parse(data, str(path))


def _fetch_json(url: str, timeout: float, missing_ok: bool = False) -> Optional[dict]:
    """The JSON document at `url`; None when `missing_ok` and the server answers with an HTTP error."""
    try:
        with open_file(url, timeout) as response:
            data = response.read()
    except (ValueError, *remote_errors()) as err:
        if missing_ok and answered_absent(err):
            return None
        raise UserError(f"cannot read {url}: {describe_read_error(err, timeout)}") from None
    return contract.parse(data, url)


def _from_folder(folder: Path, split: str) -> ShardSet:
    if (folder / MANIFEST).is_file():
        shardset = _from_manifest(_read_json(folder / MANIFEST), f"{folder}/", split, str(folder))
    elif (folder / TIMM_INFO).is_file():
        shardset = _from_timm_info(_read_json(folder / TIMM_INFO), folder, split)
    else:
        raise UserError(f"{folder}: no {MANIFEST} or {TIMM_INFO}, so not a dataset folder")
    _check_local(shardset.urls)
    return shardset


def _from_manifest(manifest: dict, base: str, split: str, where: str) -> ShardSet:
    manifest = _checked(manifest, f"{base}{MANIFEST}")
    shards = contract.split(manifest["splits"], split, where)["shards"]
    if not shards:
        raise UserError(f"empty shard list: {where} lists no '{split}' shards")
    return ShardSet(
        urls=tuple(base + shard["file"] for shard in shards),
        sizes=tuple(int(shard["samples"]) for shard in shards),
        num_classes=contract.declared_classes(manifest, f"{base}{MANIFEST}"),
        loss=manifest.get("loss", "ce"),
        digests=tuple(shard["sha256"] for shard in shards),
    )


def _from_timm_info(info: dict, folder: Path, split: str) -> ShardSet:
    entry = contract.split(info.get("splits", {}), split, str(folder))
    if not entry.get("filenames"):
        raise UserError(f"empty shard list: {folder} lists no '{split}' shards")
    return ShardSet(
        urls=tuple(str(folder / name) for name in entry["filenames"]),
        sizes=tuple(int(n) for n in entry["shard_lengths"]),
        num_classes=contract.declared_classes(info, str(folder / TIMM_INFO)),
    )


def _check_local(paths) -> None:
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise UserError(f"missing shard: {missing[0]} ({len(missing)} of {len(paths)} shards missing)")


def _from_list(data: str, samples_per_shard: Optional[int], timeout: float) -> ShardSet:
    urls = [u.strip() for spec in data.split("::") for u in braceexpand.braceexpand(spec) if u.strip()]
    if not urls:
        raise UserError(f"empty shard list: {data}")
    where = [Location.parse(u) for u in urls]
    local = [w.text for w in where]
    is_local = all(w.is_local for w in where)
    if is_local:
        _check_local(local)
    manifest = _sibling_manifest(local[0], is_local, timeout)
    known = {}
    if manifest:
        manifest = _checked(manifest, _beside(local[0], is_local))
        known = {shard["file"]: shard for split in manifest["splits"].values() for shard in split["shards"]}
    sizes = tuple(_size_of(url, path, known, is_local, samples_per_shard) for url, path in zip(urls, local))
    return ShardSet(
        urls=tuple(local if is_local else urls),
        sizes=sizes,
        num_classes=contract.declared_classes(manifest, _beside(local[0], is_local)) if manifest else None,
        loss=manifest.get("loss", "ce") if manifest else "ce",
        digests=tuple(known.get(_file_name(path), {}).get("sha256", "") for path in local),
    )


def _sibling_manifest(first: str, is_local: bool, timeout: float) -> Optional[dict]:
    """The manifest.json beside the listed shards, if the shards sit in a dataset folder.

    A server that answers without one (HTTP 404, ...) means no manifest; one that refuses or does not
    answer cannot serve the shards either, and says so now.
    """
    if is_local:
        path = Path(_beside(first, is_local))
        return _read_json(path) if path.is_file() else None
    if Location.parse(first).is_url:
        return _fetch_json(_beside(first, is_local), timeout, missing_ok=True)
    return None


def _beside(first: str, is_local: bool) -> str:
    """Where the manifest.json of a listed shard's folder would be."""
    return str(Path(first).parent / MANIFEST) if is_local else first.rsplit("/", 1)[0] + "/" + MANIFEST


def _size_of(url: str, path: str, known: dict, is_local: bool, samples_per_shard: Optional[int]) -> int:
    name = _file_name(path)
    if name in known:
        return int(known[name]["samples"])
    if is_local:
        return count_samples(path)
    if samples_per_shard:
        return samples_per_shard
    raise UserError(f"cannot tell how many samples {url} holds: give the dataset folder or --samples-per-shard")


def _file_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def count_samples(path: str) -> int:
    """Samples in a local tar shard: distinct keys, read from the member headers only."""
    try:
        with tarfile.open(path) as tar:
            return len({member.name.split(".", 1)[0] for member in tar if member.isfile()})
    except (OSError, tarfile.TarError) as err:
        raise UserError(f"cannot read shard {path}: {err}") from None
