"""What the data pipeline could not deliver, counted in samples, and the --max-skipped limit.

A reader notes each loss where it happens: the samples a shard lacks against
its manifest count (an unreachable, truncated, corrupt or mismatching shard)
and each sample that does not decode. The notes travel with the batches to the
trainer, which counts each loss once per epoch however many readers met it,
names the lost shards, and stops the run once more samples are lost than
--max-skipped allows.
"""
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from fdsl_train.errors import UserError

DEFAULT_LIMIT = "1%"


@dataclass(frozen=True)
class Lost:
    """`samples` samples of shard `url` that could not be used: one sample `key`, or samples the shard lacks."""

    url: str
    samples: int
    reason: str
    key: Optional[str] = None

    def __str__(self) -> str:
        if self.key is not None:
            return f"corrupt sample {self.url}:{self.key} ({self.reason})"
        return f"shard {self.url} lost {self.samples} samples ({self.reason})"


class Tally:
    """The losses one reader met since the last drain."""

    def __init__(self) -> None:
        self.lost: List[Lost] = []

    def shard(self, url: str, samples: int, reason: str) -> None:
        self.lost.append(Lost(url, samples, reason))

    def sample(self, url: str, key: str, reason: str) -> None:
        self.lost.append(Lost(url, 1, reason, key))

    def drain(self) -> List[Lost]:
        lost, self.lost = self.lost, []
        return lost


def parse_limit(text: str) -> Tuple[float, bool]:
    """(value, is_share) of a --max-skipped value: "2%" or "0.02" (a share of the epoch's samples), or a
    count: "100", and any whole number above 1 however written ("1e9", "100.0")."""
    text = text.strip()
    try:
        if text.endswith("%"):
            value, share = float(text[:-1]) / 100, True
        elif any(c in text for c in ".eE"):
            value = float(text)
            share = not (value > 1 and value.is_integer())  # 1e9 is a count; 1.0 is all of them
        else:
            value, share = int(text), False
    except ValueError:
        raise UserError(f"--max-skipped {text}: expected a count (100), a share (0.01) or a percentage (1%)") from None
    if not value >= 0 or (share and value > 1):
        raise UserError(f"--max-skipped {text}: a count must be a whole number >= 0 and a share lie in 0..1 "
                        "(0%..100%)")
    return (value, True) if share else (int(value), False)


def allowed(limit: str, total: int) -> int:
    """How many of `total` samples --max-skipped `limit` lets a run lose."""
    value, share = parse_limit(limit)
    return int(value * total) if share else value


class EpochLosses:
    """The losses of one epoch, each counted once, checked against the limit as they arrive."""

    def __init__(self, limit: str = DEFAULT_LIMIT, total: int = 0, strict: bool = False) -> None:
        self.limit = limit
        self.total = total
        self.strict = strict
        self._lost: Dict[tuple, Lost] = {}

    def add(self, lost: Iterable[Lost]) -> None:
        for item in lost:
            if self.strict:
                raise UserError(f"{item} (--strict stops at the first bad sample)")
            # a shard met by several readers, or again by a top-up, counts once: its largest loss
            key = (item.url, item.key)
            if key not in self._lost or item.samples > self._lost[key].samples:
                self._lost[key] = item
        self.check()

    def check(self) -> None:
        if self.count > allowed(self.limit, self.total):
            raise UserError(f"lost {self.count} of {self.total} samples, more than --max-skipped {self.limit} "
                            f"allows: {self.describe()}")

    @property
    def count(self) -> int:
        return sum(item.samples for item in self._lost.values())

    @property
    def shards(self) -> List[str]:
        """The shards that lost samples as a whole (not as single corrupt samples), in name order."""
        return sorted({item.url for item in self._lost.values() if item.key is None})

    def items(self) -> List[Lost]:
        return list(self._lost.values())

    def describe(self) -> str:
        """The first loss in full and how many more there are."""
        items = sorted(self._lost.values(), key=lambda item: (item.key is not None, item.url, item.key or ""))
        if not items:
            return "nothing lost"
        more = f" and {len(items) - 1} more" if len(items) > 1 else ""
        return f"{items[0]}{more}"
