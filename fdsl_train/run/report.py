"""`fdsl-train report`: a table of runs from their run folders, and their curves in one PNG.

Everything comes from run.json and log.jsonl, so a run still going, stopped or
resumed is summed up as far as it got. A probe's row shows its best layer's top-1.
"""
from pathlib import Path
from typing import List, Sequence

from fdsl_train.errors import UserError
from fdsl_train.run import curves
from fdsl_train.run.folder import RunFolder

COLUMNS = ("run", "model", "data", "epochs", "final loss", "best top-1", "images/s", "wall time")


def summary(folder: Path) -> dict:
    """One row of the table for the run in `folder`."""
    run_folder = RunFolder(folder)
    if not run_folder.run_file.is_file():
        raise UserError(f"{folder} is not a run folder: it has no {RunFolder.RUN}")
    run = run_folder.read_run()
    found = run_folder.records()
    epochs = [r for r in found if r["event"] == "epoch"]
    data = next((r for r in reversed(found) if r["event"] == "data"), {})
    dataset = run.get("dataset", {})  # named where the data has no digest (an ImageFolder, fresh epochs)
    samples = sum(r["batches"] for r in epochs) * run["preset"]["batch_size"]
    seconds = sum(r["seconds"] for r in epochs)
    tops = [r["top1"] for r in found if r["event"] in ("epoch", "probe") and "top1" in r]  # probe: one per layer
    return {
        "run": str(folder),
        "model": run["preset"]["model"],
        "data": data.get("digest") or dataset.get("name") or dataset.get("source") or "-",
        "epochs": "-" if run.get("command") == "probe" else f"{len(epochs)}/{run['preset']['epochs']}",
        "final loss": f"{epochs[-1]['loss']:.4f}" if epochs else "-",
        "best top-1": f"{max(tops):.2f}" if tops else "-",
        "images/s": f"{samples / seconds:.1f}" if seconds else "-",
        "wall time": _clock(_wall_seconds(found)),
    }


def _wall_seconds(found: List[dict]) -> float:
    """Time from each "start" record to the last record of that session, summed over resumed sessions."""
    total, start, last = 0.0, None, None
    for record in found:
        if record["event"] == "start":
            total += (last - start) if start is not None else 0.0
            start = record["time"]
        last = record["time"]
    return total + ((last - start) if start is not None else 0.0)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


def table(rows: Sequence[dict]) -> str:
    """Rows as aligned plain-text columns under a header."""
    cells = [list(COLUMNS)] + [[row[c] for c in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells)


def report(folders: Sequence[Path], plot: Path) -> str:
    """The table of `folders`; their curves drawn together into `plot`."""
    rows = [summary(folder) for folder in folders]
    if Path(plot).is_dir():
        raise UserError(f"--plot {plot} is a folder: name the PNG file to write")
    try:
        curves.draw({row["run"]: curves.read(folder) for row, folder in zip(rows, folders)}, plot)
    except OSError as err:
        raise UserError(f"--plot {plot}: cannot write it ({err.strerror or err})") from None
    return table(rows)
