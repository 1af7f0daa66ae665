"""fdsl_gen.options: text to values by the fields of an options dataclass, and values back to words."""
import dataclasses

import pytest

from fdsl_gen.configs import DatasetOptions, FractalDBConfig, RCDBConfig
from fdsl_gen.errors import UserError
from fdsl_gen.options import command_words, fields, flag, parse

RCDB = fields(RCDBConfig)


@pytest.mark.parametrize("name, text, value", [
    ("size", "64", 64),
    ("noise_max", "2.5", 2.5),
    ("noise_max", "1e-3", 0.001),
    ("antialias", "", True),
    ("antialias", "Yes", True),
    ("antialias", "off", False),
    ("noise", "smooth", "smooth"),
])
def test_text_parses_by_the_field_type(name, text, value):
    parsed = parse(RCDB[name], text)
    assert parsed == value and type(parsed) is type(value)


def test_choices_of_whole_numbers_are_numbers():
    assert parse(fields(FractalDBConfig)["flips"], "2") == 2
    with pytest.raises(UserError, match=r"^flips: '5' is not one of '1', '2', '3', '4'$"):
        parse(fields(FractalDBConfig)["flips"], "5")


@pytest.mark.parametrize("name, text, message", [
    ("size", "1e3", "size: '1e3' is not a whole number"),
    ("size", "8", "size must be at least 16, not 8"),
    ("noise_max", "inf", "noise_max must be a finite number, not inf"),
    ("noise_max", "nan", "noise_max must be a finite number, not nan"),
    ("noise_max", "much", "noise_max: 'much' is not a number"),
    ("antialias", "maybe", "antialias takes true or false, not 'maybe'"),
    ("noise", "wavy", "noise: 'wavy' is not one of 'independent', 'smooth'"),
])
def test_a_refusal_is_one_line_naming_the_parameter(name, text, message):
    with pytest.raises(UserError) as refused:
        parse(RCDB[name], text)
    assert str(refused.value) == message and refused.value.options == (name,)
    assert refused.value.spelled(flag) == message.replace(name, flag(name), 1)


def test_dataset_options_are_bounded():
    seed = fields(DatasetOptions)["seed"]
    assert parse(seed, str(2**63 - 1)) == 2**63 - 1
    with pytest.raises(UserError, match="seed must be at most"):
        parse(seed, str(2**63))


def test_command_words_give_the_values_back():
    values = {"polygons_max": 10, "size": 64, "antialias": True, "noise_max": 3, "noise": "independent"}
    words = command_words(RCDBConfig, values)
    assert words == ["--size", "64", "--antialias", "--noise-max", "3.0", "--polygons-max", "10"]
    assert parse(RCDB["noise_max"], words[words.index("--noise-max") + 1]) == 3.0
    assert command_words(RCDBConfig, {"antialias": False, "size": 512}) == []
    assert command_words(RCDBConfig, {"size": 512}, defaults=True) == ["--size", "512"]
    assert command_words(FractalDBConfig, {"search": False}, defaults=True) == ["--no-search"]


def test_every_field_of_every_config_parses_its_default():
    from fdsl_gen import registry
    classes = {entry.config for kind in ("recipe", "search") for entry in registry.entries(kind).values()}
    for config in (*classes, DatasetOptions):
        for field in dataclasses.fields(config):
            if field.default is not None:
                assert parse(field, str(field.default).lower() if field.type is bool else str(field.default)) \
                    == field.default, (config.__name__, field.name)


def test_every_config_is_where_the_configs_package_says():
    import importlib

    from fdsl_gen import configs, registry
    for name, home in configs.HOMES.items():
        module = importlib.import_module(f"fdsl_gen.configs.{home}")
        assert getattr(configs, name) is vars(module)[name]
        assert vars(module)[name].__module__ == module.__name__
    named = {entry.config_name for kind in ("recipe", "search") for entry in registry.entries(kind).values()}
    assert named <= set(configs.HOMES)
