"""`landun track`, `landun who-was-here`, `landun stops`: investigation queries over the archive.

Each prints one JSON document on stdout (docs/formats.md, "Archive"):

- ``landun track VEHICLE --from T --to T [--limit N] [--cursor C]``: the Track JSON, one page
  (``next`` is the ``--cursor`` of the following page, null on the last);
- ``landun who-was-here (--lat X --lng Y --radius-m R | --polygon FILE) --from T --to T
  [--vehicles V1,V2]``: ``{"vehicles": [...]}``, nearest first; FILE is a GeoJSON Polygon
  geometry, a Feature holding one, or a FeatureCollection of that one Feature (WGS-84);
- ``landun stops (--vehicle V | --company C) --from T --to T [--registry FILE]``:
  ``{"stops": [...]}`` in time order; a company's vehicles come from FILE (registry.json) or,
  without it, from the archive's registry as it was at ``--to``.

Times are epoch milliseconds or ISO 8601 with an offset; windows are inclusive and at most 31
days. ``--archive DIR`` defaults to ``LANDUN_ARCHIVE_DIR``. A bad request prints ``landun CMD:
message`` on stderr and exits 2 (issue 12).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from landun.archive_setting import ArchiveSettingError, archive_dir
from replay.duck import READ_ERRORS, folder
from replay.queries import ArchiveQueryError, stops, track, who_was_here
from stream.eventtime import parse_ts
from stream.wire_values import PingError

EXIT_OK, EXIT_BAD = 0, 2


class BadRequest(Exception):
    """A request the command refuses before asking the archive; the message says why."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `track`, `who-was-here` and `stops` sub-commands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--from", dest="start", required=True, help="window start (ISO or ms)")
    common.add_argument("--to", dest="end", required=True, help="window end (ISO or ms)")
    common.add_argument(
        "--archive",  # the setting is read when the command runs (issue 12)
        help="archive directory (default LANDUN_ARCHIVE_DIR, var/archive)",
    )
    fmt = argparse.RawDescriptionHelpFormatter

    p = subparsers.add_parser(
        "track",
        parents=[common],
        help="a vehicle's archived track with stops, alerts, fence events and trips (GeoJSON)",
        description=__doc__,
        formatter_class=fmt,
    )
    p.add_argument("vehicle", help="vehicle id")
    p.add_argument("--limit", type=int, default=2000, help="points per page (1-10000)")
    p.add_argument("--cursor", help="the previous page's next, for the following page")
    p.set_defaults(func=run_track)

    p = subparsers.add_parser(
        "who-was-here",
        parents=[common],
        help="vehicles that came within a circle or polygon in a window",
        description=__doc__,
        formatter_class=fmt,
    )
    p.add_argument("--lat", type=float, help="circle centre latitude (WGS-84)")
    p.add_argument("--lng", type=float, help="circle centre longitude (WGS-84)")
    p.add_argument("--radius-m", type=float, help="circle radius in metres (at most 5000)")
    p.add_argument("--polygon", help="GeoJSON file: a Polygon geometry or a Feature with one")
    p.add_argument("--vehicles", help="comma-separated vehicle ids (default: all)")
    p.set_defaults(func=run_who_was_here)

    p = subparsers.add_parser(
        "stops",
        parents=[common],
        help="stops of a vehicle or a company's vehicles in a window",
        description=__doc__,
        formatter_class=fmt,
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--vehicle", help="vehicle id")
    who.add_argument("--company", help="company name, as in the registry's vehicles")
    p.add_argument("--registry", help="registry.json for --company (default: the archive's)")
    p.set_defaults(func=run_stops)


def run_track(args: argparse.Namespace) -> int:
    """Print one page of a vehicle's track."""
    return _answer(
        "track",
        lambda: track(
            args.archive,
            args.vehicle,
            args.start.strip(),
            args.end.strip(),
            args.limit,
            args.cursor,
        ),
        args,
    )


def run_who_was_here(args: argparse.Namespace) -> int:
    """Print the vehicles that were in the area."""

    def ask() -> dict[str, Any]:
        circle = (args.lat, args.lng, args.radius_m)
        if args.polygon is not None:
            if any(v is not None for v in circle):
                raise BadRequest("give --polygon or --lat/--lng/--radius-m, not both")
            polygon = read_polygon(args.polygon)
        elif any(v is None for v in circle):
            raise BadRequest("give --lat, --lng and --radius-m together, or --polygon FILE")
        else:
            polygon = None
        vehicles = None if args.vehicles is None else _ids(args.vehicles)
        hits = who_was_here(
            args.archive,
            *circle,
            args.start.strip(),
            args.end.strip(),
            polygon=polygon,
            vehicles=vehicles,
        )
        return {"vehicles": hits}

    return _answer("who-was-here", ask, args)


def run_stops(args: argparse.Namespace) -> int:
    """Print the stops of a vehicle or of a company's vehicles."""

    def ask() -> dict[str, Any]:
        if args.vehicle is not None:
            vehicles = [args.vehicle]
        else:
            registry = _registry(args)
            vehicles = company_vehicles(registry, args.company)
            if not vehicles:
                where = args.registry or f"the archive's registry as of {args.end}"
                raise BadRequest(f"no vehicle of company {args.company!r} in {where}")
        return {
            "stops": stops(args.archive, args.start.strip(), args.end.strip(), vehicles=vehicles)
        }

    return _answer("stops", ask, args)


def company_vehicles(registry: dict[str, Any], company: str) -> list[str]:
    """The ids of the registry's vehicles of ``company``, sorted.

    Examples
    --------
    >>> company_vehicles({"vehicles": [{"id": "V2", "company": "A"}, {"id": "V1",
    ...                   "company": "A"}, {"id": "V3", "company": "B"}]}, "A")
    ['V1', 'V2']
    """
    return sorted(
        str(v["id"])
        for v in registry.get("vehicles") or ()
        if isinstance(v, dict) and v.get("company") == company and "id" in v
    )


def read_polygon(path: str) -> dict[str, Any]:
    """The Polygon geometry of a GeoJSON file (a geometry, a Feature holding one, or a
    FeatureCollection of that one Feature)."""
    try:
        doc = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise BadRequest(f"cannot read {path}: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{path}: not JSON ({exc})") from None
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        # how map tools (geojson.io, QGIS) save one drawn polygon (review R1)
        features = doc.get("features")
        if not isinstance(features, list) or len(features) != 1:
            count = len(features) if isinstance(features, list) else 0
            raise BadRequest(f"{path}: a FeatureCollection of {count} features; give one polygon")
        doc = features[0]
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = doc.get("geometry")
    return doc  # replay.areas.polygon checks the rest and says what is wrong


def _registry(args: argparse.Namespace) -> dict[str, Any]:
    if args.registry is None:
        from replay.reference import reference_as_of  # noqa: PLC0415 - only for --company

        folder(args.archive)  # a missing archive is named as such
        return reference_as_of(args.archive, _t(args.end, "--to"))[1]
    try:
        doc = orjson.loads(Path(args.registry).read_bytes())
    except OSError as exc:
        raise BadRequest(f"cannot read {args.registry}: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{args.registry}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("vehicles"), list):
        raise BadRequest(f"{args.registry}: not a registry.json (no vehicles list)")
    return doc


def _t(text: str, flag: str) -> int:
    """A time flag as epoch ms (ISO 8601 with an offset, or epoch ms)."""
    try:
        return parse_ts(text.strip(), flag)
    except PingError as exc:
        raise ArchiveQueryError(
            f"{exc.detail}; give times as epoch milliseconds or ISO 8601 with an offset, "
            "e.g. 2025-06-02T20:00:00+08:00"
        ) from None


def _ids(text: str) -> list[str]:
    ids = [v.strip() for v in text.split(",") if v.strip()]
    if not ids:
        raise BadRequest(f"--vehicles {text!r}: give comma-separated vehicle ids")
    return ids


def _answer(command: str, ask, args: argparse.Namespace) -> int:
    try:
        args.archive = archive_dir(args.archive)  # read when the command runs (issue 12)
        result = ask()
    except (ArchiveQueryError, BadRequest, ArchiveSettingError) as exc:
        print(f"landun {command}: {exc}", file=sys.stderr)
        return EXIT_BAD
    except READ_ERRORS as exc:  # a damaged file under a final name: DuckDB names it (review R1)
        print(f"landun {command}: cannot read the archive: {exc}", file=sys.stderr)
        return EXIT_BAD
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    return EXIT_OK
