import hashlib
import os
import shutil

import psutil
import torch
import torchvision.transforms.functional as F
from click.testing import CliRunner
from safetensors.torch import load_file

from fdsl_train.cli import cli
from fdsl_train.data.datasets import Source, open_split


def invoke(*args):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output + str(result.exception)
    return result


def test_finetune_replaces_the_head_and_reports_top1(make_dataset, image_folder, tmp_path, fast_args, log_records):
    pre, ft = tmp_path / "pre", tmp_path / "ft"
    data = make_dataset(tmp_path / "six", [24, 24], num_classes=6)
    invoke("pretrain", "--data", str(data), "--output", str(pre), *fast_args, "--epochs", "1")
    tuned = [a for a in fast_args if a not in ("--model", "test_resnet")]  # the checkpoint names the model
    result = invoke("finetune", "--pretrained", str(pre), "--data", str(image_folder), "--output", str(ft),
                    *tuned, "--epochs", "3", "-b", "4")
    assert "finetune test_resnet from" in result.output and "4 classes" in result.output
    epochs = log_records(ft, "epoch")
    assert len(epochs) == 3 and all(0 <= e["top1"] <= 100 for e in epochs)
    assert epochs[-1]["top1"] >= 50  # four easy classes
    before, after = load_file(str(pre / "model.safetensors")), load_file(str(ft / "model.safetensors"))
    assert before["fc.weight"].shape[0] == 6 and after["fc.weight"].shape[0] == 4
    body = [k for k in before if k.endswith(".weight") and not k.startswith("fc.")]
    assert any(not torch.equal(before[k], after[k]) for k in body)
    card = (ft / "README.md").read_text()  # an ImageFolder tree: the card names its path, and no manifest
    assert f"# test_resnet fine-tuned on {image_folder} with fdsl-train" in card
    assert f"| dataset | `{image_folder}` |" in card and "| manifest.json sha256 | - |" in card
    assert f"--pretrained {pre} " in card and all(f"| {e['epoch']} | {e['step']} |" in card for e in epochs)
    digest = hashlib.sha256((data / "manifest.json").read_bytes()).hexdigest()
    assert (f"| started from | `{pre}` (test_resnet, trained on toy for 1 epoch(s), manifest.json sha256 `{digest}`) |"
            in card)


def test_finetune_on_shards_from_scratch(shard_dir, tmp_path, fast_args, log_records):
    out = tmp_path / "ft"
    invoke("finetune", "--data", str(shard_dir), "--output", str(out), *fast_args, "--epochs", "3")
    epochs = log_records(out, "epoch")
    assert len(epochs) == 3 and epochs[-1]["top1"] > 40


def test_image_folder_workers_persist_and_come_from_a_forkserver(image_folder):
    train, _ = open_split(Source(str(image_folder), workers=2), "train", F.to_tensor, batch_size=4, training=True)
    first = train.epoch(0)
    assert first.persistent_workers and first.multiprocessing_context.get_start_method() == "forkserver"
    seen = [len(labels) for _, labels, _ in first]
    workers = {w.pid for w in first._iterator._workers}
    again = [len(labels) for _, labels, _ in train.epoch(1)]
    assert seen == again and sum(seen) == len(train.loader.dataset) // 4 * 4
    assert workers == {w.pid for w in train.epoch(2)._iterator._workers}
    assert os.getpid() not in {psutil.Process(pid).ppid() for pid in workers}


def test_val_classes_are_numbered_by_the_training_split(image_folder):
    for name in ("class0", "class1"):
        shutil.rmtree(image_folder / "val" / name)
    source = Source(str(image_folder))
    train, classes = open_split(source, "train", F.to_tensor, batch_size=4, training=True)
    val, val_classes = open_split(source, "val", F.to_tensor, batch_size=4, training=False, classes=train.classes)
    labels = [int(y) for _, batch, _ in val.epoch(0) for y in batch]
    assert (classes, val_classes) == (4, 4)
    assert sorted(set(labels)) == [2, 3] and len(labels) == 8
