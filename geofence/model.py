"""The fence: one place that matters to the bureau, as plain data.

A :class:`Fence` always holds its *matched area* as a shapely Polygon or MultiPolygon in WGS-84
(lng, lat). Corridors (LineStrings with ``buffer_m``) and point producers (``radius_m``) are
buffered into that area when they are loaded; their source geometry is kept in ``source``.
The index and every engine rule use ``area``; nothing downstream knows about datums.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shapely.geometry.base import BaseGeometry


class FenceKind(StrEnum):
    """Kinds of place, the names of docs/domain.md ("Places")."""

    SITE = "site"  # 源头工地: construction site, where muck is loaded
    TRANSFER = "transfer"  # 换装点/码头: transfer point or wharf, an approved unloading place
    TERMINAL = "terminal"  # 消纳场/资源化处置终端: disposal or recycling terminal
    PRODUCER = "producer"  # 餐厨产生单位: registered kitchen-waste producer (restaurant, canteen)
    PLANT = "plant"  # 餐厨/油脂处理厂: kitchen-waste or waste-oil treatment plant
    RESTRICTED = "restricted"  # 禁行区: no-go zone, with hours and vehicle kinds
    DEPOT = "depot"  # 停车场/车队驻地: fleet depot, where stops are normal
    CORRIDOR = "corridor"  # 核准路线: approved route, a centre line with a width


class Datum(StrEnum):
    """Coordinate datums a fence may be drawn in (see shared/DATUMS.md)."""

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A daily window of local clock minutes; ``start > end`` wraps midnight (20:00-06:00)."""

    start_min: int
    end_min: int

    def contains(self, minute_of_day: int) -> bool:
        """True when ``minute_of_day`` (0..1439) falls in the window, end exclusive."""
        if self.start_min <= self.end_min:
            return self.start_min <= minute_of_day < self.end_min
        return minute_of_day >= self.start_min or minute_of_day < self.end_min

    def __str__(self) -> str:
        s, e = self.start_min, self.end_min
        return f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}"


@dataclass(frozen=True, slots=True, eq=False)
class Fence:
    """A validated fence, normalised to WGS-84.

    Attributes
    ----------
    id : str
        Stable identifier (the GeoJSON Feature ``id``).
    kind : FenceKind
        What the place is.
    area : Polygon or MultiPolygon
        The matched area in WGS-84 (lng, lat); a point is in the fence when ``area.covers(point)``.
    name, district : str
        Display name and the district (tenancy) the place belongs to.
    datum : Datum
        The datum the fence was drawn in (it has already been converted).
    source : BaseGeometry
        The geometry as given, in WGS-84: the centre line of a corridor, the point of a producer.
    buffer_m, radius_m : float or None
        Corridor half-width and producer radius, metres.
    hours : tuple of TimeWindow
        Restricted hours (for ``restricted`` zones); empty means always.
    vehicle_kinds : frozenset of str
        Vehicle kinds a restriction applies to; empty means all.
    speed_limit_kmh : float or None
        Speed limit inside the fence.
    properties : Mapping
        Every property as given, for display and evidence.
    """

    id: str
    kind: FenceKind
    area: BaseGeometry
    name: str = ""
    district: str = ""
    datum: Datum = Datum.WGS84
    source: BaseGeometry | None = None
    buffer_m: float | None = None
    radius_m: float | None = None
    hours: tuple[TimeWindow, ...] = ()
    vehicle_kinds: frozenset[str] = frozenset()
    speed_limit_kmh: float | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Fence(id={self.id!r}, kind={self.kind.value!r}, name={self.name!r})"
