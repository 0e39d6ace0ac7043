"""The vehicle's track in an evidence pack: ``track.geojson`` and ``track.kml`` (issue 12).

Both hold the accepted fixes of the pack in event-time order (ties in arrival order), WGS-84,
with a time per point, and the alert's point. The GeoJSON is the Track JSON of the replay API in
the MF-JSON style (``properties.datetimes`` beside the ``LineString``); the KML is a
``gx:Track`` (``when`` + ``gx:coord`` per point, played by Google Earth's time slider), a plain
``LineString`` for viewers without the extension, and the alert as a ``Point`` with its
``TimeStamp``. Times are ISO 8601 in Beijing time (+08:00).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from replay.evidence.rules import rule_of
from replay.rows import ACCEPTED
from stream.eventtime import iso_ts, parse_ts

KML_NS = "http://www.opengis.net/kml/2.2"
GX_NS = "http://www.google.com/kml/ext/2.2"


def fixes(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The accepted rows with a position, in event-time order (stable: ties keep arrival)."""
    kept = [r for r in rows if r.get("verdict") == ACCEPTED and r.get("lat") is not None]
    return sorted(kept, key=lambda r: r["ts"])


def track_geojson(
    vehicle: str, points: Sequence[Mapping[str, Any]], alert: Mapping[str, Any], span: tuple
) -> dict[str, Any]:
    """``track.geojson``: the track feature and the alert point.

    Examples
    --------
    >>> pts = [{"ts": 1748869200000, "lat": 31.49, "lng": 120.31, "speed_kmh": 30.0,
    ...         "loaded": "full", "lift": False}]
    >>> fc = track_geojson("V1", pts, {"id": "a", "type": "overspeed", "lat": 31.49,
    ...                    "lng": 120.31, "ts": 1748869200000}, (1748869200000, 1748869260000))
    >>> fc["features"][0]["geometry"]["type"], fc["features"][1]["properties"]["kind"]
    ('MultiPoint', 'alert')
    """
    coords = [[p["lng"], p["lat"]] for p in points]
    start = parse_ts(alert["ts"])
    end = parse_ts(alert["ended_ts"]) if alert.get("ended_ts") else start
    track = {
        "type": "Feature",
        "geometry": {
            "type": "LineString" if len(coords) >= 2 else "MultiPoint",
            "coordinates": coords,
        },
        "properties": {
            "kind": "track",
            "vehicle": vehicle,
            "datetimes": [iso_ts(p["ts"]) for p in points],
            "speed_kmh": [p.get("speed_kmh") for p in points],
            "loaded": [p.get("loaded") for p in points],
            "lift": [p.get("lift") for p in points],
            "state": [_state(p, start, end) for p in points],
        },
    }
    known = alert.get("lat") is not None and alert.get("lng") is not None
    mark = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [alert["lng"], alert["lat"]]}
        if known
        else None,
        "properties": {
            "kind": "alert",
            "id": alert.get("id"),
            "type": alert.get("type"),
            "severity": alert.get("severity"),
            "ts": iso_ts(parse_ts(alert["ts"])),
            "district": alert.get("district"),
        },
    }
    return {
        "type": "FeatureCollection",
        "vehicle": vehicle,
        "from": iso_ts(span[0]),
        "to": iso_ts(span[1]),
        "features": [track, mark],
    }


def _state(point: Mapping[str, Any], start: int, end: int) -> str:
    """The Track JSON's point state: ``violating`` from the alert's start to its end, else
    ``loaded`` (``half``/``full``) or ``empty``."""
    if start <= point["ts"] <= end:
        return "violating"
    return "loaded" if point.get("loaded") in ("half", "full") else "empty"


def track_kml(vehicle: str, points: Sequence[Mapping[str, Any]], alert: Mapping[str, Any]) -> bytes:
    """``track.kml`` (module docstring), UTF-8.

    Examples
    --------
    >>> pts = [{"ts": 1748869200000 + 10_000 * k, "lat": 31.49, "lng": 120.31 + k * 1e-3}
    ...        for k in range(2)]
    >>> text = track_kml("V1", pts, {"id": "a", "type": "overspeed", "lat": 31.49, "lng": 120.31,
    ...                  "ts": "2025-06-02T21:00:00+08:00"}).decode()
    >>> "<when>2025-06-02T21:00:10+08:00</when>" in text
    True
    >>> "<gx:coord>120.311 31.49 0</gx:coord>" in text
    True
    """
    ET.register_namespace("", KML_NS)
    ET.register_namespace("gx", GX_NS)
    kml = ET.Element(f"{{{KML_NS}}}kml")
    doc = _sub(kml, "Document")
    _sub(doc, "name", f"{vehicle} {alert.get('id')}")
    moving = _sub(doc, "Placemark")
    _sub(moving, "name", f"{vehicle} 轨迹 track")
    track = ET.SubElement(moving, f"{{{GX_NS}}}Track")
    for p in points:
        _sub(track, "when", iso_ts(p["ts"]))
    for p in points:
        ET.SubElement(track, f"{{{GX_NS}}}coord").text = f"{_num(p['lng'])} {_num(p['lat'])} 0"
    if len(points) >= 2:  # a LineString needs two positions
        path = _sub(doc, "Placemark")
        _sub(path, "name", f"{vehicle} 路径 path")
        line = _sub(path, "LineString")
        text = " ".join(f"{_num(p['lng'])},{_num(p['lat'])},0" for p in points)
        _sub(line, "coordinates", text)
    mark = _sub(doc, "Placemark")
    _sub(mark, "name", f"{rule_of(str(alert.get('type'))).zh_name} {alert.get('type')}")
    _sub(mark, "description", f"alert {alert.get('id')}")
    stamp = _sub(mark, "TimeStamp")
    _sub(stamp, "when", iso_ts(parse_ts(alert["ts"])))
    if alert.get("lat") is not None and alert.get("lng") is not None:
        point = _sub(mark, "Point")
        _sub(point, "coordinates", f"{_num(alert['lng'])},{_num(alert['lat'])},0")
    return ET.tostring(kml, encoding="utf-8", xml_declaration=True) + b"\n"


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{KML_NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _num(value: Any) -> str:
    return repr(float(value))
