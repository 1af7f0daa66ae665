import collections
import functools
import http.server
import json
import threading
from pathlib import Path

import pytest
import torchvision.transforms.functional as F
from click.testing import CliRunner

from fdsl_train.data.cache import cache_path, cached
from fdsl_train.cli import cli
from fdsl_train.data.loader import ShardStream
from fdsl_train.data.reading import ShardFiles
from fdsl_train.data.shards import resolve


class CountingHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.requests[self.path] += 1
        super().do_GET()


@pytest.fixture
def served(shard_dir):
    """(base URL of the toy dataset, request count per path)."""
    handler = functools.partial(CountingHandler, directory=str(shard_dir.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests = collections.Counter()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/toy/", server.requests
    server.shutdown()


def _stream(shardset, cache_dir, **kwargs):
    return ShardStream(shardset, F.to_tensor, read_shard=ShardFiles(shardset, str(cache_dir)), batch_size=8, **kwargs)


def test_each_remote_shard_is_downloaded_once(served, shard_dir, tmp_path):
    base, requests = served
    shardset = resolve(base)
    stream = _stream(shardset, tmp_path / "cache", seed=3)
    for epoch in range(3):
        stream.set_epoch(epoch)
        assert sum(len(labels) for _, labels, _ in stream) == (83 // 8) * 8
    shard_requests = {path: n for path, n in requests.items() if path.endswith(".tar")}
    assert len(shard_requests) == 5 and set(shard_requests.values()) == {1}
    for url, digest in zip(shardset.urls, shardset.digests):
        name = url.rsplit("/", 1)[1]
        assert cache_path(url, str(tmp_path / "cache"), digest).read_bytes() == (shard_dir / name).read_bytes()


def test_a_copy_checked_on_download_is_not_hashed_again_by_the_same_process(served, tmp_path):
    from fdsl_train.data import cache
    base, requests = served
    shardset = resolve(base)
    url, digest = shardset.urls[0], shardset.digests[0]
    path = Path(cached(url, str(tmp_path / "cache"), digest))
    assert cache._version(path) in cache._checked
    assert cached(url, str(tmp_path / "cache"), digest) == str(path)
    assert requests["/toy/toy-train-000000.tar"] == 1


def test_a_shard_published_again_is_downloaded_again(served, shard_dir, tmp_path, make_dataset):
    base, requests = served
    cache = tmp_path / "cache"
    first = resolve(base)
    list(_stream(first, cache, training=False))
    make_dataset(shard_dir, [20, 20, 20, 15, 8], extra_splits={"val": [16, 8]}, seed=9)  # new images, same names
    second = resolve(base)
    assert second.digests != first.digests
    labels = [int(y) for _, batch, _ in _stream(second, cache, training=False) for y in batch]
    assert len(labels) == 83 and requests["/toy/toy-train-000000.tar"] == 2
    copy = cache_path(second.urls[0], str(cache), second.digests[0])
    assert copy.read_bytes() == (shard_dir / "toy-train-000000.tar").read_bytes()


def test_a_download_that_does_not_match_the_manifest_is_skipped(served, shard_dir, tmp_path):
    manifest = json.loads((shard_dir / "manifest.json").read_text())
    manifest["splits"]["train"]["shards"][1]["sha256"] = "0" * 64
    (shard_dir / "manifest.json").write_text(json.dumps(manifest))
    base, _ = served
    shardset = resolve(base)
    batches = list(_stream(shardset, tmp_path / "cache", training=False))
    skipped = [note for _, _, notes in batches for note in notes]
    assert sum(len(labels) for _, labels, _ in batches) == 83 - 20
    assert len(skipped) == 1 and "does not match the manifest" in skipped[0].reason
    assert (skipped[0].url, skipped[0].samples) == (shardset.urls[1], 20)
    left = sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert len(left) == 4 and not any(name.endswith(".part") for name in left)


def test_a_copy_damaged_after_its_download_is_fetched_again(served, shard_dir, tmp_path):
    base, requests = served
    shardset = resolve(base)
    list(_stream(shardset, tmp_path / "cache", training=False))
    copy = cache_path(shardset.urls[0], str(tmp_path / "cache"), shardset.digests[0])
    damaged = bytearray(copy.read_bytes())
    damaged[600] ^= 0xFF
    copy.write_bytes(bytes(damaged))
    batches = list(_stream(shardset, tmp_path / "cache", training=False))
    assert sum(len(labels) for _, labels, _ in batches) == 83
    assert not [note for _, _, notes in batches for note in notes]
    assert requests["/toy/toy-train-000000.tar"] == 2 and requests["/toy/toy-train-000001.tar"] == 1
    assert copy.read_bytes() == (shard_dir / "toy-train-000000.tar").read_bytes()


def test_an_unreachable_shard_is_reported(tmp_path):
    with pytest.raises(OSError):
        cached("http://127.0.0.1:9/toy/toy-train-000000.tar", str(tmp_path))
    assert not any(tmp_path.rglob("*.part"))


def test_local_shards_are_read_in_place(shard_dir, tmp_path):
    path = str(shard_dir / "toy-train-000000.tar")
    assert cached(path, str(tmp_path / "cache")) == path
    assert not (tmp_path / "cache").exists()


def test_pretrain_from_http_with_a_cache(served, tmp_path, fast_args, log_records):
    base, requests = served
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["pretrain", "--data", base, "--output", str(out),
                                      "--cache-dir", str(tmp_path / "cache"), *fast_args])
    assert result.exit_code == 0, result.output + str(result.exception)
    assert all(0 <= e["top1"] <= 100 for e in log_records(out, "epoch"))  # the dataset's val split, over http
    assert len(list((tmp_path / "cache").rglob("*.tar"))) == 5 + 2
    assert max(n for path, n in requests.items() if path.endswith(".tar")) == 1
