"""The entries of the registry (docs/formats.md, ``registry.json``): vehicles, muck disposal
permits (处置核准) and kitchen/oil collection contracts, as the engine asks them. Reading and
checking them: ``stream.registry_checks``; the indexed whole: ``stream.registry.Registry``.
"""

from __future__ import annotations

from dataclasses import dataclass

from geofence.model import TimeWindow
from stream.eventtime import BEIJING_OFFSET_MS

VEHICLE_KINDS = ("muck", "kitchen", "oil")


@dataclass(frozen=True, slots=True)
class Vehicle:
    """A registered vehicle."""

    id: str
    kind: str
    company: str = ""
    district: str = ""
    terminal_phone: str = ""
    plate: str = ""


@dataclass(frozen=True, slots=True)
class Permit:
    """A muck disposal permit: which vehicles may haul from a site, where to, how and when."""

    id: str
    site: str
    vehicles: frozenset[str]
    terminals: frozenset[str]
    corridors: tuple[str, ...] = ()
    valid_from: int | None = None
    valid_to: int | None = None
    hours: tuple[TimeWindow, ...] = ()

    def allows(self, vehicle: str, site: str, ts: int, any_hour: bool = False) -> bool:
        """True when the permit covers ``vehicle`` loading at ``site`` at epoch ms ``ts``
        (with ``any_hour``, on that date whatever the hours)."""
        if site != self.site or vehicle not in self.vehicles:
            return False
        if self.valid_from is not None and ts < self.valid_from:
            return False
        if self.valid_to is not None and ts >= self.valid_to:
            return False
        return any_hour or self.in_hours(ts)

    def in_hours(self, ts: int) -> bool:
        """True when epoch ms ``ts`` falls in the permit's hours (Beijing time; none = always)."""
        if not self.hours:
            return True
        minute = ((ts + BEIJING_OFFSET_MS) // 60_000) % 1440
        return any(w.contains(minute) for w in self.hours)

    def fence_refs(self) -> dict[str, tuple[str, ...]]:
        """The fence ids the permit names, by field (``site``, ``terminals``, ``corridors``)."""
        return {
            "site": (self.site,),
            "terminals": tuple(sorted(self.terminals)),
            "corridors": self.corridors,
        }


@dataclass(frozen=True, slots=True)
class Contract:
    """A kitchen-waste or waste-oil collection contract of one vehicle."""

    id: str
    vehicle: str
    producers: frozenset[str]
    plants: frozenset[str]

    def fence_refs(self) -> dict[str, tuple[str, ...]]:
        """The fence ids the contract names, by field (``producers``, ``plants``)."""
        return {"producers": tuple(sorted(self.producers)), "plants": tuple(sorted(self.plants))}
