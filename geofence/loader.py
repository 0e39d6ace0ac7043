"""Load fence files (GeoJSON, RFC 7946) into validated :class:`~geofence.model.Fence` objects.

Every feature is checked and *all* problems of a file are collected before anything fails, so
the person who drew the fences can fix them in one go. Coordinates are normalised to WGS-84
here, once, before corridors and point producers are buffered in metres.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geofence.datum import as_datum, in_china, transform
from geofence.geojson import POLYGONS, check_shape, parse_geometry
from geofence.metric import buffer_m, circles_m
from geofence.model import Datum, Fence, FenceKind, TimeWindow

Problem = tuple[str, str]  # (feature id, or "#index" when it has none; message)
FILE = "<file>"  # the "feature" of problems that concern the whole file

VEHICLE_KINDS = frozenset({"muck", "kitchen", "oil"})
ALLOWED_GEOMETRY = {
    FenceKind.CORRIDOR: ("LineString", "MultiLineString"),
    FenceKind.PRODUCER: ("Point", *POLYGONS),
}
MAX_BUFFER_M = 10_000.0  # a corridor or producer wider than this is a typo, not a place
MAX_SPEED_KMH = 200.0
_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class FenceError(ValueError):
    """A fence file has problems; ``problems`` lists every one as ``(feature, message)``."""

    def __init__(self, problems: Sequence[Problem], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"{self.source or 'fences'}: {n} problem{'s' if n != 1 else ''}"
        return "\n".join([head, *(f"  {where}: {message}" for where, message in self.problems)])


def load_fences(path_or_mapping: str | PathLike | Mapping | Sequence) -> list[Fence]:
    """Load and validate fences, normalised to WGS-84.

    Parameters
    ----------
    path_or_mapping : str, PathLike, Mapping or list
        A GeoJSON file path, or parsed GeoJSON: a FeatureCollection, a Feature or a list of
        Features.

    Returns
    -------
    list of Fence
        In file order.

    Raises
    ------
    FenceError
        When anything in the input is wrong; it lists every problem, naming each feature.
    OSError
        When the file cannot be read.
    """
    fences, problems = check_fences(path_or_mapping)
    if problems:
        source = None if isinstance(path_or_mapping, Mapping | list) else str(path_or_mapping)
        raise FenceError(problems, source)
    return fences


def check_fences(
    path_or_mapping: str | PathLike | Mapping | Sequence,
) -> tuple[list[Fence], list[Problem]]:
    """Validate fences without raising: ``(valid fences, problems)``.

    A file with problems still yields the fences of its valid features, for summaries.
    Raises OSError when the file cannot be read.
    """
    data, problems = _read(path_or_mapping)
    if data is None:
        return [], problems
    features = _features(data, problems)
    parsed: list[tuple[str, dict]] = []
    first_index: dict[str, int] = {}
    for index, feature in enumerate(features):
        label, fence_id = _identify(feature, index, problems)
        prefix = ""
        if fence_id is not None and fence_id in first_index:
            first = first_index[fence_id]
            problems.append((label, f"duplicate id (features #{first} and #{index})"))
            fence_id, prefix = None, f"in feature #{index}: "  # tell the two apart
        elif fence_id is not None:
            first_index[fence_id] = index
        feature_problems: list[str] = []
        is_feature = isinstance(feature, Mapping) and feature.get("type") == "Feature"
        fields = _parse(feature, fence_id, feature_problems) if is_feature else None
        problems.extend((label, prefix + message) for message in feature_problems)
        if fields is not None:
            parsed.append((label, fields))
    return _finish(parsed, problems), problems


def _read(source: Any) -> tuple[Any, list[Problem]]:
    if isinstance(source, Mapping | list):
        return source, []
    if not isinstance(source, str | PathLike):
        return None, [(FILE, f"expected a path or parsed GeoJSON, got {type(source).__name__}")]
    raw = Path(source).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [(FILE, f"not UTF-8 text (bad byte at offset {exc.start})")]
    try:
        return json.loads(text), []
    except json.JSONDecodeError as exc:
        return None, [(FILE, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]


def _features(data: Any, problems: list[Problem]) -> list:
    if isinstance(data, list):
        return data
    kind = data.get("type") if isinstance(data, Mapping) else None
    if kind == "Feature":
        return [data]
    if kind != "FeatureCollection":
        what = f"type {kind!r}" if kind else type(data).__name__
        problems.append((FILE, f"not GeoJSON fences: expected a FeatureCollection, got {what}"))
        return []
    crs = data.get("crs")
    if crs is not None and not re.search(r"CRS84|4326", str(crs)):
        problems.append((FILE, "a 'crs' other than WGS-84 is not supported; use 'datum'"))
    features = data.get("features")
    if not isinstance(features, list):
        problems.append((FILE, "FeatureCollection has no 'features' list"))
        return []
    if not features:
        problems.append((FILE, "FeatureCollection has no features"))
    return features


def _identify(feature: Any, index: int, problems: list[Problem]) -> tuple[str, str | None]:
    """The label problems are reported under and the fence id (None when unusable)."""
    label = f"#{index}"
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        problems.append((label, "not a GeoJSON Feature object"))
        return label, None
    raw = feature.get("id")
    if raw is None:
        props = feature.get("properties")
        hint = " (found properties.id: put it at Feature.id)" if _has(props, "id") else ""
        problems.append((label, f"missing id{hint}"))
        return label, None
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        problems.append((label, f"id must be a string or an integer, got {raw!r}"))
        return label, None
    fence_id = str(raw)
    if not fence_id.strip() or fence_id != fence_id.strip():
        problems.append((label, f"id {fence_id!r} is blank or has surrounding spaces"))
        return label, None
    return fence_id, fence_id


def _has(obj: Any, key: str) -> bool:
    return isinstance(obj, Mapping) and obj.get(key) is not None


def _parse(feature: Mapping, fence_id: str | None, out: list[str]) -> dict | None:
    """Check one Feature; return the Fence fields with its geometry still as given, or None."""
    props = feature.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, Mapping):
        out.append("properties must be an object")
        props = {}
    fields = {
        "id": fence_id,
        "kind": _enum(props, "kind", FenceKind, out, required=True),
        "datum": _datum(props, out),
        "name": _text(props, "name", out),
        "district": _text(props, "district", out),
        "buffer_m": _positive(props, "buffer_m", MAX_BUFFER_M, out),
        "radius_m": _positive(props, "radius_m", MAX_BUFFER_M, out),
        "speed_limit_kmh": _positive(props, "speed_limit_kmh", MAX_SPEED_KMH, out),
        "hours": _hours(props.get("hours"), out),
        "vehicle_kinds": _vehicle_kinds(props.get("vehicle_kinds"), out),
        "properties": dict(props),
    }
    kind = fields["kind"]
    given = _geometry(feature.get("geometry"), kind, fields["datum"], out)
    if given is not None and kind is not None:
        _check_widths(kind, given, props, fields["buffer_m"], fields["radius_m"], out)
    if out or fence_id is None or given is None:
        return None
    fields["source"] = given
    return fields


def _finish(parsed: list[tuple[str, dict]], problems: list[Problem]) -> list[Fence]:
    """Normalise every geometry to WGS-84 and build the areas, each in one vectorised pass."""
    _normalise([fields for _, fields in parsed])
    is_circle = [f["source"].geom_type == "Point" for _, f in parsed]
    circles = iter(_circles([f for (_, f), c in zip(parsed, is_circle, strict=True) if c]))
    fences = []
    for (label, fields), circle in zip(parsed, is_circle, strict=True):
        out: list[str] = []
        area = next(circles) if circle else _area(fields, out)
        if area is not None and not check_shape(fields["source"], out):
            # it was valid as drawn: only the datum conversion can have broken it (slivers)
            out[-1] += f" (after conversion from {fields['datum'].value} to wgs84)"
        if out:
            problems.extend((label, message) for message in out)
            continue
        fences.append(Fence(area=area, **fields))
    return fences


def _enum(props: Mapping, key: str, enum: type, out: list[str], required: bool) -> Any:
    value = props.get(key)
    if value is None:
        if required:
            out.append(f"missing properties.{key}")
        return None
    try:
        return enum(value)
    except ValueError:
        known = ", ".join(e.value for e in enum)
        out.append(f"unknown {key} {value!r} (expected one of {known})")
        return None


def _datum(props: Mapping, out: list[str]) -> Datum | None:
    value = props.get("datum")
    if value is None:
        return Datum.WGS84
    if not isinstance(value, str):
        out.append(f"unknown datum {value!r}")
        return None
    try:
        return as_datum(value)
    except ValueError as exc:
        out.append(str(exc))
        return None


def _text(props: Mapping, key: str, out: list[str]) -> str:
    value = props.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        out.append(f"{key} must be a string, got {value!r}")
        return ""
    return value


def _positive(props: Mapping, key: str, ceiling: float, out: list[str]) -> float | None:
    value = props.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        out.append(f"{key} must be a number, got {value!r}")
        return None
    if not 0 < value <= ceiling:
        out.append(f"{key} must be positive and at most {ceiling:g}, got {value!r}")
        return None
    return float(value)


def _hours(value: Any, out: list[str]) -> tuple[TimeWindow, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        out.append(f'hours must be a list of "HH:MM-HH:MM" strings, got {value!r}')
        return ()
    windows = []
    for item in value:
        match = _HOURS.match(item) if isinstance(item, str) else None
        nums = [int(g) for g in match.groups()] if match else []
        start, end = (nums[0] * 60 + nums[1], nums[2] * 60 + nums[3]) if nums else (0, 0)
        ok = bool(nums) and nums[1] < 60 and nums[3] < 60 and start < 1440 and end <= 1440
        if not ok or start == end:
            out.append(f'bad hours entry {item!r} (expected "HH:MM-HH:MM", start != end)')
            continue
        windows.append(TimeWindow(start, end))
    return tuple(windows)


def _vehicle_kinds(value: Any, out: list[str]) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        out.append(f"vehicle_kinds must be a list of strings, got {value!r}")
        return frozenset()
    unknown = sorted(set(value) - VEHICLE_KINDS)
    if unknown:
        known = ", ".join(sorted(VEHICLE_KINDS))
        out.append(f"unknown vehicle_kinds {unknown} (expected {known})")
    return frozenset(value) & VEHICLE_KINDS


def _geometry(geom: Any, kind: FenceKind | None, datum: Datum | None, out: list[str]):
    """Check a GeoJSON geometry; return it as a shapely geometry in its datum (or None)."""
    allowed = ALLOWED_GEOMETRY.get(kind, POLYGONS) if kind is not None else None
    given = parse_geometry(geom, allowed, f"kind {kind.value}" if kind else "", out)
    if given is None or datum is None or datum is Datum.WGS84:
        return given
    lngs, lats = shapely.get_coordinates(given).T
    if not np.all(in_china(lngs, lats)):
        out.append(f"datum {datum.value} is only defined inside China; coordinates lie outside")
        return None
    return given


def _normalise(parsed: list[dict]) -> None:
    """Convert every ``source`` to WGS-84 in place: one transform call per datum."""
    for datum in (Datum.GCJ02, Datum.BD09):
        todo = [fields for fields in parsed if fields["datum"] is datum]
        if not todo:
            continue

        def convert(coords: np.ndarray, datum: Datum = datum) -> np.ndarray:
            return np.column_stack(transform(coords[:, 0], coords[:, 1], datum, Datum.WGS84))

        geoms = np.array([fields["source"] for fields in todo], dtype=object)
        for fields, wgs in zip(todo, shapely.transform(geoms, convert), strict=True):
            fields["source"] = wgs


def _check_widths(kind, source, props, buffer, radius, out: list[str]) -> None:
    """Corridors need buffer_m, point producers radius_m; elsewhere they would be ignored."""
    is_point = source.geom_type == "Point"
    if kind is FenceKind.CORRIDOR and buffer is None and not _has(props, "buffer_m"):
        out.append("corridor needs buffer_m (metres from the centre line, > 0)")
    if kind is not FenceKind.CORRIDOR and _has(props, "buffer_m"):
        out.append("buffer_m applies only to corridors (it would be ignored)")
    if kind is FenceKind.PRODUCER and is_point and radius is None and not _has(props, "radius_m"):
        out.append("point producer needs radius_m (metres, > 0)")
    if not (kind is FenceKind.PRODUCER and is_point) and _has(props, "radius_m"):
        out.append("radius_m applies only to point producers (it would be ignored)")


def _circles(points: list[dict]) -> list[BaseGeometry]:
    if not points:
        return []
    xy = shapely.get_coordinates([f["source"] for f in points])
    return list(circles_m(xy[:, 0], xy[:, 1], [f["radius_m"] for f in points]))


def _area(fields: dict, out: list[str]) -> BaseGeometry | None:
    source = fields["source"]
    if fields["kind"] is FenceKind.CORRIDOR:
        try:
            return buffer_m(source, fields["buffer_m"])
        except ValueError as exc:  # defensive: inputs were validated; report, never crash
            out.append(f"cannot buffer the corridor: {exc}")
            return None
    # RFC 7946 ring orientation; the covered area is unchanged.
    return shapely.orient_polygons(source)
