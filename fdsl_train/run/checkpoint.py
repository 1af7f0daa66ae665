"""Checkpoints: the resumable training state, and weights timm loads back.

`model.safetensors` + `config.json` are written as timm's `save_for_hf` writes them, so
`timm.create_model(name, pretrained=True, num_classes=K,
pretrained_cfg_overlay=dict(file=".../model.safetensors", num_classes=C))` and
`timm.create_model("local-dir:DIR", pretrained=True)` both read them. The
`pretrained_cfg` in config.json is the run's own (input size, mean/std,
interpolation as trained), with nothing inherited from the architecture's
ImageNet weights (tag, papers, licence).

Both files are created with mode 0666 less the umask, as every other file of
the run folder: 0644 under the usual umask 022, 0640 under 027, so the group
can read weights that a plain `open()` would let it read. (safetensors alone
writes 0600.)
"""
import json
import os
import tempfile
from pathlib import Path
from typing import Optional, Tuple

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes
# Private on purpose: timm's public save_for_hf also writes the weights, through safetensors' own writer
# (mode 0600, no header metadata, contiguous tensors only), which these files must not get; its config
# writer, which gives config.json exactly the form timm reads back, has no public name.
from timm.models._hub import save_config_for_hf
from torch import nn

from fdsl_train.data.transforms import INTERPOLATION
from fdsl_train.errors import UserError, brief
from fdsl_train.presets import Preset
from fdsl_train.run import models
from fdsl_train.run.folder import RunFolder

STATE_KEYS = ("model", "optimizer", "scaler", "position", "layout")


# The pretrained_cfg keys that describe these weights; the rest of timm's cfg
# (tag, hf_hub_id, license, paper_ids, origin_url, ...) belongs to the architecture's own weights.
OWN_CFG = ("input_size", "fixed_input_size", "interpolation", "crop_pct", "crop_mode", "mean", "std",
           "num_classes", "pool_size", "first_conv", "classifier", "custom_load")


def save_weights(model: nn.Module, folder: Path, preset: Preset, metadata: Optional[dict] = None) -> None:
    """Write model.safetensors and config.json into `folder`, replacing both at once.

    The safetensors header holds the architecture, class count and input
    settings, and `metadata` (str -> str) besides.
    """
    folder.mkdir(parents=True, exist_ok=True)
    data_config = dict(input_size=(3, preset.img_size, preset.img_size), mean=preset.mean, std=preset.std,
                       crop_pct=1.0, interpolation=INTERPOLATION)
    # channels-last and GPU tensors are packed on the CPU first: safetensors stores contiguous data only
    tensors = {name: value.detach().cpu().contiguous() for name, value in model.state_dict().items()}
    settings = {k: v if isinstance(v, str) else json.dumps(v) for k, v in data_config.items()}
    header = {"format": "pt", "architecture": model.pretrained_cfg["architecture"],
              "num_classes": str(model.num_classes), **settings, **(metadata or {})}
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        # bytes through open(): the file gets the umask's mode, where safetensors' own writer gives 0600
        (Path(tmp) / RunFolder.WEIGHTS).write_bytes(safetensors_bytes(tensors, metadata=header))
        save_config_for_hf(model, str(Path(tmp) / RunFolder.CONFIG), data_config=data_config)
        _keep_own_cfg(Path(tmp) / RunFolder.CONFIG)
        for name in (RunFolder.WEIGHTS, RunFolder.CONFIG):
            os.replace(Path(tmp) / name, folder / name)


def _keep_own_cfg(path: Path) -> None:
    config = json.loads(path.read_text())
    config["pretrained_cfg"] = {k: v for k, v in config["pretrained_cfg"].items() if k in OWN_CFG}
    path.write_text(json.dumps(config, indent=2))


def save_state(state: dict, path: Path) -> None:
    """torch.save through a temporary file, so that a crash never leaves half a checkpoint."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_state(path: str) -> dict:
    """The training state in a run folder or state.pt file."""
    path = Path(path)
    if path.is_dir():
        path = RunFolder(path).state_file
    if not path.is_file():
        raise UserError(f"no training state to resume at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises anything from EOFError to RuntimeError for a damaged file
        raise UserError(f"{path} is not a readable training state ({type(err).__name__}: {brief(err)})") from None
    missing = [key for key in STATE_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise UserError(f"{path} is not a training state of fdsl-train (no {', '.join(missing)})")
    return state


def locate(pretrained: str) -> Tuple[Path, dict]:
    """The weights file and config.json of a checkpoint given as its folder or its weights file."""
    path = Path(pretrained)
    weights = RunFolder(path).weights_file if path.is_dir() else path
    config = weights.parent / RunFolder.CONFIG
    if not weights.is_file() or not config.is_file():
        raise UserError(f"no checkpoint at {pretrained}: expected {RunFolder.WEIGHTS} and {RunFolder.CONFIG}")
    return weights, json.loads(config.read_text())


def create_pretrained(pretrained: str, *, num_classes: int, img_size: int, name: Optional[str] = None,
                      drop_path: float = 0.0) -> nn.Module:
    """A model with the checkpoint's weights; its head is new when `num_classes` differs from the checkpoint's."""
    weights, config = locate(pretrained)
    name = name or config["architecture"]
    overlay = dict(file=str(weights), num_classes=config["num_classes"])
    try:
        model = models.create(name, num_classes=num_classes, img_size=img_size, drop_path=drop_path,
                              pretrained=True, pretrained_cfg_overlay=overlay)
    except RuntimeError as err:
        raise UserError(f"{weights} ({config['architecture']}) does not fit {name}: {brief(err)}") from None
    _check_same_tensors(model, weights, config["architecture"], name)
    return model


def _check_same_tensors(model: nn.Module, weights: Path, saved: str, name: str) -> None:
    """timm loads non-strictly when the head is replaced; make sure the body really matched."""
    head = model.pretrained_cfg.get("classifier") or ()
    head = (head,) if isinstance(head, str) else tuple(head)

    def body(keys):
        return {k for k in keys if not any(k.startswith(h + ".") for h in head)}

    with safe_open(str(weights), framework="pt") as f:
        saved_keys = body(f.keys())
    differ = saved_keys ^ body(model.state_dict().keys())
    if differ:
        raise UserError(f"{weights} holds a {saved}, which does not fit {name} "
                        f"({len(differ)} tensors differ, e.g. {sorted(differ)[0]})")
