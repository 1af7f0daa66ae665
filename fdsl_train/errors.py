"""The one exception type for mistakes a user can fix (bad paths, names, counts)."""


class UserError(Exception):
    """Raised for bad input; the CLI prints its message as one line and exits with 2."""
