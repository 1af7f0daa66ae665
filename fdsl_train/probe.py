"""`fdsl-train probe`: linear probing on the features of a model's first k blocks.

Layer k is the k-th entry of timm's `feature_info` for the model (for ViTs,
transformer block k; for ResNets, 1 is the stem and 2..5 the stages). Features
come from timm's `forward_intermediates`, are averaged over space, standardised
with the training set's statistics, and one linear classifier per layer is
trained on them; top-1 is measured on the validation split. One process.
"""
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Dict, List, Sequence

import click
import torch
from timm.optim import create_optimizer_v2
from torch import nn

from fdsl_train import presets
from fdsl_train.data.datasets import Source, open_split
from fdsl_train.data.loader import hashed_seed
from fdsl_train.data.transforms import eval_transform
from fdsl_train.errors import UserError
from fdsl_train.run import card, checkpoint
from fdsl_train.run.folder import RunFolder
from fdsl_train.run.runlog import RunLog


@dataclass(frozen=True)
class ProbeOptions:
    """A probe's options; the data options (data, splits, workers, seed) are its `source`."""

    pretrained: str
    source: Source
    layers: Sequence[int]
    output: Path
    epochs: int = 100
    lr: float = 1e-3
    batch_size: int = 256
    img_size: int = 0  # 0: the checkpoint's input size
    overwrite: bool = False


def probe(opts: ProbeOptions) -> Dict[int, float]:
    """Top-1 (percent) of a linear classifier per requested layer."""
    with RunFolder(opts.output).claimed(overwrite=opts.overwrite):
        return _probe(opts)


def _probe(opts: ProbeOptions) -> Dict[int, float]:
    _, config = checkpoint.locate(opts.pretrained)
    cfg = config["pretrained_cfg"]
    img_size = opts.img_size or cfg["input_size"][-1]
    model = checkpoint.create_pretrained(opts.pretrained, num_classes=config["num_classes"], img_size=img_size)
    indices = _feature_indices(model, opts.layers)
    preset = replace(presets.Preset(), img_size=img_size, mean=tuple(cfg["mean"]), std=tuple(cfg["std"]))
    source = opts.source
    train, num_classes = open_split(source, source.train_split, eval_transform(preset), batch_size=opts.batch_size,
                                    training=False)
    val, _ = open_split(source, source.val_split, eval_transform(preset), batch_size=opts.batch_size, training=False,
                        classes=train.classes)
    if num_classes is None:
        raise UserError(f"{source.data} does not say how many classes it has")
    folder = RunFolder(opts.output)
    folder.run_file.write_text(json.dumps(_run(opts, config["architecture"], img_size), indent=2))
    log = RunLog(folder.log_file)
    log.write("start", command="probe", world=1)
    log.write("data", split=source.train_split, samples=train.num_samples, digest=train.digest)
    train_feats, train_labels = _features(model, train.epoch(0), indices)
    val_feats, val_labels = _features(model, val.epoch(0), indices)
    torch.manual_seed(hashed_seed("probe", source.seed))
    results = {}
    for layer, x_train, x_val in zip(opts.layers, train_feats, val_feats):
        x_train_std, x_val_std = _standardise(x_train, x_val)
        head = _fit_linear(x_train_std, train_labels, num_classes, opts)
        with torch.no_grad():
            results[layer] = 100.0 * (head(x_val_std).argmax(-1) == val_labels).float().mean().item()
        name = model.feature_info[layer - 1]["module"]
        log.write("probe", layer=layer, module=name, features=x_train.shape[1], top1=results[layer])
        click.echo(f"layer {layer} ({name}, {x_train.shape[1]} features): top-1 {results[layer]:.2f}")
    log.close()
    folder.probe_file.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=2))
    return results


def _run(opts: ProbeOptions, model: str, img_size: int) -> dict:
    """run.json of a probe, as a training run's names its model, data and weights (`fdsl-train report` reads it)."""
    options = {name: value for name, value in asdict(opts.source).items() if name != "ranks"}
    options.update(layers=list(opts.layers), output=str(opts.output), overwrite=opts.overwrite)
    return {"command": "probe",
            "preset": {"model": model, "img_size": img_size, "epochs": opts.epochs, "lr": opts.lr,
                       "batch_size": opts.batch_size},
            "options": options, "dataset": card.dataset_facts(opts.source.data),
            "pretrained": card.checkpoint_facts(opts.pretrained), "world_size": 1}


def _feature_indices(model: nn.Module, layers: Sequence[int]) -> List[int]:
    if not hasattr(model, "forward_intermediates"):
        raise UserError(f"{type(model).__name__} has no forward_intermediates in timm, which probing needs")
    count = len(model.feature_info)
    bad = [k for k in layers if not 1 <= k <= count]
    if bad or not layers:
        raise UserError(f"--layers must lie in 1..{count} for this model, got {','.join(map(str, layers)) or 'none'}")
    return [k - 1 for k in layers]


@torch.no_grad()
def _features(model: nn.Module, batches, indices: List[int]):
    """Per layer, the spatially averaged features of every sample; and the labels."""
    model.eval()
    per_layer, labels = [[] for _ in indices], []
    for images, batch_labels, _ in batches:
        if not len(batch_labels):
            continue  # a batch that only reports lost samples
        maps = model.forward_intermediates(images, indices=indices, intermediates_only=True)
        for store, fmap in zip(per_layer, maps):
            store.append(fmap.float().mean(dim=(2, 3)))
        labels.append(batch_labels)
    return [torch.cat(store) for store in per_layer], torch.cat(labels)


def _standardise(x_train: torch.Tensor, x_val: torch.Tensor):
    mean, std = x_train.mean(0), x_train.std(0).clamp_min(1e-6)
    return (x_train - mean) / std, (x_val - mean) / std


def _fit_linear(x: torch.Tensor, y: torch.Tensor, num_classes: int, opts: ProbeOptions) -> nn.Linear:
    head = nn.Linear(x.shape[1], num_classes)
    optimizer = create_optimizer_v2(head, opt="adamw", lr=opts.lr, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(opts.epochs):
        for batch in torch.randperm(len(x)).split(opts.batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(head(x[batch]), y[batch]).backward()
            optimizer.step()
    return head.eval()
