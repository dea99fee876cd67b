"""The rule for signatures and ballots bunched on one key (an address, a device, a mahalla, a
desk): far above the average of its kind, and more than a handful."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Final

RATIO: Final = 5


@dataclass(frozen=True, slots=True)
class Outlier:
    key: Hashable
    count: int
    average: float


def far_above(counts: Mapping[Hashable, int], minimum: int) -> list[Outlier]:
    """Keys counting at least `minimum` and more than RATIO times the average; with fewer
    than two keys there is nothing to compare with."""
    counts = {key: count for key, count in counts.items() if key not in ("", None)}
    if len(counts) < 2:
        return []
    average = sum(counts.values()) / len(counts)
    return [Outlier(key, count, round(average, 1)) for key, count in counts.items()
            if count >= minimum and count > RATIO * average]
