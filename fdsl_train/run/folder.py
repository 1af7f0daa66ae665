"""The --output folder of a run: the name of every file in it, and the claim that keeps a run from being
written over by accident.

A run folder holds:
  run.json           the resolved preset and run options, the dataset, the world size
  log.jsonl          one JSON object per line: "step" records every --log-interval steps, "epoch" records
  events.out.tfevents.*  the same figures for TensorBoard, and the preset as text
  curves.png         loss, learning rate and val top-1 against steps, drawn again after every epoch
  wandb/             with --log-wandb: the W&B run's files
  model.safetensors  the latest weights, with config.json: loadable by timm.create_model
  config.json
  README.md          the model card: dataset, recipe, command, metrics, how timm loads the weights
  state.pt           the resumable training state (--resume DIR)
  probe.json         a probe's top-1 per layer

A folder holds a run once one of FILES is in it. Such a folder is used
again only to continue that run (--resume into the same folder, which appends
to its log) or after an explicit --overwrite, which removes the old run's
files first. An explicit --output that holds a run is refused; the default
runs/<command> is numbered instead (runs/pretrain-2, -3, ...). A run that
stops on bad input before it has trained or saved anything leaves no run
files behind, nor any folder it created (the run folder, runs/), so the
corrected command can use the same folder.
"""
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple, Union

from fdsl_train.errors import UserError, check_writable

STARTING = ("start", "data")  # what a run logs before it trains


class RunFolder:
    """One run's folder, `path` as the command gave it."""

    RUN = "run.json"
    LOG = "log.jsonl"
    STATE = "state.pt"
    WEIGHTS = "model.safetensors"
    CONFIG = "config.json"
    CURVES = "curves.png"
    CARD = "README.md"  # removed with the run it describes, but no sign of a run: any folder may hold a README
    PROBE = "probe.json"
    EVENTS = "events.out.tfevents.*"  # TensorBoard's event files
    FILES = (RUN, LOG, STATE, WEIGHTS, CONFIG, PROBE, CURVES)  # a folder that holds one of them holds a run

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    run_file = property(lambda self: self.path / self.RUN)
    log_file = property(lambda self: self.path / self.LOG)
    state_file = property(lambda self: self.path / self.STATE)
    weights_file = property(lambda self: self.path / self.WEIGHTS)
    config_file = property(lambda self: self.path / self.CONFIG)
    curves_file = property(lambda self: self.path / self.CURVES)
    card_file = property(lambda self: self.path / self.CARD)
    probe_file = property(lambda self: self.path / self.PROBE)

    @classmethod
    def default(cls, command: str, runs: Path = Path("runs")) -> "RunFolder":
        """runs/<command>, or the first runs/<command>-N that holds no run."""
        folder, number = cls(runs / command), 1
        while folder.held():
            number += 1
            folder = cls(runs / f"{command}-{number}")
        return folder

    @classmethod
    def of_resume(cls, resume: Optional[str]) -> Optional["RunFolder"]:
        """The run folder a --resume argument (a folder or its state.pt) points into."""
        if not resume:
            return None
        path = Path(resume)
        return cls(path.parent if path.name == cls.STATE and not path.is_dir() else path)

    def held(self) -> Tuple[str, ...]:
        """The run files the folder holds."""
        return tuple(name for name in self.FILES if (self.path / name).exists())

    def read_run(self) -> dict:
        """run.json, parsed."""
        return json.loads(self.run_file.read_text())

    def command(self) -> Optional[str]:
        """The command that ran here, by run.json; None when that does not say."""
        try:
            return self.read_run().get("command")
        except (OSError, ValueError, AttributeError):
            return None

    def records(self) -> list:
        """The records of log.jsonl, in order; a line cut off by a crash is left out."""
        if not self.log_file.is_file():
            return []
        found = []
        for line in self.log_file.read_text().splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
        return found

    def claim(self, *, resume: Optional[str] = None, overwrite: bool = False) -> bool:
        """Make the folder ready for a run; True when it continues the run already there."""
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"--output {self.path} is a file, not a folder")
        found = self.held()
        resumed = self.of_resume(resume)
        continuing = bool(found) and resumed is not None and resumed.path.resolve() == self.path.resolve()
        if found and not continuing and not overwrite:
            raise UserError(f"{self.path} already holds a run ({', '.join(found)}): pass --resume {self.path} to "
                            "continue it, --overwrite to replace it, or another --output")
        check_writable(self.path, "--output")
        if found and not continuing:
            self._remove_run()
            self.card_file.unlink(missing_ok=True)
        return continuing

    @contextmanager
    def claimed(self, *, resume: Optional[str] = None, overwrite: bool = False) -> Iterator[bool]:
        """claim() for the time of a run, released when the run stops on a UserError before it produced
        anything; a refused claim leaves no folder it created."""
        created = self._missing_folders()
        try:
            continuing = self.claim(resume=resume, overwrite=overwrite)
        except UserError:
            _remove_empty(created)
            raise
        try:
            yield continuing
        except UserError:
            if not continuing:
                self.release(created)
            raise

    def release(self, created: Sequence[Path]) -> None:
        """Take back a claim that produced nothing: the run files of a run that never trained or saved anything,
        and the `created` folders (the run folder and its parents, innermost first) that are left empty."""
        if self._produced():
            return
        self._remove_run()
        _remove_empty(created)

    def _missing_folders(self) -> List[Path]:
        """The run folder and those of its parents that do not exist yet, innermost first: a claim creates them."""
        missing = []
        for folder in (self.path, *self.path.absolute().parents):
            if folder.exists():
                break
            missing.append(folder)
        return missing

    def _produced(self) -> bool:
        """Whether the run saved a state or logged more than its start ("start" and "data" records); a line
        cut short by a crash was more."""
        if self.state_file.exists():
            return True
        lines = self.log_file.read_text().splitlines() if self.log_file.exists() else []
        return any(_event(line) not in STARTING for line in lines if line.strip())

    def _remove_run(self) -> None:
        for name in self.FILES:
            (self.path / name).unlink(missing_ok=True)
        for path in self.path.glob(self.EVENTS):
            path.unlink()


def _remove_empty(folders: Sequence[Path]) -> None:
    """Remove each of `folders` (innermost first) while it is empty."""
    for folder in folders:
        if not folder.is_dir() or any(folder.iterdir()):
            return
        folder.rmdir()


def _event(line: str) -> str:
    try:
        return json.loads(line).get("event", "")
    except ValueError:
        return ""  # a line cut short by a crash
