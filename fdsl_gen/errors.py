"""The one exception type for mistakes a user can fix; the CLI prints it as one line."""


class UserError(Exception):
    """Bad input or a state of the output folder that the user must resolve."""


class RenderIncomplete(Exception):
    """A render stopped before every shard was written (workers lost); the same command resumes it."""
