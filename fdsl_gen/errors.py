"""Exceptions the CLI prints as one line: UserError (bad input, exit 2), RenderIncomplete (exit 1)."""


class UserError(Exception):
    """Bad input or a state of the output folder that the user must resolve."""


class RenderIncomplete(Exception):
    """A render stopped before every shard was written (workers lost); the same command resumes it."""


class SearchExhausted(UserError):
    """A category search reached its trial bound before it found every category."""
