"""`landun score`: precision and recall of alerts against simulator ground truth.

Alerts and truths are matched one to one per type and vehicle: an alert can find a truth when
its ts lies in the truth's window; each truth is found by at most one alert, each alert counts
for at most one truth (a maximum matching). An unmatched alert inside the window of a truth
already found is a duplicate; any other unmatched alert is a false alarm; both count against
precision. Recall with no truths and precision with no alerts count as 1.0. Bad lines are
reported on stderr with their line numbers and skipped. ``--normal normal.json`` (from
``landun sim``) adds the false alarms per 1,000 vehicle-hours of normal operation and per
normal-operation pattern. ``--json`` prints ``{"overall": {"precision", "recall", "duplicates",
...}, "by_type": {TYPE: {...}}, "normal": {...}}``.

Exit codes: 0 scored, 2 a file cannot be read (or normal.json is malformed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sim.score import read_alerts, read_normal, read_truths, score, table

EXIT_OK, EXIT_UNREADABLE = 0, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `score` sub-command."""
    p = subparsers.add_parser(
        "score",
        help="precision and recall of alerts against ground truth",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--truth", required=True, help="truth.jsonl (from landun sim)")
    p.add_argument("--alerts", required=True, help="alerts.jsonl (from landun detect)")
    p.add_argument(
        "--normal", help="normal.json (from landun sim): false alarms per 1,000 vehicle-hours"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        truth_lines = Path(args.truth).read_bytes().splitlines()
        alert_lines = Path(args.alerts).read_bytes().splitlines()
    except OSError as exc:
        print(f"landun score: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_UNREADABLE
    normal = None
    if args.normal:
        try:
            normal = read_normal(json.loads(Path(args.normal).read_bytes()))
        except OSError as exc:
            print(f"landun score: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
            return EXIT_UNREADABLE
        except ValueError as exc:
            print(f"landun score: {args.normal}: {exc}", file=sys.stderr)
            return EXIT_UNREADABLE
    truths, bad_truths = read_truths(truth_lines, args.truth)
    alerts, bad_alerts = read_alerts(alert_lines, args.alerts)
    for problem in [*bad_truths, *bad_alerts]:
        print(f"skipped {problem}", file=sys.stderr)
    result = score(truths, alerts, normal)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(table(result))
    return EXIT_OK
