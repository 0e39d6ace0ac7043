"""`landun jt808 decode|encode`: the JT/T 808 codec by hand, for field engineers (issue 14).

decode HEX...   Decode frames given in hex (spaces allowed; ``-`` reads stdin). Several frames
                (``7E..7E7E..7E``) give one JSON object per line; bytes before the first flag are
                skipped; ``--vendors FILE --manufacturer ID`` names a city's or vendor's
                custom items (docs/jt808.md). Each object has ``msg_id``, ``version``,
                ``phone``, ``serial``, the body fields and, for 0x0200/0x0704, ``positions``
                with ``lat``, ``lng``, ``speed_kmh``, ``heading``, ``altitude_m``, ``time``
                (ISO 8601 UTC), ``alarm``, ``status``, named ``alarms`` and ``flags``, and
                ``extras``; ``--ping VEHICLE`` adds the engine's ``pings`` (docs/formats.md).
encode          Build a frame and print its hex: from options (``--msg 0x0200 --phone ...
                --lat --lng --speed --time ...``) or from ``--json FILE|-`` holding objects of
                the decode output's shape (one per line, or one object), one frame per line.

Exit codes: 0 done, 2 a bad frame (the reason is printed: bad_checksum, bad_escape, truncated,
bad_length, ...) or bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.errors import CodecError
from gateway.frame import FrameSplitter
from gateway.items import VendorProfile
from gateway.jsonview import from_dict, to_dict
from gateway.location import LOAD_STATES
from gateway.messages import Message, decode_frame
from gateway.to_ping import Terminal, to_ping
from gateway.vendors import table_from_dict

EXIT_OK, EXIT_BAD = 0, 2
_LOAD_BITS = {name: value for value, name in LOAD_STATES.items()}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `jt808` sub-command group."""
    parser = subparsers.add_parser(
        "jt808",
        help="decode or encode JT/T 808 frames (hex)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="jt808_command", required=True)

    dec = sub.add_parser("decode", help="decode hex frames to JSON")
    dec.add_argument("hex", nargs="+", help="frame bytes in hex (spaces allowed), or - for stdin")
    dec.add_argument(
        "--lenient", action="store_true", help="accept the real-world quirks (docs/jt808.md)"
    )
    dec.add_argument("--indent", type=int, default=None, help="pretty-print with this indent")
    dec.add_argument(
        "--vendors", help="vendor/city item profiles (JSON, docs/jt808.md) to name custom items"
    )
    dec.add_argument("--manufacturer", help="with --vendors: the terminal's manufacturer id")
    dec.add_argument(
        "--ping",
        metavar="VEHICLE",
        help="add `pings`: the engine's pings for this vehicle id (docs/formats.md), received "
        "stamped with each fix time",
    )
    dec.add_argument("--gcj02", action="store_true", help="with --ping: the terminal sends GCJ-02")
    dec.add_argument(
        "--no-load-sensor", action="store_true", help="with --ping: ignore status bits 8-9"
    )
    dec.set_defaults(func=run_decode)

    enc = sub.add_parser("encode", help="build frames, print hex")
    enc.add_argument("--json", help="file (or -) of objects shaped like decode's output")
    enc.add_argument("--msg", help="message id, e.g. 0x0200, 0x0002, 0x0102")
    enc.add_argument("--phone", default="0", help="terminal phone digits")
    enc.add_argument("--serial", type=int, default=0, help="message serial")
    enc.add_argument("--version", choices=("2011", "2013", "2019"), default="2013")
    enc.add_argument("--lat", type=float, help="latitude, degrees (negative: south)")
    enc.add_argument("--lng", type=float, help="longitude, degrees (negative: west)")
    enc.add_argument("--speed", type=float, default=0.0, help="km/h")
    enc.add_argument("--heading", type=int, default=0, help="degrees from north")
    enc.add_argument("--altitude", type=int, default=0, help="metres")
    enc.add_argument("--time", help="fix time, ISO 8601 with an offset (Z, +08:00)")
    enc.add_argument("--alarm", default="0", help="alarm DWORD (decimal or 0x...)")
    enc.add_argument("--status", default="0x3", help="status DWORD (default ACC on, fixed)")
    enc.add_argument("--loaded", choices=("empty", "half", "full"), help="status bits 8-9")
    enc.add_argument("--auth-code", help="0x0102 authentication code")
    enc.add_argument("--body", help="the body as hex (any other message id)")
    enc.set_defaults(func=run_encode)


def _read_text(source: str) -> str:
    return sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")


def _vendor(args: argparse.Namespace) -> VendorProfile | None:
    """The profile --vendors/--manufacturer name, or None; ValueError/OSError when they can't."""
    if not args.vendors:
        return None
    table = table_from_dict(json.loads(Path(args.vendors).read_text(encoding="utf-8")))
    profile = table.get(args.manufacturer)
    if profile is None:
        raise ValueError(f"{args.vendors}: no profile for manufacturer {args.manufacturer!r}")
    return profile


def run_decode(args: argparse.Namespace) -> int:
    try:
        vendor = _vendor(args)
    except OSError as exc:
        print(f"landun jt808 decode: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD
    except ValueError as exc:
        print(f"landun jt808 decode: {exc}", file=sys.stderr)
        return EXIT_BAD
    text = _read_text("-") if args.hex == ["-"] else " ".join(args.hex)
    try:
        data = bytes.fromhex("".join(text.split()))
    except ValueError:
        print("landun jt808 decode: not hex", file=sys.stderr)
        return EXIT_BAD
    frames: list[bytes | CodecError] = [data]
    if b"\x7e" in data:
        frames = FrameSplitter().feed(data)
        if data.rstrip(b"\x7e") and not data.endswith(b"\x7e"):
            frames.append(CodecError("truncated", "no closing 0x7E flag"))
    if not frames:
        frames = [CodecError("empty", "no frame between the flags")]
    status = EXIT_OK
    for item in frames:
        try:
            if isinstance(item, CodecError):
                raise item
            msg = decode_frame(item, lenient=args.lenient)
            out = to_dict(msg, vendor)
            if args.ping:
                out["pings"] = _pings(msg, args, vendor)
        except CodecError as exc:
            where = f" (0x{exc.header.msg_id:04X} serial {exc.header.serial})" if exc.header else ""
            print(f"landun jt808 decode: bad frame{where}: {exc}", file=sys.stderr)
            status = EXIT_BAD
            continue
        print(json.dumps(out, ensure_ascii=False, indent=args.indent))
    return status


def _pings(msg: Message, args: argparse.Namespace, vendor: VendorProfile | None) -> list:
    """The pings of a decoded 0x0200/0x0704 (none for other messages); a position that makes
    no ping (no valid time, encrypted coordinates) is left out with a note on stderr."""
    terminal = Terminal(args.ping, args.gcj02, not args.no_load_sensor, vendor, args.lenient)
    if "location" in msg.fields:
        positions, backfill = [msg.fields["location"]], False
    elif "batch" in msg.fields:
        positions, backfill = msg.fields["batch"].positions, msg.fields["batch"].backfill
    else:
        return []
    pings = []
    for i, loc in enumerate(positions):
        try:
            pings.append(to_ping(loc, terminal, msg.header.serial, loc.time_ms or 0, backfill))
        except CodecError as exc:
            print(f"landun jt808 decode: position {i} makes no ping: {exc}", file=sys.stderr)
    return pings


def _from_options(args: argparse.Namespace) -> dict:
    msg_id = int(args.msg, 0)
    d: dict = {"msg_id": msg_id, "phone": args.phone, "serial": args.serial}
    d["version"] = args.version
    if args.body is not None:
        d["body"] = args.body
    elif msg_id in (0x0200, 0x0704):
        if args.lat is None or args.lng is None or args.time is None:
            raise CodecError("bad_value", "--lat, --lng and --time are required for a position")
        status = int(args.status, 0)
        if args.loaded:
            status = status & ~0x300 | _LOAD_BITS[args.loaded] << 8
        position = {
            "lat": args.lat,
            "lng": args.lng,
            "speed_kmh": args.speed,
            "heading": args.heading,
            "altitude_m": args.altitude,
            "time": args.time,
            "alarm": int(args.alarm, 0),
            "status": status,
        }
        d["positions"] = [position]
    elif msg_id == 0x0102:
        d["auth_code"] = args.auth_code or ""
    return d


def run_encode(args: argparse.Namespace) -> int:
    try:
        if args.json:
            text = _read_text(args.json).strip()
            objects = [json.loads(text)] if text.startswith("{") and "\n{" not in text else None
            if objects is None:
                objects = [json.loads(line) for line in text.splitlines() if line.strip()]
        elif args.msg:
            objects = [_from_options(args)]
        else:
            print("landun jt808 encode: give --json FILE or --msg ID", file=sys.stderr)
            return EXIT_BAD
        frames = [from_dict(obj) for obj in objects]
    except OSError as exc:
        print(f"landun jt808 encode: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD
    except (CodecError, ValueError) as exc:
        print(f"landun jt808 encode: {exc}", file=sys.stderr)
        return EXIT_BAD
    for raw in frames:
        print(raw.hex())
    return EXIT_OK
