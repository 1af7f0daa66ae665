import functools
import http.server
import threading

import pytest

from fdsl_train.errors import UserError
from fdsl_train.data.loader import ShardStream
from fdsl_train.data.reading import ShardFiles
from fdsl_train.data.shards import count_samples, has_split, resolve


def test_dataset_folder_reads_the_manifest(shard_dir):
    shardset = resolve(str(shard_dir))
    assert shardset.sizes == (20, 20, 20, 15, 8)
    assert shardset.num_classes == 4 and shardset.loss == "ce"
    assert shardset.urls[0] == f"{shard_dir}/toy-train-000000.tar"
    assert resolve(str(shard_dir / "manifest.json")).urls == shardset.urls
    assert resolve(str(shard_dir), split="val").sizes == (16, 8)


def test_timm_info_serves_when_there_is_no_manifest(shard_dir):
    (shard_dir / "manifest.json").unlink()
    shardset = resolve(str(shard_dir))
    assert shardset.sizes == (20, 20, 20, 15, 8) and shardset.num_classes == 4


def test_brace_list_takes_counts_from_the_sibling_manifest(shard_dir):
    shardset = resolve(f"{shard_dir}/toy-train-{{000001..000003}}.tar")
    assert shardset.sizes == (20, 20, 15) and shardset.num_classes == 4


def test_a_shard_list_longer_than_a_path_may_be_is_read_as_a_list(shard_dir):
    one = f"{shard_dir}/toy-train-000004.tar"
    shardset = resolve("::".join([one] * (4200 // len(one) + 2)))
    assert len("::".join(shardset.urls)) > 4096 and set(shardset.urls) == {one}
    assert set(shardset.sizes) == {8}


def test_brace_list_without_manifest_counts_tar_members(shard_dir):
    (shard_dir / "manifest.json").unlink()
    shardset = resolve(f"file://{shard_dir}/toy-train-{{000003..000004}}.tar")
    assert shardset.sizes == (15, 8) and shardset.num_classes is None
    assert shardset.urls == (f"{shard_dir}/toy-train-000003.tar", f"{shard_dir}/toy-train-000004.tar")
    assert count_samples(shardset.urls[1]) == 8


def test_pipe_urls_need_a_sample_count(shard_dir):
    spec = f"pipe:cat {shard_dir}/toy-train-{{000000..000001}}.tar"
    with pytest.raises(UserError, match="samples-per-shard"):
        resolve(spec)
    shardset = resolve(spec, samples_per_shard=20)
    assert shardset.urls[1] == f"pipe:cat {shard_dir}/toy-train-000001.tar"
    labels = [int(x) for _, y, _ in ShardStream(shardset, _to_tensor, read_shard=ShardFiles(shardset), batch_size=8, training=False) for x in y]
    assert len(labels) == 40


def _to_tensor(image):
    import torchvision.transforms.functional as F
    return F.to_tensor(image)


@pytest.fixture
def http_root(shard_dir):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(shard_dir.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_dataset_folder_streams(http_root):
    shardset = resolve(f"{http_root}/toy/")
    assert shardset.sizes == (20, 20, 20, 15, 8)
    assert shardset.urls[0] == f"{http_root}/toy/toy-train-000000.tar"
    batches = list(ShardStream(shardset, _to_tensor, read_shard=ShardFiles(shardset), batch_size=16, training=False))
    assert sum(len(labels) for _, labels, _ in batches) == 83
    listed = resolve(f"{http_root}/toy/toy-train-{{000000..000001}}.tar")
    assert listed.sizes == (20, 20)


def test_every_form_of_a_dataset_tells_its_splits(shard_dir, http_root):
    for data in (str(shard_dir), str(shard_dir / "manifest.json"), f"file://{shard_dir}", f"{http_root}/toy/",
                 f"{http_root}/toy/manifest.json"):
        # format 1 names it val; validation finds it too
        assert has_split(data, "val") and has_split(data, "validation") and not has_split(data, "test"), data
    for data in (f"{shard_dir}/toy-train-{{000000..000001}}.tar", f"{http_root}/toy/toy-train-000000.tar"):
        assert not has_split(data, "val"), data  # a shard list has no splits


@pytest.mark.parametrize("spec, message", [
    ("", "empty shard list"),
    (" :: ", "empty shard list"),
    ("/nonexistent/toy-train-{000000..000002}.tar", "missing shard: /nonexistent/toy-train-000000.tar"),
])
def test_bad_lists_are_user_errors(spec, message):
    with pytest.raises(UserError, match=message):
        resolve(spec)


def test_missing_shard_of_a_folder_is_named(shard_dir):
    (shard_dir / "toy-train-000002.tar").unlink()
    with pytest.raises(UserError, match=r"missing shard: .*toy-train-000002.tar \(1 of 5"):
        resolve(str(shard_dir))


def test_unknown_split_and_plain_folder(shard_dir, tmp_path):
    with pytest.raises(UserError, match="no 'test' split"):
        resolve(str(shard_dir), split="test")
    with pytest.raises(UserError, match="not a dataset folder"):
        resolve(str(tmp_path))
