import json

import pytest
import timm
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from fdsl_train.checkpoint import create_pretrained
from fdsl_train.cli import cli


@pytest.fixture(params=["test_vit", "test_resnet"])
def run(request, shard_dir, tmp_path, fast_args):
    out = tmp_path / request.param
    result = CliRunner().invoke(cli, ["pretrain", "--data", str(shard_dir), "--output", str(out), *fast_args,
                                      "--model", request.param, "--epochs", "1"])
    assert result.exit_code == 0, result.output
    return request.param, out


def test_timm_loads_the_weights_with_a_new_head(run):
    name, out = run
    saved = load_file(str(out / "model.safetensors"))
    model = timm.create_model(name, pretrained=True, num_classes=7,
                              pretrained_cfg_overlay=dict(file=str(out / "model.safetensors"), num_classes=4))
    state = model.state_dict()
    head = model.pretrained_cfg["classifier"]
    assert state[f"{head}.weight"].shape[0] == 7
    body = [k for k in saved if not k.startswith(head + ".") and "pos_embed" not in k]
    assert body and all(torch.equal(state[k], saved[k]) for k in body)


def test_timm_keeps_the_head_when_the_classes_agree(run):
    name, out = run
    model = timm.create_model(name, pretrained=True, num_classes=4,
                              pretrained_cfg_overlay=dict(file=str(out / "model.safetensors"), num_classes=4))
    saved = load_file(str(out / "model.safetensors"))
    head = model.pretrained_cfg["classifier"]
    assert torch.equal(model.state_dict()[f"{head}.weight"], saved[f"{head}.weight"])


def test_the_run_folder_is_a_timm_local_dir(run):
    name, out = run
    config = json.loads((out / "config.json").read_text())
    assert config["architecture"] == name and config["num_classes"] == 4
    assert config["pretrained_cfg"]["input_size"] == [3, 32, 32]
    model = timm.create_model(f"local-dir:{out}")
    assert model.num_classes == 4
    assert not [p for p in out.iterdir() if p.name.startswith("tmp") or p.suffix == ".tmp"]


def test_create_pretrained_defaults_to_the_saved_architecture(run):
    name, out = run
    model = create_pretrained(str(out / "model.safetensors"), num_classes=2, img_size=32)
    assert type(model).__name__ == ("VisionTransformer" if name == "test_vit" else "ResNet")
    assert model.num_classes == 2
