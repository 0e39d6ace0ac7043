"""Build the evidence pack of one alert from the archive (issue 12): :func:`build_pack`.

A pack is a directory an officer can hand over and anyone can check and re-run (layout in
docs/formats.md, "Evidence pack"): the vehicle's pings as received, the reference data and
thresholds the engine judged them with, the alert and its versions, the rule, the case audit
trail, the track (GeoJSON, KML), the case document (HTML, PDF) and a SHA-256 manifest. Running
``reproduce.sh`` (``landun detect`` on the pack's own files, ``--until`` its end) raises the
alert again: same id, type and time.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

import orjson

from replay.evidence.document import case_document
from replay.evidence.gather import AlertNotArchived, Gathered, gather
from replay.evidence.manifest import file_entry, write_manifest
from replay.evidence.mapimage import map_shapes
from replay.evidence.pdf import report_pdf
from replay.evidence.report import report_html
from replay.evidence.reproduce import command, write_reproduce
from replay.evidence.rules import rule_markdown
from replay.evidence.track import track_geojson, track_kml
from replay.evidence.trim import Reference, nearest_place
from replay.queries import ArchiveQueryError
from stream.engine import Thresholds
from stream.eventtime import iso_ts, parse_ts

__all__ = ["AlertNotArchived", "build_pack", "ping_line"]
_JSON = orjson.OPT_INDENT_2


def build_pack(
    archive: str | os.PathLike,
    alert_id: str,
    out_dir: str | os.PathLike,
    *,
    audit: dict[str, Any] | None = None,
    audit_note: str | None = None,
    built_at_ms: int | None = None,
    thresholds: Thresholds | None = None,
) -> dict[str, Any]:
    """Write the evidence pack of ``alert_id`` into ``out_dir``; return its manifest.

    Parameters
    ----------
    archive : path
        The archive directory.
    alert_id : str
        The alert.
    out_dir : path
        The pack's directory: created, or an existing empty one.
    audit : dict, optional
        The case as the API's alert store holds it (``{"state", "history": [{"state", "by",
        "at", "note"}, ...]}``); None: ``audit.json`` says none was available and why.
    audit_note : str, optional
        Why there is no audit trail (or where it came from), written to ``audit.json``.
    built_at_ms : int, optional
        When the pack is built (epoch ms; the caller's clock): ``built_at`` in the manifest.
    thresholds : Thresholds, optional
        The engine settings the live run used (the archive does not record them); the
        defaults of this landun version when omitted.

    Raises
    ------
    AlertNotArchived
        The alert is not in the archive.
    ArchiveQueryError
        ``out_dir`` is a file or a non-empty directory, or the archive is missing.
    """
    folder = Path(out_dir)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ArchiveQueryError(
            f"--out {str(folder)!r} exists and is not an empty directory; give a new one"
        )
    if not Path(archive).is_dir():
        raise ArchiveQueryError(f"archive {str(archive)!r} is not a directory")
    found = gather(archive, alert_id, thresholds)
    folder.mkdir(parents=True, exist_ok=True)
    audit_doc = _audit(audit, audit_note)
    rerun = command(found.span)
    names = _write_files(folder, found, audit_doc)
    names += _write_reports(folder, found, audit_doc, rerun, built_at_ms)
    names += write_reproduce(folder, found.alert, found.span, rerun, found.ref.notes, found.as_of)
    span, alert = found.span, found.alert
    header = {
        "alert": alert["id"],
        "type": alert.get("type"),
        "vehicle": alert["vehicle"],
        "alert_ts": iso_ts(parse_ts(alert["ts"])),
        "from": iso_ts(span.from_ms),
        "to": iso_ts(span.to_ms),
        "pings": len(found.rows),
        "reference_as_of": None if found.as_of is None else iso_ts(found.as_of),
        "built_at": iso_ts(built_at_ms),
        "reproduce": rerun,
    }
    return write_manifest(folder, names, header)


def _write_reports(
    folder: Path,
    found: Gathered,
    audit: dict[str, Any],
    rerun: list[str],
    built_at_ms: int | None,
) -> list[str]:
    """``report.html`` and ``report.pdf``: one case document, one map, two renderings."""
    alert, span, ref = found.alert, found.span, found.ref
    facts = {
        "pings_sha256": file_entry(folder / "pings.jsonl")["sha256"],
        "pings": len(found.rows),
        "from": iso_ts(span.from_ms),
        "to": iso_ts(span.to_ms),
        "alert_versions": len(found.versions),
        "built_at": iso_ts(built_at_ms),
        "reproduce": shlex.join(rerun),
        "near": nearest_place(ref.features, alert),
    }
    th = found.thresholds.to_dict()
    doc = case_document(alert, ref.registry, ref.features, th, audit, facts)
    start = parse_ts(alert["ts"])
    end = parse_ts(alert["ended_ts"]) if alert.get("ended_ts") else start
    image = map_shapes(
        found.points, alert, ref.features, violating=(start, end), labelled=_named(alert, ref)
    )
    (folder / "report.html").write_text(report_html(doc, image), "utf-8")
    (folder / "report.pdf").write_bytes(report_pdf(doc, image))
    return ["report.html", "report.pdf"]


def _write_files(folder: Path, found: Gathered, audit: dict[str, Any]) -> list[str]:
    """The data files of the pack; returns their names."""
    alert, ref, span, points = found.alert, found.ref, found.span, found.points
    th = found.thresholds
    with open(folder / "pings.jsonl", "wb") as out:
        for row in found.rows:
            out.write(ping_line(row))
    files: dict[str, bytes] = {
        "fences.geojson": _json({"type": "FeatureCollection", "features": ref.features}),
        "registry.json": _json(ref.registry),
        "thresholds.json": _json(th.to_dict()),
        "alert.json": _json(alert),
        "alert_versions.jsonl": b"".join(orjson.dumps(v) + b"\n" for v in found.versions),
        "rule.md": rule_markdown(alert, th.to_dict()).encode(),
        "audit.json": _json(audit),
        "track.geojson": _json(
            track_geojson(alert["vehicle"], points, alert, (span.from_ms, span.to_ms))
        ),
        "track.kml": track_kml(alert["vehicle"], points, alert),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return ["pings.jsonl", *files]


def ping_line(row: dict[str, Any]) -> bytes:
    """One line of ``pings.jsonl``: the record as received, with the archive's ``received``
    added when the record lacks it (a Kafka record's timestamp, kept beside the raw text) so the
    re-run's clock checks are the live ones; a record spanning lines is written on one.

    Examples
    --------
    >>> ping_line({"raw": '{"vehicle":"V1","ts":5}', "received": 7})
    b'{"vehicle":"V1","ts":5,"received":7}\\n'
    >>> ping_line({"raw": '{"vehicle":"V1","ts":5,"received":6}', "received": 7})
    b'{"vehicle":"V1","ts":5,"received":6}\\n'
    """
    raw = str(row.get("raw") or "")
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.replace("\r", " ").replace("\n", " ").encode() + b"\n"
    if isinstance(record, dict) and "received" not in record and row.get("received") is not None:
        record["received"] = int(row["received"])
        return orjson.dumps(record) + b"\n"
    if "\n" in raw or "\r" in raw:
        return orjson.dumps(record) + b"\n"
    return raw.encode() + b"\n"


def _audit(case: dict[str, Any] | None, note: str | None) -> dict[str, Any]:
    if case is None:
        why = note or "未提供案件流转记录 (no case audit trail was given when the pack was built)"
        return {"available": False, "case": None, "note": why}
    return {"available": True, "case": case, "note": note or ""}


def _named(alert: dict[str, Any], ref: Reference) -> frozenset[str]:
    """The fences the map names: the alert's and those of its permit and the vehicle's contracts."""
    out = {str(alert.get("fence"))}
    for permit in ref.registry["permits"]:
        if permit.get("id") == alert.get("permit"):
            out.update(
                [permit.get("site"), *permit.get("terminals", ()), *permit.get("corridors", ())]
            )
    for contract in ref.registry["contracts"]:
        if contract.get("vehicle") == alert.get("vehicle"):
            out.update([*contract.get("producers", ()), *contract.get("plants", ())])
    return frozenset(str(i) for i in out)


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=_JSON) + b"\n"
