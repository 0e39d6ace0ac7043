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

from geofence import FenceError, FenceIndex, load_fences
from stream.engine import EngineContext, EngineState, EventKind, Thresholds, finish, process
from stream.ping import Ping, PingError, iso_ts, parse_ping, parse_ts
from stream.registry import Registry, RegistryError

EXIT_OK, EXIT_UNREADABLE = 0, 2
CHUNK = 16_384  # pings handed to the engine at a time (results do not depend on it)


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
    try:
        handle = Path(args.pings).open("rb")  # noqa: SIM115 - read in chunks below
    except OSError as exc:
        return _fail(f"cannot read pings {args.pings}: {exc.strerror or exc}")
    tally = Tally()
    states = EngineState()
    with handle:
        batch = []
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                tally.blank += 1
                continue
            tally.lines += 1
            try:
                ping = parse_ping(line, ref=number)
            except PingError as exc:
                tally.reject_line(number, exc, line)
                continue
            if ping.warnings:
                tally.warn(ping)
            batch.append(ping)
            if len(batch) >= CHUNK:
                states, events = process(batch, ctx, states)
                tally.absorb(events)
                batch = []
        states, events = process(batch, ctx, states)
        tally.absorb(events)
    states, events = finish(ctx, states, until_ms=until)
    tally.absorb(events)
    tally.until = states.watermark
    try:
        tally.write(args)
    except OSError as exc:
        return _fail(f"cannot write output: {exc}")
    tally.summary(sys.stderr)
    return EXIT_OK


class Tally:
    """Final alerts and trips by id, rejections, and counts for the summary."""

    def __init__(self) -> None:
        self.lines = 0
        self.blank = 0
        self.alerts: dict[str, dict] = {}
        self.trips: dict[str, dict] = {}
        self.rejected: list[dict] = []
        self.warned: list[dict] = []  # pings that lost a bad optional field (issue 11)
        self.warned_fields: Counter[str] = Counter()
        self.until = -1  # the final tick: the end of the time range processed

    def reject_line(self, number: int, exc: PingError, line: bytes) -> None:
        raw = line.decode("utf-8", errors="replace").rstrip("\r\n")
        self.rejected.append(
            {
                "line": number,
                "reason": exc.reason,
                "detail": exc.detail,
                "vehicle": exc.vehicle,  # kept whenever the id parsed (issue 11)
                "raw": raw[:2000],
            }
        )

    def warn(self, ping: Ping) -> None:
        """Count a ping's warnings by field and keep it for ``--warnings``."""
        self.warned_fields.update(ping.warned_fields())
        record = {"ref": ping.ref, "vehicle": ping.vehicle, "ts": iso_ts(ping.ts)}
        self.warned.append({**record, "warnings": list(ping.warnings or ())})

    def absorb(self, events: list) -> None:
        for kind, payload in events:
            if kind == EventKind.ALERT:
                self.alerts[payload["id"]] = payload
            elif kind == EventKind.TRIP:
                self.trips[payload["id"]] = payload
            elif kind == EventKind.REJECTED:
                ping = payload["ping"]
                self.rejected.append(
                    {
                        "line": payload["ref"],
                        "reason": payload["reason"],
                        "detail": payload["detail"],
                        "vehicle": ping["vehicle"],
                        "ping": ping,
                    }
                )

    def write(self, args: argparse.Namespace) -> None:
        alerts = sorted(self.alerts.values(), key=lambda a: (parse_ts(a["ts"]), a["id"]))
        _write_lines(args.out, alerts)
        if args.trips:
            trips = sorted(self.trips.values(), key=lambda t: (_start(t), t["id"]))
            _write_lines(args.trips, trips)
        if args.rejected:
            rejected = sorted(self.rejected, key=lambda r: (r["line"] is None, r["line"] or 0))
            _write_lines(args.rejected, rejected)
        if args.warnings:
            _write_lines(args.warnings, self.warned)  # in line order, as read

    def summary(self, stream) -> None:
        reasons = Counter(r["reason"] for r in self.rejected)
        types = Counter(a["type"] for a in self.alerts.values())
        rejected = sum(reasons.values())
        print(
            f"pings: {self.lines} read, {self.lines - rejected} accepted, {rejected} rejected"
            + (f" ({self.blank} blank lines skipped)" if self.blank else ""),
            file=stream,
        )
        for reason, n in sorted(reasons.items()):
            print(f"  rejected {reason}: {n}", file=stream)
        if self.warned:  # parsed, but a field was dropped: say which, however few (issue 11)
            dropped = f"{len(self.warned)} pings had a bad optional field dropped"
            print(f"warnings: {dropped}", file=stream)
            for name, n in sorted(self.warned_fields.items()):
                print(f"  warning {name}: {n}", file=stream)
        print(f"alerts: {len(self.alerts)}", file=stream)
        for kind, n in sorted(types.items()):
            print(f"  {kind}: {n}", file=stream)
        print(f"trips and rounds: {len(self.trips)}", file=stream)
        if self.until >= 0:  # what --until needs to replay part of this input the same way
            print(f"until: {iso_ts(self.until)} ({self.until})", file=stream)


def _context(args: argparse.Namespace) -> EngineContext | None:
    try:
        fences = load_fences(args.fences)
    except OSError as exc:
        _fail(f"cannot read fences {args.fences}: {exc.strerror or exc}")
        return None
    except FenceError as exc:
        _fail(str(exc))
        return None
    try:
        # A permit or contract naming a fence that is not in the fences file (or one of the
        # wrong kind) is refused, as a missing vehicle is (issue 11).
        registry = Registry.load(args.registry, fences={f.id: f.kind for f in fences})
    except OSError as exc:
        _fail(f"cannot read registry {args.registry}: {exc.strerror or exc}")
        return None
    except RegistryError as exc:
        _fail(str(exc))
        return None
    thresholds = Thresholds()
    if args.thresholds:
        try:
            thresholds = Thresholds.from_mapping(orjson.loads(Path(args.thresholds).read_bytes()))
        except (OSError, orjson.JSONDecodeError, ValueError, TypeError) as exc:
            _fail(f"bad thresholds file {args.thresholds}: {exc}")
            return None
    return EngineContext(FenceIndex(fences), registry, thresholds)


def _write_lines(path: str, records: list[dict]) -> None:
    with open(path, "wb") as out:
        for record in records:
            out.write(orjson.dumps(record))
            out.write(b"\n")


def _start(trip: dict) -> int:
    ts = trip.get("load_ts") or trip.get("start_ts")
    return parse_ts(ts) if ts else 0


def _fail(message: str) -> int:
    print(f"landun detect: {message}", file=sys.stderr)
    return EXIT_UNREADABLE
