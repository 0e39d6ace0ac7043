"""`landun detect`: run the detection engine over a file of pings, as they would arrive.

Pings are taken in file order (arrival order). Time-driven rules tick with the watermark — the
highest event time seen so far over the whole input — and a final tick at the end uses the last
watermark (no extrapolation past the last ping), or ``--until`` when later. What the engine says
about one vehicle depends only on its pings, the reference data and that time range (issue 11):
one truck's lines run alone with ``--until`` = the fleet run's end (printed as ``until:``) give
its alerts of the fleet run. Outputs (docs/formats.md):

- ``--out``: alerts, one line per alert id in its final state, sorted by ``ts`` then ``id``;
- ``--trips``: trips and kitchen rounds, one line per id in its final state;
- ``--rejected``: every rejected line or ping with its line number and reason (``bad_json``,
  ``bad_field`` for unparseable lines, the hygiene reasons otherwise);
- ``--warnings``: every line that parsed with a bad optional field dropped, one line each
  (``ref`` = line number, ``vehicle``, ``ts``, ``warnings``). The summary counts them by field
  (issue 11: a gateway sending ``"lift": 1`` would otherwise blind every tipper rule unseen).
- ``--archive DIR``: the same run also writes the archive (issue 12; docs/formats.md "Archive"):
  every non-blank line with its verdict, the alerts, trips, stops and fence events, and the
  fences and registry in force; ``landun replay`` and the investigation commands read it. The
  other outputs are the same with or without it. The directory is stamped with the input
  (``_embedded.json``): the same input again replaces its archive; another input's archive, or
  the Kafka consumer's, is refused (exit 2) unless ``--archive-replace`` (embedded only).

The driver itself is ``replay.offline.detect_file``; this module parses arguments and writes.
A bad line never aborts the run. Exit codes: 0 done; 2 a fence, registry or pings file cannot be
read or is invalid (the problems are printed; a permit or contract naming a fence that is not in
the fences file, or one of the wrong kind, is invalid), or the arguments are wrong.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import orjson

from landun.archive_setting import ArchiveSettingError, archive_dir
from replay.offline import Detection, ReferenceFileError, context_from_files, detect_file
from replay.stamp import DETECT, ArchiveTaken, claim, input_of
from stream.engine import EngineContext
from stream.eventtime import iso_ts, parse_ts
from stream.wire_values import PingError

EXIT_OK, EXIT_UNREADABLE = 0, 2
FROM_SETTING = ""  # ``--archive`` without a value: LANDUN_ARCHIVE_DIR, read when run (issue 12)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `detect` sub-command."""
    parser = subparsers.add_parser(
        "detect",
        help="detect violations in a file of pings (alerts, trips, rejected pings)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--fences", required=True, help="fences GeoJSON file")
    parser.add_argument("--registry", required=True, help="registry.json")
    parser.add_argument("--pings", required=True, help="pings.jsonl, in arrival order")
    parser.add_argument("--out", required=True, help="alerts.jsonl to write")
    parser.add_argument("--trips", help="trips.jsonl to write (trips and kitchen rounds)")
    parser.add_argument("--rejected", help="rejected.jsonl to write (line, reason, ping)")
    parser.add_argument(
        "--warnings",
        help="warnings.jsonl to write: pings kept without a bad optional field (ref, vehicle, "
        "ts, warnings)",
    )
    parser.add_argument("--thresholds", help="JSON file of engine settings overriding the defaults")
    parser.add_argument(
        "--until",
        help="end of the time range processed (ISO 8601 with offset, or epoch ms): the final "
        "tick is at the later of it and the last watermark. To replay one truck's log alone "
        "as the fleet run judged it, give the fleet run's end (its summary prints it)",
    )
    parser.add_argument(
        "--archive",
        nargs="?",
        const=FROM_SETTING,
        help="also write the archive (every line with its verdict, the events, the reference "
        "data) to this directory, for landun replay and the investigation commands; without a "
        "value: LANDUN_ARCHIVE_DIR (default var/archive). A directory holding another input's "
        "archive is refused",
    )
    parser.add_argument(
        "--archive-replace",
        action="store_true",
        help="with --archive: delete an earlier embedded archive of another input there first "
        "(never the Kafka consumer's archive)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the engine over ``args.pings``; see the module docstring."""
    ctx = _context(args)
    if ctx is None:
        return EXIT_UNREADABLE
    until = None
    if args.until is not None:
        try:
            until = parse_ts(args.until.strip(), "--until")
        except PingError as exc:
            return _fail(exc.detail)
    if args.archive_replace and args.archive is None:
        return _fail("--archive-replace goes with --archive")
    if args.archive is not None:
        failed = _claim(args)
        if failed is not None:
            return failed
    reference = _reference(args) if args.archive else None
    try:
        found = detect_file(
            args.pings, ctx, until_ms=until, archive=args.archive, reference=reference
        )
    except OSError as exc:
        if exc.filename is not None and str(exc.filename) == str(args.pings):
            return _fail(f"cannot read pings {args.pings}: {exc.strerror or exc}")
        return _fail(f"cannot write the archive {args.archive}: {exc.strerror or exc}")
    try:
        _write(found, args)
    except OSError as exc:
        return _fail(f"cannot write output: {exc}")
    _summary(found, sys.stderr)
    return EXIT_OK


def _write(found: Detection, args: argparse.Namespace) -> None:
    _write_lines(args.out, found.sorted_alerts())
    if args.trips:
        _write_lines(args.trips, found.sorted_trips())
    if args.rejected:
        _write_lines(args.rejected, found.sorted_rejected())
    if args.warnings:
        _write_lines(args.warnings, found.warned)  # in line order, as read


def _summary(found: Detection, stream) -> None:
    reasons = Counter(r["reason"] for r in found.rejected)
    types = Counter(a["type"] for a in found.alerts.values())
    rejected = sum(reasons.values())
    print(
        f"pings: {found.lines} read, {found.lines - rejected} accepted, {rejected} rejected"
        + (f" ({found.blank} blank lines skipped)" if found.blank else ""),
        file=stream,
    )
    for reason, n in sorted(reasons.items()):
        print(f"  rejected {reason}: {n}", file=stream)
    if found.warned:  # parsed, but a field was dropped: say which, however few (issue 11)
        dropped = f"{len(found.warned)} pings had a bad optional field dropped"
        print(f"warnings: {dropped}", file=stream)
        for name, n in sorted(found.warned_fields.items()):
            print(f"  warning {name}: {n}", file=stream)
    print(f"alerts: {len(found.alerts)}", file=stream)
    for kind, n in sorted(types.items()):
        print(f"  {kind}: {n}", file=stream)
    print(f"trips and rounds: {len(found.trips)}", file=stream)
    if found.until >= 0:  # what --until needs to replay part of this input the same way
        print(f"until: {iso_ts(found.until)} ({found.until})", file=stream)


def _claim(args: argparse.Namespace) -> int | None:
    """Resolve and stamp the ``--archive`` directory before anything is written (issue 12: a
    second input into the same directory once silently replaced the first one's files)."""
    try:
        args.archive = archive_dir(args.archive or None)
        source = input_of(args.pings)
    except ArchiveSettingError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot read pings {args.pings}: {exc.strerror or exc}")
    try:
        claim(args.archive, DETECT, source, replace=args.archive_replace)
    except ArchiveTaken as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write the archive {args.archive}: {exc.strerror or exc}")
    return None


def _reference(args: argparse.Namespace) -> tuple[list, dict]:
    """The fences' Features and the registry as given (both files already validated): the
    snapshot archived with ``--archive``."""
    data = orjson.loads(Path(args.fences).read_bytes().decode("utf-8-sig"))
    if isinstance(data, list):
        features = data
    elif data.get("type") == "Feature":
        features = [data]
    else:
        features = data["features"]
    return features, orjson.loads(Path(args.registry).read_bytes())


def _context(args: argparse.Namespace) -> EngineContext | None:
    try:
        return context_from_files(args.fences, args.registry, args.thresholds)
    except ReferenceFileError as exc:
        _fail(str(exc))
        return None


def _write_lines(path: str, records: list[dict]) -> None:
    with open(path, "wb") as out:
        for record in records:
            out.write(orjson.dumps(record))
            out.write(b"\n")


def _fail(message: str) -> int:
    print(f"landun detect: {message}", file=sys.stderr)
    return EXIT_UNREADABLE
