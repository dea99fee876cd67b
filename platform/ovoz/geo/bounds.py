"""The districts' rectangles on the map (seeds/places/district_centres.csv): where a point
belongs, and which districts can be pilots at all. Apart from geo.services, so that modules
geo.services itself relies on (the administration of pilot districts) can read them too."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from ovoz.settings import ROOT

CENTRES = ROOT / "seeds" / "places" / "district_centres.csv"


@dataclass(frozen=True, slots=True)
class Bounds:
    district_id: int
    centre: tuple[float, float]
    south: float
    west: float
    north: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east


@cache
def district_bounds() -> dict[int, Bounds]:
    """The rectangles of seeds/places/district_centres.csv, by district id."""
    bounds = {}
    with CENTRES.open(encoding="utf-8", newline="") as rows:
        for row in csv.DictReader(rows):
            if row.get("south"):
                district_id = int(row["district_id"])
                bounds[district_id] = Bounds(
                    district_id, (float(row["latitude"]), float(row["longitude"])),
                    float(row["south"]), float(row["west"]), float(row["north"]),
                    float(row["east"]))
    return bounds
