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
