"""The model card of a run folder (README.md): what was trained on what, how it went, and how timm loads it.

The card is written from the run folder's own files (run.json, config.json,
log.jsonl) after the weights it describes; every loading example in it names
the run folder as the command was given, and the tests run them as printed.
"""
import hashlib
import json
import math
import os
import shlex
from pathlib import Path
from typing import List, Optional

import braceexpand
from safetensors import safe_open

from fdsl_gen import contract
from fdsl_gen.contract import MANIFEST, TIMM_INFO
from fdsl_gen.storage import Location
from fdsl_train.data import live
from fdsl_train.run import checkpoint, report
from fdsl_train.run.folder import RunFolder

EPOCH_ROWS = 20  # at most, in the per-epoch table, besides the last epoch


def dataset_facts(data: str) -> dict:
    """Name, recipe, command and manifest.json sha256 of a local dataset (its folder, its manifest.json, a
    shard list beside it, or live: one of those); only the source for anything else (URLs, ImageFolder trees,
    live recipes)."""
    manifest = _local_manifest(data)
    if manifest is None:
        return {"source": data}
    raw = manifest.read_bytes()
    content = contract.parse(raw, str(manifest))
    return {"source": data, "name": content.get("name", ""), "recipe": content.get("recipe", ""),
            "command": content.get("command", ""), "manifest_sha256": hashlib.sha256(raw).hexdigest()}


def checkpoint_facts(pretrained: str) -> dict:
    """The weights a fine-tuning starts from: where, and what their safetensors header says of their training."""
    weights, config = checkpoint.locate(pretrained)
    with safe_open(str(weights), framework="pt") as f:
        header = f.metadata() or {}
    return {"source": pretrained, "architecture": config["architecture"],
            **{k: header[k] for k in ("dataset", "manifest_sha256", "epoch") if header.get(k)}}


def _local_manifest(data: str) -> Optional[Path]:
    data = data[len(live.PREFIX):] if data.startswith(live.PREFIX) else data  # live:FOLDER renders FOLDER's
    first = Location.parse(next(iter(braceexpand.braceexpand(data.split("::")[0])), data))
    if not first.is_local:
        return None
    first = Path(first.text)
    if first.name == MANIFEST:
        candidate = first
    elif first.is_dir():
        candidate = first / MANIFEST
    elif first.suffix == ".tar":
        candidate = first.parent / MANIFEST  # a shard list: the manifest beside its shards
    else:
        return None
    return candidate if candidate.is_file() else None


def write_card(folder: RunFolder) -> None:
    """README.md of the run folder, replaced atomically; mode 0666 less the umask like the run's other files."""
    config = json.loads(folder.config_file.read_text())
    partial = folder.card_file.with_name(RunFolder.CARD + ".partial")
    partial.write_text(card_text(folder, folder.read_run(), config))
    os.replace(partial, folder.card_file)


def card_text(folder: RunFolder, run: dict, config: dict) -> str:
    where = run["options"]["output"]  # as the command gave it: the examples name the folder the same way
    sections = [_front_matter(), _title(run, config), _training(run, config), _metrics(folder),
                _loading(where, config), _scripts(where, config, run)]
    return "\n\n".join(sections) + "\n"


def _front_matter() -> str:
    return "\n".join(["---", "library_name: timm", "pipeline_tag: image-classification", "tags:",
                      "- image-classification", "- timm", "- formula-driven-supervised-learning", "---"])


def _title(run: dict, config: dict) -> str:
    done = "pre-trained" if run["command"] == "pretrain" else "fine-tuned"
    name = run.get("dataset", {}).get("name") or run["options"]["data"]
    return f"# {config['architecture']} {done} on {name} with fdsl-train"


def _training(run: dict, config: dict) -> str:
    cfg, dataset = config["pretrained_cfg"], run.get("dataset", {})
    size = cfg["input_size"]
    rows = [
        ("architecture", f"`{config['architecture']}`"),
        ("classes", config["num_classes"]),
        ("input", f"{size[0]} x {size[1]} x {size[2]}, mean {_slashed(cfg['mean'])}, std {_slashed(cfg['std'])}, "
                  f"{cfg['interpolation']} resize, crop_pct {cfg['crop_pct']:g}"),
        ("dataset", _dataset_line(dataset)),
        ("manifest.json sha256", f"`{dataset['manifest_sha256']}`" if dataset.get("manifest_sha256") else "-"),
        ("dataset command", f"`{dataset['command']}`" if dataset.get("command") else "-"),
        ("started from", _started_from(run.get("pretrained"))),
        ("recipe", _recipe(run["preset"], run["world_size"])),
        ("command", f"`{run['options'].get('command_line') or run['command']}`"),
        ("ranks, device", f"{run['world_size']}, {run['device']}"),
    ]
    return "\n".join(["## Training", "", "| | |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows), "",
                      "`run.json` holds the full preset and run options, `log.jsonl` every record of the run."])


def _dataset_line(dataset: dict) -> str:
    if not dataset.get("name"):
        return f"`{dataset.get('source', '')}`"
    return f"{dataset['name']} (recipe `{dataset['recipe']}`) from `{dataset['source']}`"


def _started_from(pretrained: Optional[dict]) -> str:
    if not pretrained:
        return "random weights"
    line = f"`{pretrained['source']}` ({pretrained['architecture']}"
    if pretrained.get("dataset"):
        line += f", trained on {pretrained['dataset']}"
    if pretrained.get("epoch"):
        line += f" for {pretrained['epoch']} epoch(s)"
    if pretrained.get("manifest_sha256"):
        line += f", manifest.json sha256 `{pretrained['manifest_sha256']}`"
    return line + ")"


def _recipe(preset: dict, world: int) -> str:
    lr = f"lr {preset['lr']:g}" if preset["lr"] is not None else \
        f"lr {preset['lr_base']:g} per {preset['lr_base_size']} images"
    return (f"epochs {preset['epochs']}, batch {preset['batch_size']} x {world} rank(s), {preset['opt']} {lr}, "
            f"weight decay {preset['weight_decay']:g}, {preset['sched']} schedule, {preset['warmup_epochs']:g} "
            f"warm-up epochs, loss {preset['loss']}, mixup {preset['mixup']:g}, cutmix {preset['cutmix']:g}, "
            f"smoothing {preset['smoothing']:g}, auto-augment `{preset['aa'] or 'none'}`, "
            f"random erasing {preset['reprob']:g}, drop path {preset['drop_path']:g}")


def _metrics(folder: RunFolder) -> str:
    row = report.summary(folder.path)
    columns = [c for c in report.COLUMNS if c not in ("run", "model")]
    lines = ["## Metrics", "", "| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns),
             "| " + " | ".join(row[c] for c in columns) + " |", ""]
    epochs = [r for r in folder.records() if r["event"] == "epoch"]
    if epochs:
        lines += ["Per epoch (top-1 on the val split, where the data has one):", "",
                  "| epoch | step | loss | top-1 | skipped | seconds |", "|" + " --- |" * 6]
        lines += [f"| {e['epoch']} | {e['step']} | {e['loss']:.4f} | {_top1(e)} | {e['skipped']} | "
                  f"{e['seconds']:.1f} |" for e in _thinned(epochs)]
    if folder.curves_file.is_file():
        lines += ["", f"![loss, learning rate and val top-1 against steps]({RunFolder.CURVES})"]
    return "\n".join(lines)


def _top1(epoch: dict) -> str:
    return f"{epoch['top1']:.2f}" if "top1" in epoch else "-"


def _thinned(epochs: List[dict]) -> List[dict]:
    """At most EPOCH_ROWS evenly spaced epochs, and the last one."""
    every = math.ceil(len(epochs) / EPOCH_ROWS)
    return [e for i, e in enumerate(epochs) if i % every == 0 or i == len(epochs) - 1]


def _loading(where: str, config: dict) -> str:
    cfg, arch, classes = config["pretrained_cfg"], config["architecture"], config["num_classes"]
    weights = f"{where}/{RunFolder.WEIGHTS}"
    size = config.get("model_args", {}).get("img_size")
    size_arg = f" img_size={size[0]}," if size else ""  # fixed-size models (ViTs) are built for the trained size
    overlay = (f"dict(file=\"{weights}\", num_classes={classes}, input_size={tuple(cfg['input_size'])},\n"
               f"               mean={_floats(cfg['mean'])}, std={_floats(cfg['std'])}, "
               f"interpolation=\"{cfg['interpolation']}\", crop_pct={cfg['crop_pct']!r})")
    return f"""## Loading with timm

`pretrained=True` is what loads the weights. Paths are written as the
training command gave them, from the folder it ran in. The run folder is a
timm `local-dir:`: architecture, classes, input size, mean/std and
interpolation all come from its `config.json`:

```python
import timm

model = timm.create_model("local-dir:{where}", pretrained=True)
```

By architecture name, the weights file goes in `pretrained_cfg_overlay`.
There, `num_classes` must be the checkpoint's ({classes}): without it timm
compares with the architecture's default class count and drops the trained
head even when the outer `num_classes` agrees. A different outer
`num_classes` gives a new head for fine-tuning. The input settings in the
overlay make `timm.data.resolve_data_config` give the trained ones:

```python
import timm

overlay = {overlay}
model = timm.create_model("{arch}", pretrained=True, num_classes={classes},{size_arg} pretrained_cfg_overlay=overlay)
new_head = timm.create_model("{arch}", pretrained=True, num_classes=10,{size_arg} pretrained_cfg_overlay=overlay)
```"""


def _scripts(where: str, config: dict, run: dict) -> str:
    """timm's validate.py and train.py on the run's weights and data, as printed commands where the data is a
    local folder those scripts read, else as the options to give them."""
    cfg, arch, classes = config["pretrained_cfg"], config["architecture"], config["num_classes"]
    weights = shlex.quote(f"{where}/{RunFolder.WEIGHTS}")
    size = config.get("model_args", {}).get("img_size")
    model = f"--model {arch}" + (f" --model-kwargs img_size={size[0]}" if size else "")
    inputs = (f"--img-size {cfg['input_size'][-1]} --mean {_spaced(cfg['mean'])} --std {_spaced(cfg['std'])} "
              f"--interpolation {cfg['interpolation']} --crop-pct {cfg['crop_pct']!r}")
    head = """## timm's validate.py and train.py

`validate.py --checkpoint` and `train.py --pretrained-path` (scripts of
timm's source repository, run from the folder the training ran in) build the
model by name: without the input options below they resize and normalise as
the architecture's own weights (for most, ImageNet's mean/std at 224 pixels).
"""
    data = _script_data(run)
    if data is None:
        return head + f"""
The run's data (`{run['options']['data']}`) is not a local folder these
scripts read. With a local copy, give them `--dataset wds/NAME --data-dir
FOLDER` (an fdsl dataset) or `--data-dir FOLDER` (an ImageFolder tree), and
`{model} --num-classes {classes} --checkpoint {weights} {inputs}`."""
    location, evaluate, train_options = data
    validate = (f"python validate.py {location}{evaluate} {model} --num-classes {classes} --checkpoint {weights} "
                f"{inputs}")
    train = (f"python train.py {location}{train_options} {model} --pretrained --pretrained-path {weights} "
             f"--num-classes {classes} --batch-size {run['preset']['batch_size']} {inputs}")
    return head + f"""`--dataset wds/NAME` makes them read an fdsl dataset's shards through its
`{TIMM_INFO}`; without it they take the folder for an ImageFolder tree. The
train.py line goes on training on the same data with a new head; for other
data, give its `--data-dir` and `--num-classes`. On a machine without CUDA,
add `--device cpu --no-prefetcher` to both.

```sh
{validate}
{train}
```"""


def _script_data(run: dict):
    """(data options, validate.py's split option, train.py's split options) of the run's data for timm's
    scripts: an fdsl dataset folder through `wds/NAME`, a local ImageFolder tree as it is; None for the rest."""
    source = run["options"]["data"]
    manifest = _local_manifest(source)
    if manifest is not None:
        folder = manifest.parent
        info = json.loads((folder / TIMM_INFO).read_text()) if (folder / TIMM_INFO).is_file() else {}
        present = info.get("splits", {})
        if not present or not all((folder / f).is_file() for s in present.values() for f in s.get("filenames", [])):
            return None
        location = f"--dataset wds/{info['name']} --data-dir {shlex.quote(str(folder))}"
    elif Location.parse(source).is_local and Path(source).is_dir():
        present = {path.name for path in Path(source).iterdir() if path.is_dir()}
        location = f"--data-dir {shlex.quote(source)}"
    else:
        return None
    train = contract.split_name(run["options"]["train_split"], present)
    val = contract.split_name(run["options"]["val_split"], present)
    val = val if val in present else train
    splits = (f" --train-split {train}" if train != "train" else "") + \
        (f" --val-split {val}" if val != "validation" else "")
    return location, f" --split {val}", splits


# floats as repr writes them: read back, they are the very numbers trained with
def _slashed(values) -> str:
    return "/".join(repr(float(v)) for v in values)


def _spaced(values) -> str:
    return " ".join(repr(float(v)) for v in values)


def _floats(values) -> str:
    return repr(tuple(float(v) for v in values))
