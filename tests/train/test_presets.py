"""Every preset field against docs/recipes.md, which gives each field's value and the official source of it."""
import ast
import hashlib
import json
import re
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from fdsl_train.errors import UserError
from fdsl_train.presets import PRESETS, Preset, resolve

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "docs" / "recipes.md"
sys.path.insert(0, str(ROOT / "bench" / "official"))
import pins  # noqa: E402

CITATION = re.compile(r"^(\S+) (\S+?):(\d+)")  # "cvpr2022 pretrain.py:149 (...)": pinned repository, file, line
# {citation: sha256 of the cited line, stripped}, read off the pinned checkouts: CI has none of them
CITED = Path(__file__).with_name("cited_lines.json")


def documented() -> dict:
    """{preset: {field: (value, source)}} from the tables under each '## `name`' heading."""
    tables, current = {}, None
    for line in RECIPES.read_text().splitlines():
        heading = re.fullmatch(r"## `([^`]+)`", line)
        if heading:
            current = tables.setdefault(heading.group(1), {})
            continue
        row = re.fullmatch(r"\| (\w+) \| `([^`]*)` \| (.+) \|", line)
        if current is not None and row:
            field, value, source = row.groups()
            assert field not in current, f"{field} twice"
            current[field] = (ast.literal_eval(value), source)
    return tables


def test_every_preset_has_a_table_and_no_table_names_a_missing_preset():
    assert set(documented()) == set(PRESETS)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_field_of_the_preset_is_the_documented_value(name):
    table = documented()[name]
    assert set(table) == {f.name for f in fields(Preset)}
    differing = {f: (getattr(PRESETS[name], f), value) for f, (value, _) in table.items()
                 if getattr(PRESETS[name], f) != value}
    assert not differing, f"preset != docs/recipes.md: {differing}"


def test_the_documented_commits_are_the_pinned_ones():
    text = RECIPES.read_text()
    for key, repo in pins.REPOS.items():
        if key != "catalys1":
            assert f"| {key} | {repo.github} | {repo.commit} |" in text


def citations() -> set:
    """'repository path:line' of every source in docs/recipes.md that cites a pinned repository."""
    found = [CITATION.match(source) for table in documented().values() for _, source in table.values()]
    return {m.group(0) for m in found if m and m.group(1) in pins.REPOS}


def cited_line_digest(citation: str) -> str:
    """sha256 of the cited line, stripped, in the pinned checkout ('' past the end of the file)."""
    key, path, line = CITATION.match(citation).groups()
    lines = (pins.BUILD / key / path).read_text().splitlines()
    return hashlib.sha256(lines[int(line) - 1].strip().encode()).hexdigest() if int(line) <= len(lines) else ""


def test_every_cited_line_was_read_off_the_pinned_checkout():
    """CITED records each citation's line as read off the pinned checkouts; every citation must be in it, and
    where a checkout is built here (bench/official/setup.py) the record must be what the checkout holds."""
    cited, record = citations(), json.loads(CITED.read_text())
    assert len(cited) > 50
    assert set(record) == cited, f"cited but not recorded: {sorted(cited - set(record))}; " \
                                 f"recorded but not cited: {sorted(set(record) - cited)}"
    built = [citation for citation in sorted(cited) if not pins.refusal(citation.split()[0])]
    read = {citation: cited_line_digest(citation) for citation in built}
    assert all(read.values()), f"cited past the end of the file: {[c for c, d in read.items() if not d]}"
    assert read == {citation: record[citation] for citation in built}, \
        "CITED differs from the checkouts; what they hold:\n" + json.dumps(read, indent=1, sort_keys=True)


def test_the_learning_rate_scales_with_the_global_batch_from_its_base():
    assert PRESETS["fractaldb-resnet"].learning_rate(256) == pytest.approx(0.1)
    assert PRESETS["fdsl-vit"].learning_rate(1024) == pytest.approx(4e-3)
    assert PRESETS["1p-frac"].learning_rate(256) == pytest.approx(5e-4)  # 1e-3 x batch / 512


def test_overrides_replace_only_what_is_given():
    r = resolve("1p-frac", {"lr": 0.5, "epochs": None, "model": "resnet18", "data": "ignored"})
    assert (r.lr, r.epochs, r.model) == (0.5, PRESETS["1p-frac"].epochs, "resnet18")
    assert r.learning_rate(4096) == 0.5


def test_unknown_preset_is_a_user_error():
    with pytest.raises(UserError, match="unknown preset 'imagenet'"):
        resolve("imagenet", {})
