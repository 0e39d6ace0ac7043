"""`landun fences check|match|bench`: validate fence files, look up a point, benchmark the index.

Exit codes: 0 done (file valid), 1 the fence file has problems (all are printed; a file with
no fence at all, such as an empty FeatureCollection, is one), 2 the file cannot be read or the
arguments are wrong.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter

from geofence import FenceIndex
from geofence.datum import transform
from geofence.loader import FILE, check_fences
from geofence.model import Datum, Fence, FenceKind

EXIT_OK, EXIT_PROBLEMS, EXIT_UNREADABLE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `fences` sub-command group.

    Parameters
    ----------
    subparsers
        The sub-parser collection of the `landun` parser.
    """
    parser = subparsers.add_parser(
        "fences",
        help="validate fence files, match a point, benchmark the fence index",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="fences_command", required=True)

    check = sub.add_parser("check", help="validate a fence GeoJSON file and summarise it")
    check.add_argument("file", help="fences GeoJSON file (docs/formats.md)")
    check.set_defaults(func=run_check)

    match = sub.add_parser("match", help="print the fences covering a point")
    match.add_argument("file", help="fences GeoJSON file")
    match.add_argument("--lat", type=float, required=True, help="latitude, degrees")
    match.add_argument("--lng", type=float, required=True, help="longitude, degrees")
    match.add_argument(
        "--datum",
        choices=[d.value for d in Datum],
        default=Datum.WGS84.value,
        help="datum of --lat/--lng (converted to WGS-84 before matching; default wgs84)",
    )
    match.add_argument("--json", action="store_true", help="print one JSON object")
    match.set_defaults(func=run_match)

    # No option prefix of its own: argparse's REMAINDER otherwise refuses arguments that start
    # with "-" (they must all reach bench.geofence, --help included).
    bench = sub.add_parser(
        "bench",
        help="benchmark the fence index (arguments go to bench.geofence)",
        add_help=False,
        prefix_chars="+",
    )
    bench.add_argument("bench_args", nargs=argparse.REMAINDER, help="bench.geofence arguments")
    bench.set_defaults(func=run_bench)


def _load(path: str, command: str) -> tuple[list[Fence], list[tuple[str, str]]] | None:
    """Fences and problems of ``path``, or None (after saying why) when it cannot be read."""
    try:
        return check_fences(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(f"landun fences {command}: cannot read {path}: {reason}", file=sys.stderr)
        return None


def _print_problems(path: str, problems: list[tuple[str, str]]) -> None:
    n = len(problems)
    print(f"{path}: {n} problem{'s' if n != 1 else ''}")
    for where, message in problems:
        print(f"  {where}: {message}")


def run_check(args: argparse.Namespace) -> int:
    """Validate ``args.file``: per-kind summary of the valid fences, then every problem."""
    loaded = _load(args.file, "check")
    if loaded is None:
        return EXIT_UNREADABLE
    fences, problems = loaded
    if not fences and all(where == FILE for where, _ in problems):
        return _refuse_fenceless(args.file, problems)
    counts = Counter(f.kind for f in fences)
    label = "fences" if not problems else "valid fences"
    print(f"{args.file}: {len(fences)} {label}")
    width = max(len(k.value) for k in FenceKind)
    for kind in FenceKind:
        print(f"  {kind.value:<{width}}  {counts.get(kind, 0):>5}")
    print(f"  {'total':<{width}}  {len(fences):>5}")
    if problems:
        _print_problems(args.file, problems)
        return EXIT_PROBLEMS
    print("ok: no problems")
    return EXIT_OK


def _refuse_fenceless(path: str, problems: list[tuple[str, str]]) -> int:
    """A file without a single feature: say so, not a table of zeros (issue 13: an empty
    FeatureCollection read as "0 valid fences" over eight zero counts; an empty list as "ok")."""
    empty = [(w, m) for w, m in problems if m == "FeatureCollection has no features"]
    if empty or not problems:
        what = "the FeatureCollection is empty" if empty else "the list of features is empty"
        print(f"{path}: no fences: {what}; a fence file needs at least one Feature "
              '(docs/formats.md, "fences.geojson")')  # fmt: skip
    others = [p for p in problems if p not in empty]
    if others:
        _print_problems(path, others)
    return EXIT_PROBLEMS


def run_match(args: argparse.Namespace) -> int:
    """Print the fences of ``args.file`` covering (``args.lat``, ``args.lng``) in ``args.datum``."""
    if not (math.isfinite(args.lat) and math.isfinite(args.lng)):
        print("landun fences match: --lat and --lng must be finite numbers", file=sys.stderr)
        return EXIT_UNREADABLE
    if not (-90 <= args.lat <= 90 and -180 <= args.lng <= 180):
        swapped = " (swapped?)" if abs(args.lat) > 90 and abs(args.lng) <= 90 else ""
        message = f"--lat must be in -90..90 and --lng in -180..180{swapped}"
        print(f"landun fences match: {message}", file=sys.stderr)
        return EXIT_UNREADABLE
    loaded = _load(args.file, "match")
    if loaded is None:
        return EXIT_UNREADABLE
    fences, problems = loaded
    if problems:
        _print_problems(args.file, problems)
        return EXIT_PROBLEMS
    lng, lat = transform(args.lng, args.lat, args.datum, Datum.WGS84)
    index = FenceIndex(fences)
    hits = [index.fence(fence_id) for fence_id in index.match(lat, lng)]
    if args.json:
        print(json.dumps(_match_json(args, lat, lng, hits), ensure_ascii=False))
        return EXIT_OK
    where = f"lat {lat:.7f}, lng {lng:.7f} (wgs84)"
    if args.datum != Datum.WGS84.value:
        where += f", from {args.datum} lat {args.lat}, lng {args.lng}"
    print(f"{len(hits)} fence{'s' if len(hits) != 1 else ''} cover {where}")
    for fence in hits:
        print(f"  {fence.id}\t{fence.kind.value}\t{fence.name}")
    return EXIT_OK


def _match_json(args: argparse.Namespace, lat: float, lng: float, hits: list[Fence]) -> dict:
    return {
        "point": {"lat": lat, "lng": lng, "datum": Datum.WGS84.value},
        "input": {"lat": args.lat, "lng": args.lng, "datum": args.datum},
        "fences": [
            {"id": f.id, "kind": f.kind.value, "name": f.name, "district": f.district} for f in hits
        ],
    }


def run_bench(args: argparse.Namespace) -> int:
    """Hand the remaining arguments to ``bench.geofence.main`` (imported only when used)."""
    try:
        from bench import geofence as bench_geofence
    except ModuleNotFoundError as exc:
        print(f"landun fences bench: the benchmark is not available ({exc})", file=sys.stderr)
        return EXIT_UNREADABLE
    return int(bench_geofence.main(list(args.bench_args)) or 0)
