"""Opening shard and manifest URLs: http(s) through urllib, object stores (s3://, gs://, ...) through fsspec.

Object-store clients get the same connect/read time-outs and bounded retries
as fdsl-gen's writer; credentials and endpoint come from the standard AWS
variables and files.
"""
import urllib.error
import urllib.request
from typing import BinaryIO

import fsspec

from fdsl_gen.storage import READ_TIMEOUT, client_options


def is_object_store(url: str) -> bool:
    """An fsspec URL other than a local file or a web server: s3://, gs://, ..."""
    return "://" in url and not url.startswith(("http://", "https://", "file://", "pipe:"))


def open_url(url: str, timeout: float = READ_TIMEOUT) -> BinaryIO:
    """A readable binary stream of `url` whose every network read waits at most `timeout` seconds
    (object stores: the store client's own read time-out); OSError (or a client error) when it cannot be had."""
    if is_object_store(url):
        return fsspec.open(url, "rb", **client_options(url)).open()
    return urllib.request.urlopen(url, timeout=timeout)


def is_missing(err: Exception) -> bool:
    """Whether a failed read means the server is up and the object is not there."""
    return isinstance(err, (urllib.error.HTTPError, FileNotFoundError))
