"""`landun evidence ALERT_ID --out DIR`: write the evidence pack of one alert (issue 12).

The pack (docs/formats.md, "Evidence pack") is built from the archive (``--archive``, default
LANDUN_ARCHIVE_DIR): the vehicle's pings as received over the range that raises the alert
again, the fences and registry in force at the alert's time, the thresholds, the alert and its
versions, the rule, the track (GeoJSON, KML), the case document (HTML, PDF) and a SHA-256
manifest, which is printed. ``reproduce.sh`` in the pack re-runs it.

The case audit trail comes from PostgreSQL, the system of record, when a database is given
(``--database URL``, default LANDUN_DATABASE_URL); without one ``audit.json`` says so. An alert
the database does not hold (an embedded run's) gets the same note.

Exit codes: 0 written; 2 the alert is not in the archive, ``--out`` exists and is not empty, a
bad ``--thresholds`` file, or the database cannot be read.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import orjson

from landun.archive_setting import ArchiveSettingError, archive_dir
from replay.evidence import build_pack
from replay.offline import ReferenceFileError, read_thresholds
from replay.queries import ArchiveQueryError

EXIT_OK, EXIT_BAD = 0, 2
URL_VARIABLE = "LANDUN_DATABASE_URL"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `evidence` sub-command."""
    parser = subparsers.add_parser(
        "evidence",
        help="write the evidence pack of an alert (pings, reference, rule, report, manifest)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("alert_id", metavar="ALERT_ID", help="the alert's id")
    parser.add_argument("--out", required=True, help="the pack's directory (new or empty)")
    parser.add_argument(
        "--archive",  # the setting is read when the command runs (issue 12)
        help="archive directory (default LANDUN_ARCHIVE_DIR, var/archive)",
    )
    parser.add_argument(
        "--thresholds",
        help="the engine settings the live run used (JSON; default: this version's defaults)",
    )
    parser.add_argument(
        "--database",
        default=os.environ.get(URL_VARIABLE),
        help=f"PostgreSQL URL for the case audit trail (default ${URL_VARIABLE}; none: no trail)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the pack; print its manifest."""
    try:
        args.archive = archive_dir(args.archive)
    except ArchiveSettingError as exc:
        return _fail(str(exc))
    try:
        thresholds = read_thresholds(args.thresholds) if args.thresholds else None
    except ReferenceFileError as exc:
        return _fail(str(exc))
    try:
        case, note = read_case(args.database, args.alert_id)
    except Exception as exc:  # noqa: BLE001 - any database failure: say it, build nothing
        return _fail(f"cannot read the case audit trail from the database: {exc}")
    try:
        manifest = build_pack(
            args.archive,
            args.alert_id,
            args.out,
            audit=case,
            audit_note=note,
            built_at_ms=int(time.time() * 1000),
            thresholds=thresholds,
        )
    except ArchiveQueryError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {args.out}: {exc}")
    sys.stdout.buffer.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    return EXIT_OK


def read_case(url: str | None, alert_id: str) -> tuple[dict[str, Any] | None, str]:
    """``(case, note)``: the alert's case from PostgreSQL, or None and why there is none.

    The seam the tests replace; api.db is imported only when a database is given.
    """
    if not url:
        return None, (
            f"未连接案件数据库，无案件流转记录 (no database: {URL_VARIABLE} was not set when the "
            "pack was built)"
        )
    from api.db import connect
    from api.db.alerts import PgAlertStore

    engine = connect(url, pool_size=1, max_overflow=0)
    try:
        record = PgAlertStore(engine).get(alert_id)
    finally:
        engine.dispose()
    if record is None or record.get("case") is None:
        return None, "案件数据库中没有该告警 (the database holds no case for this alert)"
    return record["case"], "案件数据库 PostgreSQL (the system of record)"


def _fail(message: str) -> int:
    print(f"landun evidence: {message}", file=sys.stderr)
    return EXIT_BAD
