"""A dataset in an object store, read by clients other than fdsl: `fdsl-gen urls`, and the recipes of the card
and of the README for Hugging Face datasets, webdataset and timm, run as printed against the S3 server of the `s3`
fixture."""
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fdsl_gen.card import image_mode
from fdsl_gen.tarformat import iter_samples
from helpers import assert_one_line_error

# 4 classes x 8 images; half of each class's groups of 4 flips go to validation; 6 images a shard
TINY = ("--size", 32, "--points", 2000, "--instances", 8, "--weight-k", 0.1, "--val-fraction", 0.5,
        "--samples-per-shard", 6, "--quiet", "--workers", 1)
REPO = Path(__file__).resolve().parents[2]
# What each kind of recipe loaded, printed as JSON by lines appended to it: every row's pixels (`datasets`),
# samples and classes (webdataset), length and samples read (timm).
CHECKS = {
    "load_dataset": """
import hashlib, json
import numpy as np
def pixels(rows):
    return {r["__key__"]: hashlib.sha256(np.ascontiguousarray(r["png"]).tobytes()).hexdigest() for r in rows}
print(json.dumps({"downloaded": pixels(ds.with_format("numpy")), "streamed": pixels(stream.with_format("numpy"))}))
""",
    "wds.WebDataset": """
import json
samples = list(train)
print(json.dumps({"samples": len(samples), "classes": sorted({int(c) for _, c in samples})}))
""",
    "create_dataset": """
import json
print(json.dumps({"length": len(train), "read": sum(1 for _ in train)}))
""",
}


@pytest.fixture(scope="session")
def local_copy(tmp_path_factory, params_dir, cli):
    out = tmp_path_factory.mktemp("clients") / "fractaldb"
    assert cli("render", "fractaldb", "--params", params_dir, "--out", out, *TINY).exit_code == 0
    return out


@pytest.fixture
def published(s3, cli, local_copy):
    """The URL of a copy of `local_copy` in the test's bucket."""
    url = f"{s3.url}/data/fractaldb"
    result = cli("publish", local_copy, url, "--quiet")
    assert result.exit_code == 0, result.output
    return url


def shards(folder, split):
    return json.loads((folder / "manifest.json").read_text())["splits"][split]["shards"]


def test_urls_names_every_shard_of_a_split(published, local_copy, cli):
    for split in ("train", "validation"):
        result = cli("urls", published, "--split", split)
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == [f"{published}/{s['file']}" for s in shards(local_copy, split)]
    result = cli("urls", local_copy)  # a folder's shards by path
    assert result.stdout.splitlines() == [f"{local_copy}/{s['file']}" for s in shards(local_copy, "train")]


def test_signed_urls_read_the_shards_over_https(published, local_copy, cli, monkeypatch):
    result = cli("urls", published, "--split", "validation", "--presign", 60)
    assert result.exit_code == 0, result.output
    urls = result.stdout.splitlines()
    expected = shards(local_copy, "validation")
    assert len(urls) == len(expected) and all(url.startswith("http") for url in urls)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)  # urllib sends no credentials anyway: the signature is all it has
    for url, shard in zip(urls, expected):
        with urllib.request.urlopen(url, timeout=30) as response:
            assert hashlib.sha256(response.read()).hexdigest() == shard["sha256"]


@pytest.mark.parametrize("where, options, words", [
    ("folder", ("--presign", 60), "--presign signs the URLs of an object store"),
    ("s3", ("--split", "test"), "has no 'test' split (it has: train, validation)"),
    ("s3", ("--presign", 0), "'--presign': 0 is not in the range 1<=x<=604800"),
    ("empty", (), "holds no manifest.json"),
])
def test_urls_refuses_in_one_line(s3, cli, local_copy, published, where, options, words):
    location = {"folder": local_copy, "s3": published, "empty": f"{s3.url}/nothing"}[where]
    assert_one_line_error(cli("urls", location, *options), words)


def section_blocks(text, heading):
    """[(language, code)] of the fenced blocks under `heading` (a Markdown heading line), up to the next heading."""
    section = re.split(r"^##+ ", text.split(f"\n{heading}\n", 1)[1], maxsplit=1, flags=re.M)[0]
    return re.findall(r"^```(\w*)\n(.*?)^```$", section, re.M | re.S)


def run_recipes(blocks, folder, tmp_path, env=()):
    """Run shell blocks with bash and Python blocks in a fresh interpreter, as printed, inside `folder`, each
    Python block followed by its CHECKS; {check name: the JSON it printed}."""
    # not offline: datasets' offline mode refuses every remote file, s3:// and https alike
    env = dict(os.environ, HF_HOME=str(tmp_path / "hf-home"), HF_HUB_OFFLINE="0", HF_DATASETS_OFFLINE="0", **dict(env),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    got = {}
    for language, code in blocks:
        if language in ("sh", "bash"):
            result = subprocess.run(["bash", "-e", "-c", code], cwd=folder, env=env, capture_output=True, text=True,
                                    timeout=120)
            assert result.returncode == 0, result.stderr[-3000:]
            continue
        assert language == "python"
        check, = [name for name in CHECKS if name in code]
        result = subprocess.run([sys.executable, "-c", code + CHECKS[check]], cwd=folder, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        got[check] = json.loads(result.stdout.strip().splitlines()[-1])
    return got


def expected_reads(folder, mode, split="train"):
    """What every recipe must have read of a split: its samples, classes, and each image's pixels as PIL gives
    them in `mode` (sha256 of the array, by sample key)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    pixels, classes = {}, set()
    for shard in manifest["splits"][split]["shards"]:
        for key, fields in iter_samples(folder / shard["file"]):
            image = np.asarray(Image.open(io.BytesIO(fields["png"])).convert(mode))
            pixels[key] = hashlib.sha256(image.tobytes()).hexdigest()
            classes.add(int(fields["cls"]))
    return len(pixels), sorted(classes), pixels


def assert_read_whole(got, folder, mode):
    count, classes, pixels = expected_reads(folder, mode)
    assert got["load_dataset"] == {"downloaded": pixels, "streamed": pixels}
    assert got["wds.WebDataset"] == {"samples": count, "classes": classes}
    assert got["create_dataset"] == {"length": count, "read": count}


def test_card_recipes_read_a_published_copy(published, local_copy, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    blocks = section_blocks((local_copy / "README.md").read_text(), "## Read from an object store")
    got = run_recipes(blocks, work, tmp_path, env={"DATA": published})
    assert sorted(got) == sorted(CHECKS)
    assert sorted(p.name for p in work.iterdir()) == ["train-urls.txt", "validation-urls.txt"]
    assert_read_whole(got, local_copy, image_mode(json.loads((local_copy / "manifest.json").read_text())))


def test_readme_recipes_read_the_published_copy(s3, cli, small_dataset, tmp_path, monkeypatch):
    """After the README's own publish command (tests/gen/test_objstore.py runs that section)."""
    s3.client.create_bucket(Bucket="my-bucket")
    for key in s3.client.list_objects_v2(Bucket="my-bucket", Prefix="fractaldb-published/").get("Contents", []):
        s3.client.delete_object(Bucket="my-bucket", Key=key["Key"])
    assert cli("publish", small_dataset, "s3://my-bucket/fractaldb-published", "--quiet").exit_code == 0
    blocks = section_blocks((REPO / "README.md").read_text(), "### Other clients on an object store")
    assert_read_whole(run_recipes(blocks, tmp_path, tmp_path), small_dataset, "L")  # as the README casts it
