"""The --output folder of a run: a run is never written over by accident.

A folder holds a run once one of RUN_FILES is in it. Such a folder is used
again only to continue that run (--resume into the same folder, which appends
to its log) or after an explicit --overwrite, which removes the old run's
files first. An explicit --output that holds a run is refused; the default
runs/<command> is numbered instead (runs/pretrain-2, -3, ...). A run that
stops on bad input before it has trained or saved anything leaves no run
files behind, so the corrected command can use the same folder.
"""
import json
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Tuple

from fdsl_train.errors import UserError

RUN_FILES = ("run.json", "log.jsonl", "state.pt", "model.safetensors", "config.json", "probe.json", "curves.png")
RUN_PATTERNS = ("events.out.tfevents.*",)  # TensorBoard's event files
CARD = "README.md"  # the run's model card: removed with the run it describes, but no sign of a run, as any folder
# may hold a README
STARTING = ("start", "data")  # what a run logs before it trains
STATE = "state.pt"


def held(folder: Path) -> Tuple[str, ...]:
    """The run files `folder` holds."""
    return tuple(name for name in RUN_FILES if (folder / name).exists())


def default_output(command: str, runs: Path = Path("runs")) -> Path:
    """runs/<command>, or the first runs/<command>-N that holds no run."""
    folder, number = runs / command, 1
    while held(folder):
        number += 1
        folder = runs / f"{command}-{number}"
    return folder


def resume_folder(resume: Optional[str]) -> Optional[Path]:
    """The run folder a --resume argument (a folder or its state.pt) points into."""
    if not resume:
        return None
    path = Path(resume)
    return path.parent if path.name == STATE and not path.is_dir() else path


def claim(folder: Path, *, resume: Optional[str] = None, overwrite: bool = False) -> bool:
    """Make `folder` ready for a run; True when it continues the run already there."""
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--output {folder} is a file, not a folder")
    found = held(folder)
    continuing = bool(found) and resume_folder(resume) is not None and _same(resume_folder(resume), folder)
    if found and not continuing and not overwrite:
        raise UserError(f"{folder} already holds a run ({', '.join(found)}): pass --resume {folder} to continue "
                        "it, --overwrite to replace it, or another --output")
    writable(folder, "--output")
    if found and not continuing:
        _remove_run(folder)
        (folder / CARD).unlink(missing_ok=True)
    return continuing


def writable(folder: Path, option: str) -> None:
    """Create `folder` if need be and make sure files can be written in it; a UserError naming it if not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise UserError(f"{option} {folder} cannot be written ({err.strerror or err})") from None


@contextmanager
def claimed(folder: Path, *, resume: Optional[str] = None, overwrite: bool = False) -> Iterator[bool]:
    """claim() for the time of a run, released when the run stops on a UserError before it produced anything."""
    created = not folder.exists()
    continuing = claim(folder, resume=resume, overwrite=overwrite)
    try:
        yield continuing
    except UserError:
        if not continuing:
            release(folder, created)
        raise


def release(folder: Path, created: bool) -> None:
    """Take back a claim that produced nothing: the run files of a run that never trained or saved anything."""
    if _produced(folder):
        return
    _remove_run(folder)
    if created and not any(folder.iterdir()):
        folder.rmdir()


def _produced(folder: Path) -> bool:
    """Whether the run saved a state or logged more than its start ("start" and "data" records)."""
    if (folder / STATE).exists():
        return True
    log = folder / "log.jsonl"
    lines = log.read_text().splitlines() if log.exists() else []
    return any(_event(line) not in STARTING for line in lines if line.strip())


def _event(line: str) -> str:
    try:
        return json.loads(line).get("event", "")
    except ValueError:
        return ""  # a line cut short by a crash


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _remove_run(folder: Path) -> None:
    for name in RUN_FILES:
        (folder / name).unlink(missing_ok=True)
    for pattern in RUN_PATTERNS:
        for path in folder.glob(pattern):
            path.unlink()
