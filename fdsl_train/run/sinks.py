"""Where rank 0's records go besides log.jsonl: TensorBoard event files, W&B, curves.png, the model card.

Each sink takes `write(event, **fields)` and `close()`, as fdsl_train.run.monitor
expects. The scalars are the same in TensorBoard and W&B (`scalars`).
"""
import json
from pathlib import Path
from typing import Dict

from fdsl_train.errors import UserError
from fdsl_train.run import card, curves
from fdsl_train.run.folder import RunFolder


def scalars(event: str, fields: dict) -> Dict[str, float]:
    """The plotted figures of one record, by tag; none for records without any."""
    if event == "step":
        return {"train/loss": fields["loss"], "train/lr": fields["lr"],
                "train/samples_per_s": fields["samples_per_s"]}
    if event == "epoch":
        tags = {"epoch/loss": fields["loss"], "epoch/skipped": fields["skipped"]}
        if "top1" in fields:
            tags["val/top1"] = fields["top1"]
        return tags
    return {}


def preset_text(run: dict) -> str:
    """run.json's preset as a Markdown code block (TensorBoard's text tab renders Markdown)."""
    return "\n".join("    " + line for line in json.dumps(run["preset"], indent=2).splitlines())


class TensorBoard:
    """Event files in the run folder itself, so that `tensorboard --logdir runs` shows every run."""

    def __init__(self, folder: Path, run: dict) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(folder))
        self.writer.add_text("preset", preset_text(run))

    def write(self, event: str, **fields) -> None:
        for tag, value in scalars(event, fields).items():
            self.writer.add_scalar(tag, value, global_step=fields["step"])
        if event in ("epoch", "stop"):
            self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def check_wandb() -> None:
    """Refuse --log-wandb without the wandb package, on every rank alike, before training starts."""
    try:
        import wandb  # noqa: F401
    except ImportError:
        raise UserError("--log-wandb needs the wandb package: pip install wandb") from None


class Wandb:
    """A W&B run named after the run folder, its files under FOLDER/wandb; WANDB_MODE=offline keeps it local."""

    def __init__(self, folder: Path, run: dict) -> None:
        import wandb

        self.run = wandb.init(project="fdsl", name=Path(folder).name, dir=str(folder), config=run)

    def write(self, event: str, **fields) -> None:
        tags = scalars(event, fields)
        if tags:
            # an epoch's record is the last at its step: commit the row, which W&B would otherwise hold open
            self.run.log(tags, step=fields["step"], commit=True if event == "epoch" else None)

    def close(self) -> None:
        self.run.finish()


class CurvesFile:
    """curves.png in the run folder, drawn again from log.jsonl after every epoch."""

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder

    def write(self, event: str, **fields) -> None:
        if event == "epoch":
            curves.draw({self.folder.path.name: curves.read(self.folder.path)}, self.folder.curves_file)

    def close(self) -> None:
        pass


class ModelCard:
    """README.md in the run folder, written again after every epoch and at a stop, once the weights are saved."""

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder

    def write(self, event: str, **fields) -> None:
        if event in ("epoch", "stop"):
            card.write_card(self.folder)

    def close(self) -> None:
        pass
