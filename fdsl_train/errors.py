"""The one exception type for mistakes a user can fix (bad paths, names, counts), and short reasons.

UserError is fdsl_gen's own class: the shard contract, the stores and live sources raise it, and
fdsl-train's CLI prints it as one line and exits with 2.
"""
import socket
import tarfile
import urllib.error

from fdsl_gen.errors import UserError

__all__ = ["UserError", "brief", "describe_read_error"]


def brief(err: Exception, limit: int = 200) -> str:
    """The telling line of a library error for a one-line message (torch puts it second)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()] or [type(err).__name__]
    line = lines[1] if len(lines) > 1 and lines[0].endswith(":") else lines[0]
    return line if len(line) <= limit else line[:limit] + "..."


def describe_read_error(err: Exception, timeout: float) -> str:
    """A short reason for a failed read of a file or URL that waited at most `timeout` seconds per read."""
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    reason = err.reason if isinstance(err, urllib.error.URLError) else err
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g} s (--io-timeout)"
    if isinstance(reason, tarfile.TarError):
        return f"not a whole tar file: {reason}"
    if isinstance(reason, Exception):
        return f"{type(reason).__name__}: {brief(reason)}"
    return str(reason)
