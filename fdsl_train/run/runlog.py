"""The JSON-lines log of a run: one object per line, written by rank 0 only."""
import json
import time
from pathlib import Path
from typing import Optional


class RunLog:
    def __init__(self, path: Optional[Path], append: bool = False) -> None:
        # a new run starts a new log; only a resumed run adds to its own
        self._file = open(path, "a" if append else "w", buffering=1) if path else None

    def write(self, event: str, **fields) -> None:
        if self._file:
            self._file.write(json.dumps({"event": event, "time": round(time.time(), 3), **fields}) + "\n")

    def close(self) -> None:
        if self._file:
            self._file.close()
            self._file = None
