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

A truth file that is not one is refused before anything is scored (issue 13: an alerts file or
an empty file given as ``--truth`` scored a perfect recall over no truths): an empty file, an
alerts file (its lines have an ``id`` and a ``severity`` or ``evidence``, and no ``window``), or
any file of which not one line is a truth ``{"type", "vehicle", "ts", "window": [start, end]}``.
A truth file given as ``--alerts`` (every line a truth, none with an ``id``) is refused too.

Exit codes: 0 scored, 2 a file cannot be read, is no truth file, or normal.json is malformed
(nothing is printed on stdout then).
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
    if not truths:
        print(f"landun score: {_not_truth(args.truth, truth_lines, bad_truths)}", file=sys.stderr)
        return EXIT_UNREADABLE
    if _is_truth_file(alert_lines):  # the truth twice would score a perfect 1.0 (issue 13)
        print(f"landun score: {args.alerts} is a truth file (window, no id), not an alerts file: "
              "--alerts takes what landun detect --out wrote", file=sys.stderr)  # fmt: skip
        return EXIT_UNREADABLE
    alerts, bad_alerts = read_alerts(alert_lines, args.alerts)
    for problem in [*bad_truths, *bad_alerts]:
        print(f"skipped {problem}", file=sys.stderr)
    result = score(truths, alerts, normal)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(table(result))
    return EXIT_OK


ALERT_ONLY_KEYS = ("severity", "evidence")  # alerts.jsonl has them; truth.jsonl never does


def _not_truth(path: str, lines: list[bytes], problems: list[str]) -> str:
    """Why ``path``, which gave no truth at all, is no truth file (issue 13).

    Parameters
    ----------
    path : str
        The ``--truth`` argument, named in the message.
    lines : list of bytes
        The file's lines.
    problems : list of str
        What :func:`sim.score.read_truths` said about each line it skipped.

    Returns
    -------
    str
        One sentence for stderr.
    """
    hint = "the simulator's truth.jsonl (landun sim --out DIR writes DIR/truth.jsonl)"
    rows = [line for line in lines if line.strip()]
    if not rows:
        return f"{path} is empty: no truth to score against; --truth takes {hint}"
    if all(_looks_like_alert(line) for line in rows):
        return (f"{path} is an alerts file (id, severity, evidence, no window), not a truth "
                f"file: pass it as --alerts, and {hint} as --truth")  # fmt: skip
    return (f"{path} is not a truth file: none of its {len(rows)} lines is a truth "
            f'{{"type", "vehicle", "ts", "window": [start, end]}} (first: {problems[0]}); '
            f"--truth takes {hint}")  # fmt: skip


def _is_truth_file(lines: list[bytes]) -> bool:
    """Every line of ``lines`` is a truth (a ``window``, no ``id``); False for an empty file,
    which is a fine alerts file (the engine raised nothing)."""
    rows = [line for line in lines if line.strip()]
    truths, problems = read_truths(rows)
    return bool(truths) and not problems and all("id" not in json.loads(r) for r in rows)


def _looks_like_alert(line: bytes) -> bool:
    try:
        obj = json.loads(line)
    except ValueError:
        return False
    return (isinstance(obj, dict) and "window" not in obj and "id" in obj
            and any(k in obj for k in ALERT_ONLY_KEYS))  # fmt: skip
