"""The dataset folder as written loads in Hugging Face datasets, webdataset and timm.

The card's own code blocks are run as printed, from inside the folder, in a
fresh interpreter with the Hub offline; a few lines the test appends print
what they loaded.
"""
import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from fdsl_gen.cli import main
from fdsl_gen.lifecycle import dataset_files
from fdsl_gen.tarformat import iter_samples

# 4 classes x 8 images in groups of 4 flips; half the groups of each class go to validation
TINY = ("--size", 32, "--points", 2000, "--instances", 8, "--weight-k", 0.1, "--val-fraction", 0.5,
        "--samples-per-shard", 6, "--quiet", "--workers", 1)


@pytest.fixture(scope="session")
def hub_dataset(tmp_path_factory, params_dir):
    out = tmp_path_factory.mktemp("hub") / "fractaldb"
    result = CliRunner().invoke(main, [str(a) for a in ("render", "fractaldb", "--params", params_dir, "--out", out, *TINY)])
    assert result.exit_code == 0, result.output
    return out


def card_blocks(folder):
    """{section heading: [(language, code)]} of the card's fenced code blocks."""
    blocks, section = {}, None
    text = (folder / "README.md").read_text()
    for match in re.finditer(r"^## ([^\n]+)$|^```(\w*)\n(.*?)^```$", text, re.M | re.S):
        if match.group(1):
            section = match.group(1).strip()
        else:
            blocks.setdefault(section, []).append((match.group(2), match.group(3)))
    return blocks


def run_python(code, folder, tmp_path, **variables):
    """Run `code` in a fresh interpreter inside `folder`, offline, with the environment `variables` added; the
    JSON it prints last."""
    env = dict(os.environ, **variables, HF_HOME=str(tmp_path / "hf-home"), HF_DATASETS_OFFLINE="1",
               HF_HUB_OFFLINE="1",
               PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                           os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def tar_jsons(folder):
    """{key: json} of every sample of every shard."""
    return {key: json.loads(fields["json"]) for tar in sorted(folder.glob("*.tar")) for key, fields in iter_samples(tar)}


def test_card_loads_with_hugging_face_datasets(hub_dataset, tmp_path, cli):
    (language, code), = [b for b in card_blocks(hub_dataset)["Load"] if "load_dataset" in b[1]]
    assert language == "python"
    check = """
import json as j
row = ds["validation"][0]
print(j.dumps({"rows": {k: ds[k].num_rows for k in ds}, "names": ds["train"].features["cls"].names,
               "png": type(ds["train"].features["png"]).__name__, "size": list(row["png"].size),
               "key": row["__key__"], "cls": row["cls"], "json": row["json"],
               "stream": {"key": next(iter(stream))["__key__"], "json": next(iter(stream))["json"]}}))
"""
    got = run_python(code + check, hub_dataset, tmp_path)
    manifest = json.loads((hub_dataset / "manifest.json").read_text())
    jsons = tar_jsons(hub_dataset)
    assert got["rows"] == {"train": 16, "validation": 16}
    assert got["names"] == manifest["class_names"] == [f"fractaldb-{k:05d}" for k in range(4)]
    assert got["png"] == "Image" and got["size"] == [32, 32]
    assert got["json"] == jsons[got["key"]] and got["cls"] == got["json"]["cls"]
    assert got["stream"]["json"] == jsons[got["stream"]["key"]]
    assert isinstance(got["json"]["seed"], str) and int(got["json"]["seed"]) >= 0
    assert cli("verify", hub_dataset).exit_code == 0  # loading left nothing in the folder


def test_card_loads_with_webdataset_and_timm(hub_dataset, tmp_path, cli):
    load = card_blocks(hub_dataset)["Load"]
    wds_code, = [code for _, code in load if "import webdataset" in code]
    got = run_python(wds_code + """
import json
samples = list(train)
print(json.dumps({"n": len(samples), "mode": samples[0][0].mode, "cls": sorted({int(c) for _, c in samples})}))
""", hub_dataset, tmp_path)
    assert got == {"n": 16, "mode": "RGB", "cls": [0, 1, 2, 3]}
    timm_code, = [code for _, code in load if "from timm" in code]
    assert 'split="validation"' in timm_code  # timm's default evaluation split name
    got = run_python(timm_code + """
import json
image, label = next(iter(validation))
print(json.dumps({"train": len(train), "validation": len(validation), "label": int(label), "size": list(image.size),
                  "hfds": len(hfds_train), "hfds_labels": sorted({int(hfds_train[i][1]) for i in range(len(hfds_train))})}))
""", hub_dataset, tmp_path)
    assert got["train"] == got["validation"] == got["hfds"] == 16
    assert 0 <= got["label"] < 4 and got["size"] == [32, 32] and got["hfds_labels"] == [0, 1, 2, 3]
    assert cli("verify", hub_dataset).exit_code == 0


def test_card_loads_with_wids(hub_dataset, tmp_path):
    """wids reads each split's `<split>.wids.json` (shard URLs relative to the index) as the card prints it."""
    code, = [code for _, code in card_blocks(hub_dataset)["Load"] if "import wids" in code]
    assert "`train.wids.json`, `validation.wids.json`" in (hub_dataset / "README.md").read_text()
    got = run_python(code + """
import json
validation = wids.ShardListDataset("validation.wids.json")
keys = [split[i]["__key__"] for split in (train, validation) for i in range(len(split))]
print(json.dumps({"sizes": [len(train), len(validation)], "mode": image.mode, "label": label, "keys": keys,
                  "pixels": image.tobytes().hex()}))
""", hub_dataset, tmp_path, WIDS_CACHE=str(tmp_path / "wids-cache"))
    tars = {key: fields for tar in sorted(hub_dataset.glob("*.tar")) for key, fields in iter_samples(tar)}
    assert got["sizes"] == [16, 16] and got["keys"] == list(tars)  # train then validation, in shard order
    first = tars[got["keys"][0]]
    assert got["label"] == int(first["cls"])
    assert got["mode"] == "L" and got["pixels"] == Image.open(io.BytesIO(first["png"])).convert("L").tobytes().hex()


def test_default_data_file_patterns_skip_the_render_state(hub_dataset, tmp_path):
    """Without the card's configs, datasets' own split patterns must not pick up the render state; they match
    the wids indexes too, which the loader drops where the shards outnumber them (keep the card)."""
    import shutil

    from datasets import load_dataset
    from datasets.data_files import DataFilesDict, get_data_patterns
    records = [p.name for p in (hub_dataset / ".render").iterdir()]
    assert "fractaldb-train-000000.tar.json" in records and "fractaldb-train-000000.tar.lock" in records
    found = DataFilesDict.from_patterns(get_data_patterns(str(hub_dataset)), base_path=str(hub_dataset))
    assert {split: sorted(Path(f).name for f in files) for split, files in found.items()} == {
        "train": [f"fractaldb-train-{i:06d}.tar" for i in range(3)] + ["train.wids.json"],
        "validation": [f"fractaldb-validation-{i:06d}.tar" for i in range(3)] + ["validation.wids.json"]}
    bare = tmp_path / "bare"
    shutil.copytree(hub_dataset, bare, ignore=shutil.ignore_patterns("README.md"))
    ds = load_dataset(str(bare), cache_dir=str(tmp_path / "cache"))
    assert {split: ds[split].num_rows for split in ds} == {"train": 16, "validation": 16}


def test_card_front_matter_declares_configs_and_dataset_info(hub_dataset):
    import yaml
    from datasets import DatasetInfo, Features
    card = (hub_dataset / "README.md").read_text()
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": "fractaldb-train-*.tar"},
        {"split": "validation", "path": "fractaldb-validation-*.tar"}]}]
    info = DatasetInfo._from_yaml_dict(meta["dataset_info"])
    manifest = json.loads((hub_dataset / "manifest.json").read_text())
    assert isinstance(info.features, Features) and info.features["cls"].names == manifest["class_names"]
    assert {s: (info.splits[s].num_examples, info.splits[s].num_bytes) for s in info.splits} == {
        s: (i["num_samples"], sum(x["bytes"] for x in i["shards"])) for s, i in manifest["splits"].items()}


def test_keys_are_unique_across_splits_and_free_of_dots(hub_dataset):
    keys = {split: [k for tar in sorted(hub_dataset.glob(f"*-{split}-*.tar")) for k, _ in iter_samples(tar)]
            for split in ("train", "validation")}
    every = keys["train"] + keys["validation"]
    assert len(set(every)) == len(every) == 32 and not any("." in k for k in every)
    assert sorted(keys["validation"]) == [f"{i:09d}" for i in range(16, 32)]


def test_reproduce_command_of_the_card_gives_the_same_files(hub_dataset, tmp_path, monkeypatch, cli):
    (_, code), = card_blocks(hub_dataset)["Reproduce"]
    words = shlex.split(code)
    assert words[0] == "fdsl-gen" and words[-2:] == ["--out", "fractaldb"]
    assert str(hub_dataset) not in code
    monkeypatch.chdir(tmp_path)
    assert cli(*words[1:]).exit_code == 0
    assert (tmp_path / "fractaldb" / "SHA256SUMS").read_text() == (hub_dataset / "SHA256SUMS").read_text()


def test_checksums_cover_every_file(hub_dataset, cli, monkeypatch):
    import hashlib
    card = (hub_dataset / "README.md").read_text()
    assert "`sha256sum -c SHA256SUMS` or `fdsl-gen verify .`" in card
    monkeypatch.chdir(hub_dataset)
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], timeout=60).returncode == 0
    assert cli("verify", ".").exit_code == 0
    listed = dict(reversed(line.split("  ", 1)) for line in (hub_dataset / "SHA256SUMS").read_text().splitlines())
    on_disk = [p.relative_to(hub_dataset).as_posix() for p in hub_dataset.rglob("*")
               if p.is_file() and ".render" not in p.parts and p.name != "SHA256SUMS"]
    assert sorted(listed) == sorted(on_disk) == dataset_files(hub_dataset)
    assert {"manifest.json", "README.md", "_info.json", "preview.png", "params/weights.csv", "train.wids.json",
            "validation.wids.json"} <= set(listed)
    assert all(hashlib.sha256((hub_dataset / f).read_bytes()).hexdigest() == d for f, d in listed.items())


@pytest.mark.parametrize("change, words", [
    (lambda d: (d / "README.md").write_text((d / "README.md").read_text() + "\n"), "README.md: sha256 does not match"),
    (lambda d: (d / "params" / "00001.csv").unlink(), "params/00001.csv: missing"),
    (lambda d: (d / "notes.txt").write_text("x"), "notes.txt: not listed in SHA256SUMS"),
])
def test_verify_checks_every_file_against_sha256sums(hub_dataset, tmp_path, cli, change, words):
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(hub_dataset, copy)
    change(copy)
    result = cli("verify", copy)
    assert result.exit_code == 1 and words in result.stderr


def test_verify_reads_a_format_1_folder(hub_dataset, tmp_path, cli):
    """Format 1: SHA256SUMS lists the shards only, no class names."""
    import shutil
    from fdsl_gen.lifecycle import timm_info
    copy = tmp_path / "v1"
    shutil.copytree(hub_dataset, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["format_version"] = 1
    del manifest["class_names"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    (copy / "_info.json").write_text(json.dumps(timm_info(manifest)))
    shards = [s for info in manifest["splits"].values() for s in info["shards"]]
    (copy / "SHA256SUMS").write_text("".join(f"{s['sha256']}  {s['file']}\n" for s in shards))
    assert cli("verify", copy).exit_code == 0
    (copy / "SHA256SUMS").write_text("".join(f"{s['sha256']}  {s['file']}\n" for s in shards[1:]))
    result = cli("verify", copy)
    assert result.exit_code == 1 and "SHA256SUMS: missing or does not match the manifest" in result.stderr
