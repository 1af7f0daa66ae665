"""Progress of long work: a tqdm bar on a terminal, one plain line every EVERY seconds otherwise.

Under a job scheduler stderr is a file, where a bar's carriage-return updates
pile up by the thousand; a plain line now and then reads well there.
TQDM_DISABLE=1 turns both off, as it turns off tqdm's bars. fdsl-gen and
fdsl-train both report progress through `progress()`.
"""
import os
import sys
import time
from typing import Optional, TextIO

EVERY = 30.0


def progress(total: int, *, desc: str, unit: str, initial: int = 0, disable: bool = False,
             file: Optional[TextIO] = None):
    """A tqdm bar, or `Lines` with the same update/set_postfix/close when `file` (stderr) is not a terminal,
    or `Silent` when disabled."""
    file = file or sys.stderr
    if disable or _disabled_by_environment():
        return Silent()
    if _is_terminal(file):
        from tqdm import tqdm  # here: a quiet run (array tasks, benches) does not pay its import
        return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=file, dynamic_ncols=True)
    return Lines(total, desc=desc, unit=unit, initial=initial, file=file)


def _disabled_by_environment() -> bool:
    """TQDM_DISABLE set to anything but empty, 0, false, no or off."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no", "off")


def _is_terminal(file: TextIO) -> bool:
    isatty = getattr(file, "isatty", None)
    return bool(isatty and isatty())


class Silent:
    """A disabled bar: update, set_postfix and close do nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **fields) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> "Silent":
        return self

    def __exit__(self, *exc) -> None:
        pass


class Lines:
    """Count done of total, rate and ETA as one line at most every `every` seconds, and once at the end."""

    def __init__(self, total: int, *, desc: str, unit: str, initial: int = 0, file: TextIO = sys.stderr,
                 every: float = EVERY) -> None:
        self.total, self.n, self.desc, self.unit = total, initial, desc, unit
        self.file, self.every = file, every
        self.start = self.last = time.monotonic()
        self.first, self.shown = initial, initial
        self.postfix = {}

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.monotonic() - self.last >= self.every:
            self._show()

    def set_postfix(self, **fields) -> None:
        self.postfix = fields

    def close(self) -> None:
        if self.n != self.shown:
            self._show()

    def __enter__(self) -> "Lines":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _show(self) -> None:
        now = time.monotonic()
        rate = (self.n - self.first) / max(now - self.start, 1e-9)
        eta = _duration((self.total - self.n) / rate) if rate > 0 else "?"
        fields = "".join(f", {key} {value}" for key, value in self.postfix.items())
        print(f"{self.desc}: {self.n}/{self.total} {self.unit}, {rate:.3g} {self.unit}/s, ETA {eta}{fields}",
              file=self.file, flush=True)
        self.last, self.shown = now, self.n


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
