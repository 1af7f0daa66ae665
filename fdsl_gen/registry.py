"""Recipes and searches by name, and the factories that build them (timm's `create_model` manner).

An entry names its config class in fdsl_gen.configs (the options, light to
import) and the class that renders, as "module:Class"; both are imported
only when asked for: listing the recipes costs no compilation, and a render
makes its own config's dataclass, not every recipe's. The entries
themselves are in fdsl_gen/recipes/__init__.py.
"""
import dataclasses
import importlib

from fdsl_gen import configs
from fdsl_gen.errors import UserError

_TABLES = {"recipe": {}, "search": {}}


@dataclasses.dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    config_name: str  # a class of fdsl_gen.configs
    target: str  # "package.module:Class"

    @property
    def config(self):
        """The config class, its module imported now."""
        return getattr(configs, self.config_name)

    @property
    def summary(self):
        """The first line of the config's docstring: the command's one-line help."""
        return (self.config.__doc__ or self.name).strip().splitlines()[0]

    def load(self):
        """The class, its module imported now."""
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)


def register(kind, name, config_name, target):
    """List a recipe or search (`kind`) as `name`, with the name of its config class in fdsl_gen.configs
    and its "module:Class" target."""
    if name in _TABLES[kind]:
        raise ValueError(f"{kind} {name!r} is registered twice")
    _TABLES[kind][name] = Entry(kind, name, config_name, target)


def entries(kind):
    """{name: Entry} of every registered recipe or search."""
    import fdsl_gen.recipes  # noqa: F401  (the table of entries; imports no kernel)
    return _TABLES[kind]


def lookup(kind, name):
    """The entry registered as `name`; a user error naming the known ones otherwise."""
    table = entries(kind)
    if name not in table:
        raise UserError(f"unknown {kind} {name!r} (known: {', '.join(sorted(table)) or 'none'})")
    return table[name]


def list_recipes():
    return sorted(entries("recipe"))


def list_searches():
    return sorted(entries("search"))


def build_config(config_class, options):
    """`config_class(**options)`, unknown names a user error, numbers cast to the field's type."""
    fields = {field.name: field for field in dataclasses.fields(config_class)}
    unknown = sorted(set(options) - set(fields))
    if unknown:
        raise UserError(f"unknown option(s) {', '.join(unknown)} (known: {', '.join(fields)})")
    values = {}
    for key, value in options.items():
        default_type = type(fields[key].default)
        values[key] = default_type(value) if default_type in (int, float) else value
    return config_class(**values)


def create_recipe(name, *, seed=1, progress=None, threads=1, **options):
    """The recipe `name` built from config `options` (defaults for the rest) on `threads` threads."""
    entry = lookup("recipe", name)
    return entry.load()(build_config(entry.config, options), seed, progress=progress, threads=threads)


def create_search(name, *, seed=1, **options):
    entry = lookup("search", name)
    return entry.load()(build_config(entry.config, options), seed)
