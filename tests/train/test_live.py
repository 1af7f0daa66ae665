"""`--data live:...`: the shard pipeline over rendered samples, batch for batch the same as over the shards."""
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from fdsl_gen.pipeline import render_dataset
from fdsl_train.data import live
from fdsl_train.cli import cli
from fdsl_train.data.datasets import create_reader, has_split, resolve
from fdsl_train.data.loader import ShardLoader, ShardStream

PACKAGE = Path(__file__).resolve().parents[2] / "fdsl_train"
RCDB = dict(categories=3, instances=10, size=32, polygons_max=6)
RCDB_QUERY = "rcdb?categories=3&instances=10&size=32&polygons-max=6&samples-per-shard=2&val-fraction=0.4"


def exact(image):
    """The PIL image's pixels as a tensor, untouched: equal tensors mean equal decoded images."""
    return torch.from_numpy(np.array(image))


@pytest.fixture(scope="module")
def rcdb(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live") / "rcdb"
    render_dataset("rcdb", folder, samples_per_shard=2, val_fraction=0.4, **RCDB)
    return folder


def batches(shardset, *, epoch=0, skip=0, rank=0, training=True, workers=2):
    """The batches of a stream over `shardset`, read by its reader: rendered for a live source, else files."""
    stream = ShardStream(shardset, exact, read_shard=create_reader(shardset), batch_size=2, rank=rank, world=2,
                         workers=workers, seed=7, shuffle_buffer=4, training=training)
    return [(images, labels) for images, labels, _ in ShardLoader(stream, workers).epoch(epoch, skip)]


def assert_same_batches(a, b):
    assert len(a) == len(b) > 0
    for (images, labels), (other_images, other_labels) in zip(a, b):
        assert torch.equal(labels, other_labels) and torch.equal(images, other_images)


@pytest.mark.parametrize("epoch, skip, rank", [(0, 0, 0), (1, 0, 1), (1, 1, 0)])
def test_live_batches_equal_the_shard_batches(rcdb, epoch, skip, rank):
    written = resolve(str(rcdb))
    rendered = resolve(f"live:{rcdb}")
    assert isinstance(rendered, live.LiveShardSet) and rendered.sizes == written.sizes
    assert rendered.digest == written.digest and rendered.num_classes == written.num_classes
    assert_same_batches(batches(rendered, epoch=epoch, skip=skip, rank=rank),
                        batches(written, epoch=epoch, skip=skip, rank=rank))


def test_live_validation_reads_like_the_validation_shards(rcdb):
    assert has_split(f"live:{rcdb}", "validation") and not has_split(f"live:{rcdb}", "test")
    assert_same_batches(batches(resolve(f"live:{rcdb}", "validation"), training=False),
                        batches(resolve(str(rcdb), "validation"), training=False))


def test_a_recipe_source_is_the_dataset_fdsl_gen_would_write(rcdb):
    assert_same_batches(batches(resolve(f"live:{RCDB_QUERY}"), epoch=1),
                        batches(resolve(str(rcdb)), epoch=1))


def test_fresh_epochs_keep_the_order_and_change_the_instances(rcdb):
    fresh = live.fresh(resolve(f"live:{rcdb}"))
    written = resolve(str(rcdb))
    assert fresh.digest == ""  # no longer the data of the checksummed shards
    assert_same_batches(batches(fresh, workers=1), batches(written, workers=1))
    new = batches(fresh, epoch=1, workers=1)
    old = batches(written, epoch=1, workers=1)
    assert [labels.tolist() for _, labels in new] == [labels.tolist() for _, labels in old]
    assert all(not torch.equal(a, b) for (a, _), (b, _) in zip(new, old))


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_pretrain_on_a_live_recipe(tmp_path, fast_args, log_records):
    out = tmp_path / "run"
    result = invoke("pretrain", "--data", f"live:{RCDB_QUERY}", "--output", out, *fast_args, "--epochs", "2",
                    "--fresh-epochs")
    assert result.exit_code == 0, result.output
    assert "on 18 samples, 3 classes, loss ce" in result.output
    assert [e["batches"] for e in log_records(out, "epoch")] == [2, 2]
    assert all("top1" in e for e in log_records(out, "epoch"))  # the live validation split
    assert json.loads((out / "run.json").read_text())["options"]["fresh_epochs"] is True


def test_a_live_1p_frac_trains_with_lpce(tmp_path, fast_args):
    out = tmp_path / "run"
    result = invoke("pretrain", "--data", "live:1p-frac?classes=3&instances=4&size=32&points=800", "--output", out,
                    *fast_args, "--epochs", "1")
    assert result.exit_code == 0, result.output
    assert "3 classes, loss lpce" in result.output
    assert json.loads((out / "run.json").read_text())["preset"]["loss"] == "lpce"


def one_line_error(result):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize("query", ["size=8", "noise=wavy", "gray-min=9&gray-max=3"])
def test_bad_live_options_fail_as_fdsl_gen_render_fails(query, tmp_path, fast_args):
    """One refusal: fdsl-train names the query's parameter (`size`), fdsl-gen its flag (`--size`)."""
    from fdsl_gen.cli import main
    from fdsl_gen.errors import UserError
    from fdsl_gen.live import open_live
    from fdsl_gen.options import flag

    flags = [word for pair in query.split("&") for word in ("--" + pair.split("=")[0], pair.split("=")[1])]
    gen = CliRunner().invoke(main, ["render", "rcdb", *flags, "--out", str(tmp_path / "g")], prog_name="fdsl-gen")
    train = invoke("pretrain", "--data", f"live:rcdb?{query}", "--output", tmp_path / "run", *fast_args)
    with pytest.raises(UserError) as refused:
        open_live(f"live:rcdb?{query}")
    assert one_line_error(train).removeprefix("fdsl-train: error: ") == str(refused.value)
    assert one_line_error(gen).removeprefix("fdsl-gen: error: ") == refused.value.spelled(flag)
    assert not (tmp_path / "run").exists()  # refused before training starts


def test_a_newer_manifest_and_fresh_epochs_on_shards_are_refused(rcdb, tmp_path, fast_args):
    newer = tmp_path / "newer"
    newer.mkdir()
    manifest = json.loads((rcdb / "manifest.json").read_text())
    (newer / "manifest.json").write_text(json.dumps(dict(manifest, format_version=3)))
    line = one_line_error(invoke("pretrain", "--data", f"live:{newer}", "--output", tmp_path / "a", *fast_args))
    assert "format_version 3 is newer than this fdsl" in line
    line = one_line_error(invoke("pretrain", "--data", rcdb, "--fresh-epochs", "--output", tmp_path / "b",
                                 *fast_args))
    assert "--fresh-epochs" in line and "live" in line


def readme_commands():
    """The command lines of the bash block in the README's section "Shards or live?"."""
    readme = (PACKAGE.parent / "README.md").read_text()
    section = re.split(r"\n## ", readme.split("## Shards or live?", 1)[1], maxsplit=1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [shlex.split(line) for line in block.splitlines()]


def test_readme_shards_or_live_commands_run_verbatim(tmp_path, monkeypatch, log_records):
    from fdsl_gen.cli import main

    monkeypatch.chdir(tmp_path)
    commands = readme_commands()
    assert [words[:2] for words in commands] == [["fdsl-gen", "render"]] + [["fdsl-train", "pretrain"]] * 3
    for words in commands:
        result = CliRunner().invoke(main if words[0] == "fdsl-gen" else cli, words[1:])
        assert result.exit_code == 0, (words, result.output)
    losses = {run: log_records(tmp_path / "runs" / run, "epoch")[0]["loss"] for run in ("shards", "live", "fresh")}
    assert losses["live"] == losses["shards"]  # the same samples, batch for batch, and the same seeds
    assert json.loads((tmp_path / "runs/fresh/run.json").read_text())["options"]["fresh_epochs"] is True


def test_mid_epoch_resume_of_a_fresh_live_run_matches_an_uninterrupted_run(tmp_path, fast_args):
    from safetensors.torch import load_file

    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    args = [*fast_args, "-j", "2", "--data", f"live:{RCDB_QUERY}", "--fresh-epochs"]
    assert invoke("pretrain", *args, "--output", straight).exit_code == 0
    result = invoke("pretrain", *args, "--output", stopped, "--stop-after-steps", "3")
    assert "stopped at step 3 (epoch 1, batch 1)" in result.output  # inside the first fresh epoch
    refused = invoke("pretrain", *args[:-1], "--output", stopped, "--resume", stopped)
    assert "mid-epoch resume needs" in one_line_error(refused)  # not the same samples without the flag
    assert invoke("pretrain", *args, "--output", stopped, "--resume", stopped).exit_code == 0
    a, b = load_file(str(straight / "model.safetensors")), load_file(str(stopped / "model.safetensors"))
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)
