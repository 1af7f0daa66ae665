"""The one exception type for mistakes a user can fix (bad paths, names, counts), and short reasons.

UserError is fdsl_gen's own class: the shard contract, the stores and live sources raise it, and
fdsl-train's CLI prints it as one line and exits with 2. check_writable lives here, beside it, as the
one check of a folder the user names (--output, --cache-dir).
"""
import asyncio
import tarfile
import tempfile
from pathlib import Path

from fdsl_gen.errors import UserError

__all__ = ["UserError", "brief", "check_writable", "describe_read_error"]


def check_writable(folder: Path, option: str, create: bool = True) -> None:
    """Make sure files can be written in `folder`, created if need be; a UserError naming it if not.

    With `create` false a missing folder is left for its first file to make: the nearest folder above it
    that exists must take new files."""
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        place = next(place for place in (folder, *folder.absolute().parents) if place.exists())
        with tempfile.TemporaryFile(dir=place):
            pass
    except OSError as err:
        raise UserError(f"{option} {folder} cannot be written ({err.strerror or err})") from None


def brief(err: Exception, limit: int = 200) -> str:
    """The telling line of a library error for a one-line message (torch puts it second)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()] or [type(err).__name__]
    line = lines[1] if len(lines) > 1 and lines[0].endswith(":") else lines[0]
    return line if len(line) <= limit else line[:limit] + "..."


def describe_read_error(err: Exception, timeout: float) -> str:
    """A short reason for a failed read of a file or URL that waited at most `timeout` seconds per read.

    A network client's error names its cause (`__cause__`, aiohttp's `os_error`): a refused connection or a
    time-out is said as such, whichever client met it.
    """
    for cause in _causes(err):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, (TimeoutError, asyncio.TimeoutError)):
            return f"no answer within {timeout:g} s (--io-timeout)"
    if isinstance(err, FileNotFoundError):
        return "no such file"
    if isinstance(getattr(err, "status", None), int):  # an HTTP error status (aiohttp.ClientResponseError)
        return f"HTTP {err.status} {getattr(err, 'message', '')}".rstrip()
    if isinstance(err, tarfile.TarError):
        return f"not a whole tar file: {err}"
    return f"{type(err).__name__}: {brief(err)}"


def _causes(err: BaseException):
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or getattr(err, "os_error", None)
