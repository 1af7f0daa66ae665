"""Options from text, by the fields of an options dataclass: one parser for `fdsl-gen` and `live:` queries.

A field made by `configs.option` or `configs.input_path` declares its type, help, choices and bounds.
`parse` turns the text of `--size 64` (the click layer calls it) or of `live:rcdb?size=64` into the value,
checked; `check` holds a value given from Python to the same bounds; `command_words` writes values back
as the words of the `fdsl-gen render` line that gives them. A refusal is one UserError naming the
parameter as Python spells it (`fill_rate`); `flag` is its command-line spelling (`--fill-rate`).
No click here: cli.py builds its options on this module.
"""
import dataclasses

from fdsl_gen.errors import UserError, check_bounds

YES, NO = ("", "1", "true", "yes", "on"), ("0", "false", "no", "off")
_TYPES = {"int": int, "float": float, "bool": bool, "str": str}
_SPELLED = {int: "a whole number", float: "a number"}


def flag(name):
    """The command-line spelling of parameter `name`: fill_rate -> --fill-rate."""
    return "--" + name.replace("_", "-")


def fields(options_class):
    """{name: field} of an options dataclass, in the order its fields are declared."""
    return {field.name: field for field in dataclasses.fields(options_class)}


def kind(field):
    """The type of a field's values: int, float, bool or str."""
    return _TYPES.get(field.type, field.type)


def parse(field, text):
    """The value of `field` that `text` spells, checked against the field's choices and bounds."""
    value = _convert(field, text)
    choices = field.metadata.get("choices")
    if choices and value not in choices:
        listed = ", ".join(repr(str(choice)) for choice in choices)
        raise UserError(f"{field.name}: {text!r} is not one of {listed}", options=field.name)
    check(field, value)
    return value


def _convert(field, text):
    wanted = kind(field)
    if wanted is bool:
        if text.lower() in YES or text.lower() in NO:
            return text.lower() in YES
        raise UserError(f"{field.name} takes true or false, not {text!r}", options=field.name)
    try:
        return wanted(text)
    except ValueError:
        raise UserError(f"{field.name}: {text!r} is not {_SPELLED[wanted]}", options=field.name) from None


def check(field, value):
    """UserError naming the field when a number is not finite or lies outside the field's [low, high]."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        check_bounds(field.name, value, field.metadata.get("low"), field.metadata.get("high"))


def check_values(options_class, values):
    """`check` every value of {name: value} against its field of `options_class`, in field order."""
    for name, field in fields(options_class).items():
        if name in values:
            check(field, values[name])


def command_words(options_class, values, defaults=False):
    """The `--name value` words that give {name: value}, in field order; values at their field's default
    left out unless `defaults`. Numbers are written as their field's type (a float field's 1 as 1.0)."""
    words = []
    for name, field in fields(options_class).items():
        if name not in values:
            continue
        value = values[name]
        if kind(field) in (int, float) and not isinstance(value, bool):
            value = kind(field)(value)
        if value == field.default and not defaults:
            continue
        if isinstance(value, bool):
            words.append(flag(name) if value else "--no-" + flag(name)[2:])
        else:
            words += [flag(name), str(value)]
    return words
