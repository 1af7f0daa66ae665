"""Opening shard and manifest URLs: http(s) through urllib, object stores (s3://, gs://, ...) through fsspec.

Object stores are read under fdsl-gen's one remote I/O policy
(fdsl_gen.storage: connect and read time-outs, tries), with --io-timeout as
the read time-out; credentials and endpoint come from the standard AWS
variables and files.
"""
import urllib.error
import urllib.request
from typing import BinaryIO

from fdsl_gen.storage import READ_TIMEOUT, connect


def is_object_store(url: str) -> bool:
    """An fsspec URL other than a local file or a web server: s3://, gs://, ..."""
    return "://" in url and not url.startswith(("http://", "https://", "file://", "pipe:"))


def open_url(url: str, timeout: float = READ_TIMEOUT) -> BinaryIO:
    """A readable binary stream of `url` whose every network read waits at most `timeout` seconds
    (object stores: each of the policy's tries); OSError, ValueError or a client error when it cannot be had."""
    if is_object_store(url):
        fs, path = connect(url, timeout)  # a UserError when no back-end serves the protocol
        return fs.open(path, "rb")
    return urllib.request.urlopen(url, timeout=timeout)


def is_missing(err: Exception) -> bool:
    """Whether a failed read means the server is up and the object is not there."""
    return isinstance(err, (urllib.error.HTTPError, FileNotFoundError))
