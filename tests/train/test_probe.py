import json

from click.testing import CliRunner

from fdsl_train.cli import cli


def test_probe_reports_top1_per_layer(shard_dir, image_folder, tmp_path, fast_args):
    pre, out = tmp_path / "pre", tmp_path / "probe"
    result = CliRunner().invoke(cli, ["pretrain", "--data", str(shard_dir), "--output", str(pre), *fast_args,
                                      "--model", "test_vit", "--epochs", "1"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["probe", "--pretrained", str(pre), "--data", str(image_folder),
                                      "--layers", "1,2", "--epochs", "30", "-j", "0", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "layer 1 (blocks.0, 64 features)" in result.output
    scores = json.loads((out / "probe.json").read_text())
    assert set(scores) == {"1", "2"}
    assert all(25 < top1 <= 100 for top1 in scores.values())  # better than chance on four classes


def test_report_shows_the_data_of_probe_and_finetune_runs(shard_dir, image_folder, tmp_path, fast_args, log_records):
    pre, runs = tmp_path / "pre", tmp_path / "runs"
    commands = {
        pre: ["pretrain", "--data", shard_dir, *fast_args, "--model", "test_vit", "--epochs", "1"],
        runs / "probe-shards": ["probe", "--pretrained", pre, "--data", shard_dir, "--layers", "1,2", "--epochs", "2",
                                "-j", "0"],
        runs / "probe-folder": ["probe", "--pretrained", pre, "--data", image_folder, "--layers", "1", "--epochs", "2",
                                "-j", "0"],
        runs / "finetune-folder": ["finetune", "--pretrained", pre, "--data", image_folder, *fast_args,
                                   "--model", "test_vit", "--epochs", "1"],
    }
    for output, args in commands.items():
        result = CliRunner().invoke(cli, [*map(str, args), "--output", str(output)])
        assert result.exit_code == 0, result.output
    digest = log_records(pre, "data")[0]["digest"]
    assert len(digest) == 16 and log_records(runs / "probe-shards", "data")[0]["digest"] == digest  # same shards
    for run in runs.iterdir():
        assert log_records(run, "data")[0]["samples"] == (83 if "shards" in run.name else 32)
    result = CliRunner().invoke(cli, ["report", *map(str, commands), "--plot", str(tmp_path / "report.png")])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()[1:]}
    best = max(json.loads((runs / "probe-shards" / "probe.json").read_text()).values())
    assert rows[str(runs / "probe-shards")][1:5] == ["test_vit", digest, "-", "-"]
    assert rows[str(runs / "probe-shards")][5] == f"{best:.2f}"
    assert rows[str(runs / "probe-folder")][2] == rows[str(runs / "finetune-folder")][2] == str(image_folder)
