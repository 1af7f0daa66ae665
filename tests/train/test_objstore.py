"""Training straight from an S3 prefix (moto's server, see tests/conftest.py)."""
import torchvision.transforms.functional as F
from click.testing import CliRunner

from fdsl_train.cli import cli
from fdsl_train.data.loader import ShardStream
from fdsl_train.data.reading import ShardFiles
from fdsl_train.data.shards import resolve


def upload(s3, folder, prefix):
    for path in sorted(folder.iterdir()):
        s3.put(f"{prefix}/{path.name}", path.read_bytes())
    return f"{s3.url}/{prefix}/"


def stream(shardset):
    return ShardStream(shardset, F.to_tensor, read_shard=ShardFiles(shardset), batch_size=8, training=False)


def labels(stream):
    return [int(y) for _, batch, _ in stream for y in batch]


def test_s3_prefix_streams_the_same_samples_as_the_folder(s3, shard_dir):
    url = upload(s3, shard_dir, "toy")
    remote, local = resolve(url), resolve(str(shard_dir))
    assert remote.sizes == local.sizes and remote.digests == local.digests
    assert remote.urls[0] == f"{s3.url}/toy/toy-train-000000.tar"
    streamed = labels(stream(remote))
    assert streamed == labels(stream(local))
    assert len(streamed) == 83


def test_pretrain_two_epochs_from_s3_fetches_each_shard_once(s3, shard_dir, tmp_path, fast_args, log_records):
    url = upload(s3, shard_dir, "toy")
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["pretrain", "--data", url, "--cache-dir", str(tmp_path / "cache"),
                                      "--output", str(out), *fast_args])
    assert result.exit_code == 0, result.output
    epochs = log_records(out, "epoch")
    assert [e["batches"] for e in epochs] == [83 // 8] * 2
    assert all(0 <= e["top1"] <= 100 and e["val_skipped"] == 0 for e in epochs)  # the prefix's val split
    gets = {path: n for (method, path), n in s3.requests.counts.items() if method == "GET" and path.endswith(".tar")}
    assert len(gets) == 5 + 2 and set(gets.values()) == {1}


def test_a_corrupted_object_is_named_and_counted(s3, shard_dir, tmp_path, fast_args, log_records):
    url = upload(s3, shard_dir, "toy")
    key = "toy/toy-train-000002.tar"
    data = bytearray(s3.get(key))
    data[3000] ^= 1
    s3.put(key, bytes(data))
    out = tmp_path / "run"
    args = ["pretrain", "--data", url, "--cache-dir", str(tmp_path / "cache"), *fast_args]
    result = CliRunner().invoke(cli, [*args, "--output", str(out), "--max-skipped", "25%"])
    assert result.exit_code == 0, result.output
    shard = f"{s3.url}/{key}"
    assert all(e["skipped"] == 20 and e["lost_shards"] == [shard] and e["batches"] == 83 // 8
               for e in log_records(out, "epoch"))
    stopped = CliRunner().invoke(cli, [*args, "--output", str(tmp_path / "stopped")])
    assert stopped.exit_code == 2
    assert f"shard {shard} lost 20 samples" in stopped.stderr and "does not match the manifest" in stopped.stderr


def test_a_missing_bucket_is_one_line(s3, tmp_path, fast_args):
    result = CliRunner().invoke(cli, ["pretrain", "--data", "s3://fdsl-no-such-bucket/toy/",
                                      "--output", str(tmp_path / "run"), *fast_args])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1
    assert lines[0].startswith("fdsl-train: error: cannot read s3://fdsl-no-such-bucket/toy/manifest.json")

