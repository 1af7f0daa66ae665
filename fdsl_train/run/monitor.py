"""Where a run reports: records to its sinks (the JSON-lines log, ...), messages and progress to the console.

The engine reports through a Monitor only; which sinks exist is the run's choice.
Ranks other than 0 get a silent Monitor.
"""
from typing import Iterable, Protocol

from fdsl_gen.progress import progress


class Sink(Protocol):
    def write(self, event: str, **fields) -> None: ...

    def close(self) -> None: ...


class Monitor:
    def __init__(self, sinks: Iterable[Sink] = (), console: bool = False) -> None:
        self.sinks = list(sinks)
        self.console = console

    def record(self, event: str, **fields) -> None:
        """One record: "start" and "data" as a session begins, "step" every log interval, "epoch" after each
        epoch, "stop" at an early stop."""
        for sink in self.sinks:
            sink.write(event, **fields)

    def say(self, message: str) -> None:
        if self.console:
            print(message, flush=True)

    def progress(self, total: int, desc: str):
        """A bar on a terminal; on a file (a scheduler's log), a plain line now and then."""
        return progress(total, desc=desc, unit="batch", disable=not self.console)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
