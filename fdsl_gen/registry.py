"""Recipes and searches by name: a new formula family is one file and a decorator."""
from fdsl_gen.errors import UserError

RECIPES = {}
SEARCHES = {}


def register_recipe(name):
    def add(cls):
        cls.name = name
        RECIPES[name] = cls
        return cls
    return add


def register_search(name):
    def add(cls):
        cls.name = name
        SEARCHES[name] = cls
        return cls
    return add


def lookup(table, name, what):
    if name not in table:
        known = ", ".join(sorted(table)) or "none"
        raise UserError(f"unknown {what} {name!r} (known: {known})")
    return table[name]
