"""What every bench script measures the same way: CPU time, interleaved rounds, medians with their spread.

CPU seconds (user + system, this process and its waited-for children) are
the figure on a shared machine: wall time moves with other jobs, CPU time
much less. Contenders take turns within each round, so a burst of load
falls on all of them alike, and a figure is the median of the rounds with
their min and max beside it.
"""
import os
import resource
import statistics
import time
from pathlib import Path
from typing import Callable, Dict, List, Sequence


def cpu_seconds() -> float:
    """User + system CPU seconds of this process, of every child it has waited for and of its forkserver's."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime + forkserver_seconds()


def forkserver_seconds() -> float:
    """User + system CPU seconds of this process's multiprocessing forkserver and of the workers it has reaped.

    fdsl_train's DataLoader workers are the forkserver's children, not this
    process's, so RUSAGE_CHILDREN never sees them; the forkserver reaps each
    before its parent's join returns. Read from /proc (Linux), in clock ticks.
    """
    from multiprocessing import forkserver

    pid = forkserver._forkserver._forkserver_pid  # no public handle on it; None until one has started
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = map(int, fields[11:15])  # stat fields 14 to 17
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def timed(work: Callable):
    """(work's result, wall seconds, CPU seconds) of one call; children must be reaped inside `work`."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = work()
    return result, time.perf_counter() - wall, cpu_seconds() - cpu


def interleaved(contenders: Dict[str, Callable], rounds: int, warmup: int = 0) -> Dict[str, List]:
    """Each contender's results over `rounds` rounds, the contenders taking turns within every round.

    `warmup` rounds run first and are dropped: what a long run pays once (a
    forkserver's start, its imports) is not a round's cost.
    """
    results = {name: [] for name in contenders}
    for turn in range(warmup + rounds):
        for name, run in contenders.items():
            result = run()
            if turn >= warmup:
                results[name].append(result)
    return results


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float], digits: int = 1) -> str:
    """'median (min to max)' of `values` ('to', as a value may be negative)."""
    return f"{median(values):.{digits}f} ({min(values):.{digits}f} to {max(values):.{digits}f})"


def ratio_spread(tops: Sequence[float], bottoms: Sequence[float], digits: int = 2) -> str:
    """Round-by-round ratios tops[i] / bottoms[i] as 'median (min to max)x'."""
    return spread([top / bottom for top, bottom in zip(tops, bottoms)], digits) + "x"


def load_line() -> str:
    """The load averages (1, 5, 15 min) and the core count, to print beside every figure."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def check_rounds(rounds: int) -> None:
    """A figure is a median of at least 3 rounds; fewer is refused with one line."""
    if rounds < 3:
        raise SystemExit(f"--rounds {rounds}: a median needs at least 3 rounds")
