"""Exceptions the CLI prints as one line: UserError (bad input, exit 2), RenderIncomplete (exit 1).

check_bounds lives here, beside UserError, so that commands which check a number or two need not load
every config class.
"""
import math


class UserError(Exception):
    """Bad input or a state of the output folder that the user must resolve."""


class RenderIncomplete(Exception):
    """A render stopped before every shard was written (workers lost); the same command resumes it."""


class SearchExhausted(UserError):
    """A category search reached its trial bound before it found every category."""


def check_bounds(flag, value, low=None, high=None):
    """One line naming `flag` when `value` is not finite or lies outside [low, high]."""
    if isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{flag} must be a finite number, not {value}")
    if low is not None and value < low:
        raise UserError(f"{flag} must be at least {_number(low)}, not {_number(value)}")
    if high is not None and value > high:
        raise UserError(f"{flag} must be at most {_number(high)}, not {_number(value)}")


def _number(value):
    return f"{value:g}" if isinstance(value, float) else str(value)
