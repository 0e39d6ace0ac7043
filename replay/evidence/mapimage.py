"""The case document's map: the track, the alert point and the fences, as vector shapes (issue 12).

One drawing, two renderers: :func:`map_shapes` projects the pack's WGS-84 geometry onto a
page-sized box (top-left origin, y down, units of points) and returns plain shapes; the HTML
report writes them as SVG (:func:`svg`), the PDF draws the same shapes with reportlab
(``replay.evidence.pdf``). Nothing is rasterised and no map tiles are fetched: the document is
made offline and prints sharp. The projection is a local equirectangular one centred on the
view (metres true to well under 1 % over a few kilometres); the view is the track and the alert
point with a margin, at least :data:`MIN_EXTENT_M` across, with a scale bar.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from geofence.loader import check_fences

M_PER_DEG = 111_320.0
MIN_EXTENT_M = 800.0
MARGIN = 0.12  # of the view's extent, on each side
# Fill, stroke by fence kind (docs/domain.md's places).
KIND_STYLE = {
    "site": ("#f4d03f", "#b7950b"),
    "terminal": ("#58d68d", "#1e8449"),
    "transfer": ("#76d7c4", "#117a65"),
    "producer": ("#f5b7b1", "#b03a2e"),
    "plant": ("#a9cce3", "#21618c"),
    "depot": ("#d7dbdd", "#707b7c"),
    "corridor": ("#d6eaf8", "#5dade2"),
    "restricted": ("#fadbd8", "#cb4335"),
}
KIND_ZH = {
    "site": "工地",
    "terminal": "消纳场",
    "transfer": "换装点",
    "producer": "产生单位",
    "plant": "处理厂",
    "depot": "停车场",
    "corridor": "核准路线",
    "restricted": "禁行区",
}
TRACK = "#1f4e79"
VIOLATING = "#c0392b"


@dataclass(frozen=True, slots=True)
class Shape:
    """One drawable: ``kind`` is ``polygon`` (``rings``), ``line`` (``points``), ``circle``
    (``points[0]``, ``radius``) or ``text`` (``points[0]``, ``text``)."""

    kind: str
    points: tuple[tuple[float, float], ...] = ()
    rings: tuple[tuple[tuple[float, float], ...], ...] = ()
    fill: str | None = None
    stroke: str | None = None
    width: float = 1.0
    radius: float = 0.0
    text: str = ""
    size: float = 8.0
    opacity: float = 1.0


@dataclass(slots=True)
class MapImage:
    """Shapes on a ``width`` x ``height`` box (points), and the legend's kinds."""

    width: float
    height: float
    shapes: list[Shape] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)


def map_shapes(
    points: Sequence[Mapping[str, Any]],
    alert: Mapping[str, Any],
    features: Iterable[Mapping[str, Any]],
    width: float = 480.0,
    height: float = 320.0,
    violating: tuple[int, int] | None = None,
    labelled: frozenset[str] = frozenset(),
) -> MapImage:
    """The map of a pack (module docstring).

    Parameters
    ----------
    points : sequence of dict
        The track's fixes in time order: ``ts``, ``lat``, ``lng``.
    alert : dict
        The alert (``lat``, ``lng``).
    features : iterable of dict
        The pack's fences (GeoJSON Features; converted to WGS-84 here).
    width, height : float
        The box, in points.
    violating : (from_ms, to_ms), optional
        The part of the track drawn in red (the alert's start to its end).
    labelled : frozenset of str
        Fences named on the map (the alert's, its permit's); restricted zones always are. The
        many other places around stay unnamed, or their names would cover the track.

    Examples
    --------
    >>> image = map_shapes([{"ts": 0, "lat": 31.49, "lng": 120.31},
    ...                     {"ts": 1, "lat": 31.50, "lng": 120.32}],
    ...                    {"lat": 31.495, "lng": 120.315}, [])
    >>> sorted({s.kind for s in image.shapes})
    ['circle', 'line', 'text']
    """
    spot = (alert.get("lat"), alert.get("lng"))
    known = spot[0] is not None and spot[1] is not None
    lats = [p["lat"] for p in points] + ([spot[0]] if known else [])
    lngs = [p["lng"] for p in points] + ([spot[1]] if known else [])
    image = MapImage(width, height)
    if not lats:  # nothing archived to draw: say so rather than draw an empty frame
        image.shapes.append(Shape("text", ((12.0, 20.0),), text="无定位数据 no positions", size=9))
        return image
    view = _View.around(min(lats), min(lngs), max(lats), max(lngs), width, height)
    _fences(image, view, features, labelled)
    line = [view.xy(p["lat"], p["lng"]) for p in points]
    if len(line) >= 2:
        image.shapes.append(Shape("line", tuple(line), stroke=TRACK, width=1.6))
    if violating is not None:
        hot = [
            view.xy(p["lat"], p["lng"]) for p in points if violating[0] <= p["ts"] <= violating[1]
        ]
        if len(hot) >= 2:
            image.shapes.append(Shape("line", tuple(hot), stroke=VIOLATING, width=2.6))
    if line:
        image.shapes.append(Shape("circle", (line[0],), fill="#ffffff", stroke=TRACK, radius=3.5))
        image.shapes.append(Shape("circle", (line[-1],), fill=TRACK, stroke=TRACK, radius=3.5))
    for ping in (alert.get("evidence") or {}).get("pings") or ():  # the positions it cites
        if ping.get("lat") is not None and ping.get("lng") is not None:
            at = view.xy(ping["lat"], ping["lng"])
            image.shapes.append(
                Shape("circle", (at,), fill="#ffffff", stroke=VIOLATING, radius=2.5)
            )
    if known:
        x, y = view.xy(*spot)
        image.shapes.append(Shape("circle", ((x, y),), fill=VIOLATING, stroke="#ffffff", radius=6))
        image.shapes.append(Shape("text", ((x + 8, y - 8),), text="告警 alert", size=9))
    _scale_bar(image, view)
    return image


@dataclass(frozen=True, slots=True)
class _View:
    lat0: float
    lng0: float
    scale: float  # points per metre
    cos: float
    width: float
    height: float

    @classmethod
    def around(cls, lat_a, lng_a, lat_b, lng_b, width, height) -> _View:
        lat0, lng0 = (lat_a + lat_b) / 2, (lng_a + lng_b) / 2
        cos = math.cos(math.radians(lat0))
        w_m = max((lng_b - lng_a) * cos * M_PER_DEG, MIN_EXTENT_M) * (1 + 2 * MARGIN)
        h_m = max((lat_b - lat_a) * M_PER_DEG, MIN_EXTENT_M) * (1 + 2 * MARGIN)
        return cls(lat0, lng0, min(width / w_m, height / h_m), cos, width, height)

    def xy(self, lat: float, lng: float) -> tuple[float, float]:
        x = (lng - self.lng0) * self.cos * M_PER_DEG * self.scale + self.width / 2
        y = self.height / 2 - (lat - self.lat0) * M_PER_DEG * self.scale
        return round(x, 2), round(y, 2)

    def degrees(self) -> BaseGeometry:
        """The view as a WGS-84 box (for clipping fences)."""
        half_w = self.width / 2 / self.scale / (self.cos * M_PER_DEG)
        half_h = self.height / 2 / self.scale / M_PER_DEG
        return box(self.lng0 - half_w, self.lat0 - half_h, self.lng0 + half_w, self.lat0 + half_h)


def _fences(
    image: MapImage, view: _View, features: Iterable[Mapping[str, Any]], labelled: frozenset[str]
) -> None:
    frame = view.degrees()
    fences, _ = check_fences([dict(f) for f in features])
    order = {k: i for i, k in enumerate(KIND_STYLE)}
    for fence in sorted(fences, key=lambda f: (-order.get(str(f.kind), 0), f.id)):
        part = shapely.intersection(fence.area, frame)
        if part.is_empty:
            continue
        kind = str(fence.kind)
        fill, stroke = KIND_STYLE.get(kind, ("#eeeeee", "#888888"))
        for poly in _polygons(part):
            rings = [poly.exterior, *poly.interiors]
            drawn = tuple(tuple(view.xy(y, x) for x, y in ring.coords) for ring in rings)
            image.shapes.append(
                Shape("polygon", rings=drawn, fill=fill, stroke=stroke, opacity=0.55)
            )
        if kind not in image.kinds:
            image.kinds.append(kind)
        if fence.id in labelled or kind == "restricted":
            spot = part.representative_point()
            label = view.xy(spot.y, spot.x)
            image.shapes.append(Shape("text", (label,), text=fence.name or fence.id, size=6.5))


def _polygons(geom: BaseGeometry) -> list:
    if geom.geom_type == "Polygon":
        return [geom]
    return [g for g in getattr(geom, "geoms", ()) if g.geom_type == "Polygon"]


def _scale_bar(image: MapImage, view: _View) -> None:
    """A bar of a round length about a fifth of the width, bottom left, and a north arrow."""
    metres = image.width / 5 / view.scale
    nice = 10 ** math.floor(math.log10(metres))
    nice = next(n * nice for n in (5, 2, 1) if n * nice <= metres)
    x0, y = 12.0, image.height - 14.0
    x1 = x0 + nice * view.scale
    image.shapes.append(Shape("line", ((x0, y), (x1, y)), stroke="#000000", width=2.0))
    label = f"{nice / 1000:g} km" if nice >= 1000 else f"{nice:g} m"
    image.shapes.append(Shape("text", ((x0, y - 4),), text=label, size=7.5))
    nx = image.width - 16.0
    image.shapes.append(Shape("line", ((nx, 30.0), (nx, 12.0)), stroke="#000000", width=1.5))
    image.shapes.append(Shape("text", ((nx - 3, 10.0),), text="N", size=8))


def svg(image: MapImage) -> str:
    """The map as an inline SVG element.

    Examples
    --------
    >>> svg(MapImage(10, 10, [Shape("circle", ((5, 5),), fill="#f00", radius=2)]))[:40]
    '<svg xmlns="http://www.w3.org/2000/svg" '
    """
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{image.width:g}" '
        f'height="{image.height:g}" viewBox="0 0 {image.width:g} {image.height:g}" '
        'font-family="sans-serif">',
        f'<rect width="{image.width:g}" height="{image.height:g}" fill="#fbfbf8" stroke="#999"/>',
    ]
    for s in image.shapes:
        out.append(_svg_shape(s))
    out.append("</svg>")
    return "\n".join(out)


def _svg_shape(s: Shape) -> str:
    paint = f'fill="{s.fill or "none"}" stroke="{s.stroke or "none"}" stroke-width="{s.width:g}"'
    if s.kind == "polygon":
        d = " ".join("M" + " L".join(f"{x:g},{y:g}" for x, y in ring) + " Z" for ring in s.rings)
        return f'<path d="{d}" {paint} fill-opacity="{s.opacity:g}" fill-rule="evenodd"/>'
    if s.kind == "line":
        pts = " ".join(f"{x:g},{y:g}" for x, y in s.points)
        return (
            f'<polyline points="{pts}" fill="none" stroke="{s.stroke}" stroke-width="{s.width:g}"/>'
        )
    (x, y) = s.points[0]
    if s.kind == "circle":
        return f'<circle cx="{x:g}" cy="{y:g}" r="{s.radius:g}" {paint}/>'
    return f'<text x="{x:g}" y="{y:g}" font-size="{s.size:g}">{escape(s.text)}</text>'
