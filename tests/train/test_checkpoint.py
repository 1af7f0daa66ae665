"""Checkpoints in the run folder: what timm reads from them, their metadata and modes, and the model card.

The loading examples of the model card and of README.md run as printed.
"""
import argparse
import hashlib
import json
import os
import re
import shlex
import stat
from pathlib import Path

import pytest
import timm
import torch
from click.testing import CliRunner
from safetensors import safe_open
from safetensors.torch import load_file
from timm.data import resolve_data_config
from timm.utils import ParseKwargs

from fdsl_train.run import models
from fdsl_train.run.card import dataset_facts
from fdsl_train.run.checkpoint import create_pretrained, save_weights
from fdsl_train.cli import cli
from fdsl_train.presets import FDSL_VIT, resolve

README = Path(__file__).resolve().parents[2] / "README.md"
# as trained by the `run` fixture: mean 0.2 and fdsl-vit's std differ from the test models' own 0.5, size 32 from
# their 160
TRAINED = {"input_size": (3, 32, 32), "interpolation": "bicubic", "mean": (0.2, 0.2, 0.2),
           "std": (0.229, 0.224, 0.225), "crop_pct": 1.0, "crop_mode": "center"}


@pytest.fixture(params=["test_vit", "test_resnet"])
def run(request, shard_dir, tmp_path, fast_args, monkeypatch):
    """A one-epoch run into the relative folder runs/<model>, from inside tmp_path."""
    monkeypatch.chdir(tmp_path)
    out = Path("runs") / request.param
    result = CliRunner().invoke(cli, ["pretrain", "--data", str(shard_dir), "--output", str(out), *fast_args,
                                      "--model", request.param, "--epochs", "1", "--mean", "0.2,0.2,0.2"])
    assert result.exit_code == 0, result.output
    return request.param, out


def data_config(model) -> dict:
    """What timm's scripts and resolve_data_config make of a model's pretrained_cfg, lists as tuples."""
    return as_tuples(resolve_data_config({}, model=model))


def as_tuples(config: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}


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
    model = timm.create_model(f"local-dir:{out}", pretrained=True)
    assert model.num_classes == 4
    saved = load_file(str(out / "model.safetensors"))
    assert all(torch.equal(value, saved[key]) for key, value in model.state_dict().items())
    assert not [p for p in out.iterdir() if p.name.startswith("tmp") or p.suffix in (".tmp", ".partial")]


def test_create_pretrained_defaults_to_the_saved_architecture(run):
    name, out = run
    model = create_pretrained(str(out / "model.safetensors"), num_classes=2, img_size=32)
    assert type(model).__name__ == ("VisionTransformer" if name == "test_vit" else "ResNet")
    assert model.num_classes == 2


def test_config_and_metadata_are_the_runs_own(run, shard_dir):
    name, out = run
    cfg = json.loads((out / "config.json").read_text())["pretrained_cfg"]
    assert not {"tag", "license", "paper_ids", "origin_url", "hf_hub_id"} & set(cfg)
    assert timm.create_model(name).pretrained_cfg.get("tag")  # what the architecture's own cfg would give
    model = timm.create_model(f"local-dir:{out}", pretrained=True)
    assert not model.pretrained_cfg.get("tag") and data_config(model) == TRAINED
    with safe_open(str(out / "model.safetensors"), framework="pt") as f:
        meta = f.metadata()
    assert meta["format"] == "pt" and meta["architecture"] == name and meta["num_classes"] == "4"
    assert json.loads(meta["mean"]) == [0.2, 0.2, 0.2] and meta["interpolation"] == "bicubic"
    assert json.loads(meta["input_size"]) == [3, 32, 32] and json.loads(meta["preset"])["model"] == name
    assert meta["dataset"] == "toy" and (meta["epoch"], meta["step"]) == ("1", "10")
    assert meta["manifest_sha256"] == hashlib.sha256((shard_dir / "manifest.json").read_bytes()).hexdigest()


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_weights_are_readable_by_the_group(tmp_path, umask):
    model = models.create("test_resnet", num_classes=4, img_size=32)
    old = os.umask(umask)
    try:
        save_weights(model, tmp_path / "run", resolve("fdsl-vit", {"model": "test_resnet", "img_size": 32}))
    finally:
        os.umask(old)
    for file in ("model.safetensors", "config.json"):
        assert stat.S_IMODE((tmp_path / "run" / file).stat().st_mode) == 0o666 & ~umask  # 0644, 0640


def test_model_card_names_the_data_recipe_command_and_metrics(run, shard_dir, log_records, fast_args):
    name, out = run
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: timm\n") and f"# {name} pre-trained on toy with fdsl-train" in card
    digest = hashlib.sha256((shard_dir / "manifest.json").read_bytes()).hexdigest()
    assert f"| manifest.json sha256 | `{digest}` |" in card
    assert f"| dataset | toy (recipe `toy`) from `{shard_dir}` |" in card
    command = re.search(r"^\| command \| `(.*)` \|$", card, re.M).group(1)
    assert shlex.split(command) == ["fdsl-train", "pretrain", "--data", str(shard_dir), "--output", str(out),
                                    *fast_args, "--model", name, "--epochs", "1", "--mean", "0.2,0.2,0.2"]
    assert "| recipe | epochs 1, batch 8 x 1 rank(s), adamw lr 0.002, " in card
    assert "| started from | random weights |" in card
    epoch, = log_records(out, "epoch")
    assert f"| 0 | 10 | {epoch['loss']:.4f} | {epoch['top1']:.2f} | 0 |" in card
    digest16 = log_records(out, "data")[0]["digest"]
    assert re.search(rf"^\| {digest16} \| 1/1 \| {epoch['loss']:.4f} \| {epoch['top1']:.2f} \| [\d.]+ \| "
                     r"\d+:\d\d:\d\d \|$", card, re.M)
    image = re.search(r"^!\[[^]]*\]\((.*)\)$", card, re.M).group(1)
    assert (out / image).is_file() and image == "curves.png"


def code_blocks(text: str, language: str):
    return re.findall(rf"^```{language}\n(.*?)^```$", text, re.M | re.S)


def body_equal(model, saved: dict) -> bool:
    head = model.pretrained_cfg["classifier"]
    state = model.state_dict()
    body = [k for k in saved if not k.startswith(head + ".")]
    return bool(body) and all(torch.equal(state[k], saved[k]) for k in body)


def test_card_python_examples_load_the_weights_and_input_settings(run):
    name, out = run
    card = (out / "README.md").read_text()
    local, by_name = code_blocks(card, "python")
    saved = load_file(str(out / "model.safetensors"))
    scope = {}
    exec(local, scope)
    assert data_config(scope["model"]) == TRAINED
    assert all(torch.equal(v, saved[k]) for k, v in scope["model"].state_dict().items())
    scope = {}
    exec(by_name, scope)
    model, new_head = scope["model"], scope["new_head"]
    assert data_config(model) == TRAINED and data_config(new_head) == TRAINED
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())  # the trained head kept
    assert body_equal(new_head, saved) and new_head.num_classes == 10
    # the caveat the card gives: without num_classes in the overlay, the trained head is dropped
    dropped = timm.create_model(name, pretrained=True, num_classes=4, **_size_kwargs(out),
                                pretrained_cfg_overlay=dict(file=str(out / "model.safetensors")))
    head = dropped.pretrained_cfg["classifier"]
    assert not torch.equal(dropped.state_dict()[f"{head}.weight"], saved[f"{head}.weight"])


def _size_kwargs(out: Path) -> dict:
    size = json.loads((out / "config.json").read_text())["model_args"].get("img_size")
    return {"img_size": size[0]} if size else {}


def script_options(line: str) -> argparse.Namespace:
    """The options of timm's validate.py and train.py that the card prints, declared as those scripts declare
    them (the scripts live in timm's source repository, not in its wheel)."""
    parser = argparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("--data-dir")
    parser.add_argument("--dataset", default="")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--train-split", default="train")
    parser.add_argument("--val-split", default="validation")
    parser.add_argument("-b", "--batch-size", type=int, default=128)
    parser.add_argument("--model", "-m")
    parser.add_argument("--model-kwargs", nargs="*", default={}, action=ParseKwargs)
    parser.add_argument("--num-classes", type=int, default=None)
    parser.add_argument("--checkpoint", default="")
    parser.add_argument("--pretrained", action="store_true", default=False)
    parser.add_argument("--pretrained-path", default=None)
    parser.add_argument("--img-size", type=int, default=None)
    parser.add_argument("--mean", type=float, nargs="+", default=None)
    parser.add_argument("--std", type=float, nargs="+", default=None)
    parser.add_argument("--interpolation", default="")
    parser.add_argument("--crop-pct", type=float, default=None)
    words = shlex.split(line)
    assert words[:2] in (["python", "validate.py"], ["python", "train.py"])
    return parser.parse_args(words[2:])


def test_card_script_options_give_the_trained_weights_and_input(run):
    """What validate.py --checkpoint and train.py --pretrained-path do with the card's options."""
    name, out = run
    validate, train = code_blocks((out / "README.md").read_text(), "sh")[0].splitlines()
    saved = load_file(str(out / "model.safetensors"))
    args = script_options(validate)
    model = timm.create_model(args.model, pretrained=False, num_classes=args.num_classes, **args.model_kwargs)
    timm.models.load_checkpoint(model, args.checkpoint)
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    assert as_tuples(resolve_data_config(vars(args), model=model)) == TRAINED
    assert data_config(model) != TRAINED  # without the options, the architecture's own settings
    args = script_options(train)
    model = timm.create_model(args.model, pretrained=args.pretrained, num_classes=args.num_classes,
                              pretrained_cfg_overlay=dict(file=args.pretrained_path, num_classes=-1),
                              **args.model_kwargs)
    assert body_equal(model, saved) and model.num_classes == args.num_classes == 4  # the same data, a new head
    assert as_tuples(resolve_data_config(vars(args), model=model)) == TRAINED


def test_readme_loading_examples_run_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    trained = timm.create_model("deit_tiny_patch16_224", num_classes=1000)
    save_weights(trained, Path("runs/vit"), FDSL_VIT)
    block, = [b for b in code_blocks(README.read_text(), "python") if "local-dir:runs/vit" in b]
    scope = {}
    exec(block, scope)
    saved = trained.state_dict()
    local, new_head = scope["model"], scope["new_head"]
    assert all(torch.equal(v, saved[k]) for k, v in local.state_dict().items())
    assert data_config(local)["mean"] == FDSL_VIT.mean
    assert new_head.num_classes == 10 and body_equal(new_head, saved)


def test_the_card_finds_the_manifest_of_each_local_data_form(shard_dir, image_folder):
    digest = hashlib.sha256((shard_dir / "manifest.json").read_bytes()).hexdigest()
    shard_list = f"{shard_dir}/toy-train-{{000000..000004}}.tar"
    for data in (str(shard_dir), str(shard_dir / "manifest.json"), shard_list, f"live:{shard_dir}"):
        facts = dataset_facts(data)
        assert (facts["source"], facts["name"], facts["recipe"], facts["manifest_sha256"]) == (data, "toy", "toy", digest)
    (image_folder.parent / "manifest.json").write_text("{}")  # beside an ImageFolder tree, not its own
    elsewhere = (str(image_folder), "https://example.org/toy/", "pipe:cat a.tar", "live:fractaldb?classes=4")
    for data in elsewhere:
        assert dataset_facts(data) == {"source": data}


def test_a_long_run_lists_at_most_twenty_epochs_and_the_last():
    from fdsl_train.run.card import EPOCH_ROWS, _thinned

    shown = [e["epoch"] for e in _thinned([{"epoch": i} for i in range(300)])]
    assert shown == list(range(0, 300, 15)) + [299] and len(shown) == EPOCH_ROWS + 1
    assert [e["epoch"] for e in _thinned([{"epoch": i} for i in range(3)])] == [0, 1, 2]
