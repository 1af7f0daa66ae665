import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from fdsl_train import dist, presets
from fdsl_train.run import models
from fdsl_train.cli import cli
from fdsl_train.run.engine import Accel, Trainer


@pytest.mark.parametrize("name", ["vit_tiny_patch16_224", "vit_base_patch16_224", "resnet50"])
def test_preset_models_train_at_small_size(name):
    preset = presets.resolve("fdsl-vit", {"model": name, "img_size": 32, "batch_size": 4})
    model = models.create(name, num_classes=5, img_size=32, drop_path=preset.drop_path)
    trainer = Trainer(model, preset, num_classes=5, updates_per_epoch=1, global_batch=4,
                      accel=Accel(torch.device("cpu")), ranks=dist.Ranks())
    before = [p.detach().clone() for p in model.parameters()]
    loss = trainer.step(torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3]))
    assert torch.isfinite(loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_amp_and_channels_last_run_on_cpu(shard_dir, tmp_path, fast_args, log_records):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["pretrain", "--data", str(shard_dir), "--output", str(out), *fast_args,
                                      "--epochs", "1", "--amp", "--channels-last"])
    assert result.exit_code == 0, result.output
    assert log_records(out, "epoch")[0]["loss"] > 0


def test_torchcompile_trains_and_saves_plain_weights(shard_dir, tmp_path, fast_args, log_records):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["pretrain", "--data", str(shard_dir), "--output", str(out), *fast_args,
                                      "--epochs", "1", "--torchcompile"])
    assert result.exit_code == 0, result.output
    assert log_records(out, "epoch")[0]["batches"] == 10
    saved = load_file(str(out / "model.safetensors"))
    assert saved and not any(key.startswith(("_orig_mod.", "module.")) for key in saved)


@pytest.mark.parametrize("name, expected", [
    ("vit_tiny_patch16_224", True), ("resnet50", False), ("test_resnet", False),
    ("levit_128", True),  # through LevitDistilled(**kwargs) to Levit(img_size=...)
    ("bat_resnext26ts", True),  # a CNN with attention blocks sized from the input
])
def test_img_size_goes_to_the_models_that_take_it(name, expected):
    assert models.takes_img_size(name) is expected
