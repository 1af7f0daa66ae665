"""Recipes and searches by name, and the factories that build them (timm's `create_model` manner)."""
import dataclasses

from fdsl_gen.errors import UserError

RECIPES = {}
SEARCHES = {}
_TABLES = {"recipe": RECIPES, "search": SEARCHES}


def register(kind, name):
    """Class decorator: `@register("recipe", "rcdb")` lists the class under `name`."""
    def add(cls):
        cls.name = name
        _TABLES[kind][name] = cls
        return cls
    return add


def register_recipe(name):
    return register("recipe", name)


def register_search(name):
    return register("search", name)


def lookup(kind, name):
    """The class registered as `name`; a user error naming the known ones otherwise."""
    import fdsl_gen.recipes  # noqa: F401  (fills the tables)
    table = _TABLES[kind]
    if name not in table:
        known = ", ".join(sorted(table)) or "none"
        raise UserError(f"unknown {kind} {name!r} (known: {known})")
    return table[name]


def list_recipes():
    import fdsl_gen.recipes  # noqa: F401  (fills the tables)
    return sorted(RECIPES)


def list_searches():
    import fdsl_gen.recipes  # noqa: F401  (fills the tables)
    return sorted(SEARCHES)


def recipe_config(name):
    """The config dataclass of recipe `name`: its fields are the recipe's options."""
    return lookup("recipe", name).Config


def search_config(name):
    return lookup("search", name).Config


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


def create_recipe(name, *, seed=1, progress=None, **options):
    """The recipe `name` built from config `options` (defaults for the rest)."""
    cls = lookup("recipe", name)
    return cls(build_config(cls.Config, options), seed, progress=progress)


def create_search(name, *, seed=1, **options):
    cls = lookup("search", name)
    return cls(build_config(cls.Config, options), seed)
