"""The one exception type for mistakes a user can fix (bad paths, names, counts)."""


class UserError(Exception):
    """Raised for bad input; the CLI prints its message as one line and exits with 2."""


def brief(err: Exception, limit: int = 200) -> str:
    """The telling line of a library error for a one-line message (torch puts it second)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()] or [type(err).__name__]
    line = lines[1] if len(lines) > 1 and lines[0].endswith(":") else lines[0]
    return line if len(line) <= limit else line[:limit] + "..."
