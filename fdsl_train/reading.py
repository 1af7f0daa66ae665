"""Open one shard and read its samples, noting the samples it lacks.

http(s) shards are read with a time-out on every network read (--io-timeout),
object-store shards under the store policy (fdsl_gen.storage), whose read
time-out is --io-timeout too: a server that stops answering fails the shard
instead of stalling the run.
Local paths and file:// URLs are plain files; pipe: URLs run their command
through webdataset, and nothing here can bound how long that command takes.
A shard that ends early, cannot be opened or is not a tar file is reported
with the number of samples it lacks against its expected count, so every lost
sample is counted, not just the error that ended the shard.
"""
import re
import tarfile
from typing import BinaryIO, Iterator

from fdsl_gen.storage import READ_TIMEOUT
from fdsl_train.errors import describe_read_error
from fdsl_train.tally import Tally

DEFAULT_TIMEOUT = float(READ_TIMEOUT)  # the store policy's read time-out
KEY = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")  # folder/key.extension, as webdataset groups files


def open_url(url: str, timeout: float) -> BinaryIO:
    """A readable stream of `url`: every network read waits at most `timeout` seconds."""
    # the network clients load in the readers only: the CLI imports this module for its defaults
    from fdsl_train import remote
    from fdsl_train.shards import is_remote
    if is_remote(url):
        return remote.open_url(url, timeout)
    if url.startswith("pipe:"):
        from webdataset import gopen  # webdataset loads torch: only the readers need it, not the CLI
        return gopen(url)
    return open(url[len("file://"):] if url.startswith("file://") else url, "rb")


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
