"""Training curves from a run's log.jsonl: loss, learning rate and val top-1 against optimizer steps.

`draw` writes one PNG of three panels, one line per run, through Matplotlib's
Agg canvas (no display, no pyplot state); the file is replaced atomically.
"""
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

from fdsl_train.run.folder import RunFolder

SIZE = (1200, 360)  # pixels of curves.png
DPI = 100


@dataclass
class Curves:
    steps: List[int] = field(default_factory=list)  # at each "step" record
    loss: List[float] = field(default_factory=list)
    lr: List[float] = field(default_factory=list)
    val_steps: List[int] = field(default_factory=list)  # at each epoch that measured val top-1
    top1: List[float] = field(default_factory=list)


def read(folder: Path) -> Curves:
    """The curves of the run in `folder`, from its log.jsonl."""
    curves = Curves()
    for record in RunFolder(folder).records():
        if record["event"] == "step":
            curves.steps.append(record["step"])
            curves.loss.append(record["loss"])
            curves.lr.append(record["lr"])
        elif record["event"] == "epoch" and "top1" in record:
            curves.val_steps.append(record["step"])
            curves.top1.append(record["top1"])
    return curves


def draw(runs: Dict[str, Curves], path: Path) -> None:
    """One PNG of SIZE pixels: loss, learning rate and val top-1 against steps, a line per run."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(SIZE[0] / DPI, SIZE[1] / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    loss, lr, top1 = figure.subplots(1, 3)
    for name, curves in runs.items():
        loss.plot(curves.steps, curves.loss, label=name)
        lr.plot(curves.steps, curves.lr, label=name)
        top1.plot(curves.val_steps, curves.top1, marker="o", label=name)
    for axes, title in ((loss, "training loss"), (lr, "learning rate"), (top1, "val top-1 (%)")):
        axes.set_title(title)
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
    if len(runs) > 1:
        loss.legend(fontsize="small")
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    try:
        figure.savefig(partial, format="png")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)  # what a failed write left
