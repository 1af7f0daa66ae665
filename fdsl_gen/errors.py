"""Exceptions the CLI prints as one line: UserError (bad input, exit 2), RenderIncomplete (exit 1).

A message names parameters as Python spells them (`seed`, `task_index`); the UserError lists them in
`options`, so that a command line can spell them as its flags (`--seed`). check_bounds lives here, beside
UserError, so that commands which check a number or two need not load every config class.
"""
import math
import re


class UserError(Exception):
    """Bad input or a state of the output folder that the user must resolve.

    `options`: the parameters (one name or several) the message names, each as Python spells it.
    """

    def __init__(self, message="", *, options=()):
        super().__init__(message)
        self.options = (options,) if isinstance(options, str) else tuple(options)

    def __reduce__(self):  # across processes (a pool, Dask), the names travel with the message
        return _rebuilt, (type(self), self.args, self.options)

    def spelled(self, spell):
        """The message with the first mention of each parameter it names written as `spell(name)`."""
        message = str(self)
        for name in self.options:
            message = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", lambda _: spell(name), message, count=1)
        return message


def _rebuilt(kind, args, options):
    error = kind(*args)
    error.options = options
    return error


class RenderIncomplete(Exception):
    """A render stopped before every shard was written (workers lost); the same command resumes it."""


class SearchExhausted(UserError):
    """A category search reached its trial bound before it found every category."""


def check_bounds(name, value, low=None, high=None):
    """One line naming parameter `name` when `value` is not finite or lies outside [low, high]."""
    if isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{name} must be a finite number, not {value}", options=name)
    if low is not None and value < low:
        raise UserError(f"{name} must be at least {_number(low)}, not {_number(value)}", options=name)
    if high is not None and value > high:
        raise UserError(f"{name} must be at most {_number(high)}, not {_number(value)}", options=name)


def _number(value):
    return f"{value:g}" if isinstance(value, float) else str(value)
