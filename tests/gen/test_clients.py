"""A dataset in an object store, read by clients other than fdsl: `fdsl-gen urls` and the card's recipes for
Hugging Face datasets, webdataset and timm, run as printed against the S3 server of the `s3` fixture."""
import hashlib
import json
import urllib.request

import pytest

from helpers import assert_one_line_error

# 4 classes x 8 images; half of each class's groups of 4 flips go to validation; 6 images a shard
TINY = ("--size", 32, "--points", 2000, "--instances", 8, "--weight-k", 0.1, "--val-fraction", 0.5,
        "--samples-per-shard", 6, "--quiet", "--workers", 1)


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
