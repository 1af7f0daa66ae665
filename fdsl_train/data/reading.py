"""Open one shard and read its samples, noting the samples it lacks: the reader of shard files.

`ShardFiles` is the `read_shard` of a ShardStream (fdsl_train.data.loader) over
files: shard i read from its URL, or from its local copy in --cache-dir
(fdsl_train.data.cache).

Paths, file://, http(s) and object-store URLs are read through their store
(fdsl_gen.storage.open_file), network reads under the store policy with
--io-timeout as its read time-out: a server that stops answering fails the
shard instead of stalling the run. pipe: URLs run their command through
webdataset, and nothing here can bound how long that command takes.
A shard that ends early, cannot be opened or is not a tar file is reported
with the number of samples it lacks against its expected count, so every lost
sample is counted, not just the error that ended the shard.
"""
import re
import tarfile
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Optional

from fdsl_gen.storage import READ_TIMEOUT, Location, open_file
from fdsl_train.data import cache
from fdsl_train.data.shards import ShardSet
from fdsl_train.data.tally import Tally
from fdsl_train.errors import describe_read_error

DEFAULT_TIMEOUT = float(READ_TIMEOUT)  # the store policy's read time-out
KEY = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")  # folder/key.extension, as webdataset groups files


@dataclass(frozen=True)
class ShardFiles:
    """The read_shard of shard files: shard `index` read from its URL, or from its copy in `cache_dir`."""

    shardset: ShardSet
    cache_dir: Optional[str] = None
    timeout: float = DEFAULT_TIMEOUT

    def __call__(self, index: int, epoch: int, tally: Tally) -> Iterator[dict]:
        """The samples of shard `index` (the same in every epoch); returns how many it lacked, noted in `tally`."""
        url, expected = self.shardset.urls[index], self.shardset.sizes[index]
        source = self._source(index, tally)
        if source is None:
            return expected
        return (yield from shard_samples(url, source, expected, tally, self.timeout))

    def _source(self, index: int, tally: Tally) -> Optional[str]:
        """Where to read shard `index`: its URL, or its copy in the cache; None (noted) if it cannot be had."""
        url = self.shardset.urls[index]
        if not self.cache_dir:
            return url
        digest = self.shardset.digests[index] if self.shardset.digests else None
        try:
            return cache.cached(url, self.cache_dir, digest, timeout=self.timeout)
        except (ValueError, *_network_errors()) as err:
            tally.shard(url, self.shardset.sizes[index], describe_read_error(err, self.timeout))
            return None


def open_url(url: str, timeout: float) -> BinaryIO:
    """A readable stream of `url` (a path, file://, http(s), object-store or pipe: URL): every network read
    waits at most `timeout` seconds; OSError, ValueError or a network error (`_network_errors`) if not."""
    if Location.parse(url).is_pipe:
        from webdataset import gopen  # webdataset loads torch: only the readers need it, not the CLI
        return gopen(url)
    return open_file(url, timeout)


def shard_samples(url: str, source: str, expected: int, tally: Tally, timeout: float) -> Iterator[dict]:
    """The samples of shard `url`, read from `source` (the URL or a local copy); returns how many it lacked."""
    got, reason = 0, "fewer samples than expected"
    try:
        with open_url(source, timeout) as stream:
            for sample in tar_samples(stream, url):
                got += 1
                yield sample
    except (EOFError, ValueError, tarfile.TarError, *_network_errors()) as err:
        reason = describe_read_error(err, timeout)
    missing = max(0, expected - got)
    if missing:
        tally.shard(url, missing, reason)
    return missing


def tar_samples(stream: BinaryIO, url: str) -> Iterator[dict]:
    """Samples of a tar stream: the files that share a key (the name up to its first dot), by extension.

    A sample is handed on as soon as the next key's header is read, so a shard cut off inside one
    sample loses that sample only.
    """
    sample = None
    with tarfile.open(fileobj=stream, mode="r|*") as tar:
        for member in tar:
            match = KEY.match(member.name)
            if not member.isfile() or not match:
                continue
            key, extension = match.groups()
            if sample is not None and sample["__key__"] != key:
                yield sample
                sample = None
            sample = sample or {"__key__": key, "__url__": url}
            sample[extension.lower()] = tar.extractfile(member).read()
    if sample is not None:
        yield sample


def _network_errors() -> tuple:
    from fdsl_gen.storage import remote_errors
    return remote_errors()
