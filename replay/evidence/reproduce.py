"""``reproduce.sh`` and ``README.txt`` of an evidence pack (issue 12): how to check it and
re-run it with ``landun detect`` in the pack's directory.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from replay.evidence.span import Span
from stream.eventtime import iso_ts, parse_ts

RERUN_OUT = "alerts.rerun.jsonl"


def command(span: Span) -> list[str]:
    """The command that re-runs the pack (run inside the pack's directory)."""
    return [
        "landun", "detect",
        "--fences", "fences.geojson",
        "--registry", "registry.json",
        "--pings", "pings.jsonl",
        "--thresholds", "thresholds.json",
        "--until", str(iso_ts(span.to_ms)),
        "--out", RERUN_OUT,
    ]  # fmt: skip


def write_reproduce(
    folder: Path,
    alert: dict[str, Any],
    span: Span,
    rerun: list[str],
    notes: tuple[str, ...],
    as_of: int | None,
) -> list[str]:
    """``reproduce.sh`` and ``README.txt``."""
    alert_id = str(alert["id"])
    needle = shlex.quote(f'"id":"{alert_id}"')
    script = "\n".join(
        [
            "#!/bin/sh",
            "# Re-run this pack's pings through the engine with the pack's reference data and",
            "# thresholds; the alert below must come out again (same id, type and time).",
            "set -e",
            'cd "$(dirname "$0")"',
            shlex.join(rerun),
            f"if grep -q {needle} {RERUN_OUT}; then",
            f"  echo 'alert {alert_id} raised again: see {RERUN_OUT}'",
            "else",
            f"  echo 'alert {alert_id} NOT raised again' >&2; exit 1",
            "fi",
            "",
        ]
    )
    (folder / "reproduce.sh").write_text(script, "utf-8")
    (folder / "reproduce.sh").chmod(0o755)
    lines = [
        f"Evidence pack of alert {alert_id} ({alert.get('type')}, vehicle {alert.get('vehicle')},",
        f"at {iso_ts(parse_ts(alert['ts']))}). Layout: docs/formats.md, 'Evidence pack'.",
        "",
        "Check it: every file's SHA-256 and size are in manifest.json",
        "(python -c 'from replay.evidence import verify_pack; print(verify_pack(\".\"))').",
        "",
        "Re-run it (inside this directory, with landun installed):",
        "",
        "    " + shlex.join(rerun),
        "",
        f"then look for the alert id in {RERUN_OUT}; ./reproduce.sh does both.",
        "",
        f"pings.jsonl holds the vehicle's pings from {iso_ts(span.from_ms)} to "
        f"{iso_ts(span.to_ms)} (event time),",
        "and later ones that arrived before the last of them, in the order they arrived, every",
        "verdict included, each as received. The range is:",
        *(f"  - {reason}" for reason in span.reasons),
        "",
        "fences.geojson and registry.json are the reference data in force at "
        f"{iso_ts(as_of) if as_of is not None else 'the latest archived version'}",
        "(the alert's time unless the vehicle was not registered yet then), trimmed to what",
        "concerns the vehicle (docs/formats.md).",
        *(f"  - dropped: {note}" for note in notes),
        "thresholds.json: the engine settings the pack was judged with.",
        "",
    ]
    (folder / "README.txt").write_text("\n".join(lines), "utf-8")
    return ["reproduce.sh", "README.txt"]
