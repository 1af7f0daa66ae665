"""Open one shard and read its samples, noting the samples it lacks.

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
from typing import BinaryIO, Iterator

from fdsl_gen.storage import READ_TIMEOUT, Location, open_file
from fdsl_train.errors import describe_read_error
from fdsl_train.tally import Tally

DEFAULT_TIMEOUT = float(READ_TIMEOUT)  # the store policy's read time-out
KEY = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")  # folder/key.extension, as webdataset groups files


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
