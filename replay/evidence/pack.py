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

from geofence.loader import check_fences
from geofence.metric import distance_to_m
from replay import queries
from replay.evidence import reads
from replay.evidence.document import case_document
from replay.evidence.manifest import file_entry, write_manifest
from replay.evidence.mapimage import map_shapes
from replay.evidence.pdf import report_pdf
from replay.evidence.report import report_html
from replay.evidence.rules import rule_markdown
from replay.evidence.span import Span, pack_span
from replay.evidence.track import fixes, track_geojson, track_kml
from replay.evidence.trim import Reference, trim_reference
from replay.queries import ArchiveQueryError
from replay.reference import reference_as_of
from stream.engine import Thresholds
from stream.engine.nearby import NEAREST_REACH_M
from stream.ping import iso_ts, parse_ts

DAY_MS = 86_400_000
RERUN_OUT = "alerts.rerun.jsonl"
LATEST_MS = 253_402_300_799_999  # 9999-12-31: "as of" the latest archived version
_JSON = orjson.OPT_INDENT_2


class AlertNotArchived(ArchiveQueryError):
    """The alert id is not in the archive's alerts table."""


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
    folder = _out_folder(out_dir)
    if not Path(archive).is_dir():
        raise ArchiveQueryError(f"archive {str(archive)!r} is not a directory")
    alert = queries.alert(archive, alert_id)  # the final version, as the replay API shows it
    versions = reads.alert_versions(archive, alert_id)
    if alert is None:
        raise AlertNotArchived(f"alert {alert_id!r} is not in the archive {str(archive)!r}")
    th = thresholds or Thresholds()
    at = parse_ts(alert["ts"])
    trip = (
        reads.trip_versions(archive, alert["trip"], at - DAY_MS, at) if alert.get("trip") else None
    )
    vehicle = str(alert["vehicle"])
    span = pack_span(
        alert,
        trip,
        th,
        lambda ms: list(reads.vehicle_trips(archive, vehicle, ms - DAY_MS, ms).values()),
    )
    rows = reads.vehicle_pings(archive, vehicle, span.from_ms, span.to_ms)
    points = fixes(rows)
    as_of, features, registry = reference_for(archive, vehicle, (at, span.to_ms))
    ref = trim_reference(features, registry, vehicle, [(p["lat"], p["lng"]) for p in points], alert)
    audit_doc = _audit(audit, audit_note)
    names = _write_files(folder, alert, versions, rows, points, ref, th, span, audit_doc)
    pings_sha = _sha(folder / "pings.jsonl")
    reproduce = _reproduce(span)
    facts = {
        "pings_sha256": pings_sha,
        "pings": len(rows),
        "from": iso_ts(span.from_ms),
        "to": iso_ts(span.to_ms),
        "alert_versions": len(versions),
        "built_at": iso_ts(built_at_ms),
        "reproduce": shlex.join(reproduce),
        "near": nearest_place(ref.features, alert),
    }
    doc = case_document(alert, ref.registry, ref.features, th.to_dict(), audit_doc, facts)
    end = parse_ts(alert["ended_ts"]) if alert.get("ended_ts") else at
    image = map_shapes(
        points, alert, ref.features, violating=(at, end), labelled=_named(alert, ref)
    )
    (folder / "report.html").write_text(report_html(doc, image), "utf-8")
    (folder / "report.pdf").write_bytes(report_pdf(doc, image))
    names += ["report.html", "report.pdf"]
    names += _write_reproduce(folder, alert, span, reproduce, ref, as_of)
    header = {
        "alert": alert["id"],
        "type": alert.get("type"),
        "vehicle": vehicle,
        "alert_ts": iso_ts(at),
        "from": iso_ts(span.from_ms),
        "to": iso_ts(span.to_ms),
        "pings": len(rows),
        "reference_as_of": None if as_of is None else iso_ts(as_of),
        "built_at": iso_ts(built_at_ms),
        "reproduce": reproduce,
    }
    return write_manifest(folder, names, header)


def reference_for(
    archive: str | os.PathLike, vehicle: str, times: tuple[int, ...]
) -> tuple[int | None, list[dict[str, Any]], dict[str, Any]]:
    """``(as_of, features, registry)``: the reference in force at the first of ``times`` (the
    alert's time, then the end of the range) whose registry holds the vehicle, else the latest
    archived (``as_of`` None).

    A Kafka archive dates each reference version by when it was published: data that arrives
    late (a blind-area batch right after a deployment started) or a past night fed through
    Kafka is dated before the reference the live engine judged it with, and "as of the alert"
    would hold no vehicle at all — whose every ping the re-run would reject.
    """
    for ts in times:
        features, registry = reference_as_of(archive, ts)
        if any(v.get("id") == vehicle for v in registry.get("vehicles") or ()):
            return ts, features, registry
    features, registry = reference_as_of(archive, LATEST_MS)
    return None, features, registry


def _out_folder(out_dir: str | os.PathLike) -> Path:
    folder = Path(out_dir)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ArchiveQueryError(
            f"--out {str(folder)!r} exists and is not an empty directory; give a new one"
        )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_files(
    folder: Path,
    alert: dict[str, Any],
    versions: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    points: list,
    ref: Reference,
    th: Thresholds,
    span: Span,
    audit: dict[str, Any],
) -> list[str]:
    """The data files of the pack; returns their names."""
    with open(folder / "pings.jsonl", "wb") as out:
        for row in rows:
            out.write(ping_line(row))
    files: dict[str, bytes] = {
        "fences.geojson": _json({"type": "FeatureCollection", "features": ref.features}),
        "registry.json": _json(ref.registry),
        "thresholds.json": _json(th.to_dict()),
        "alert.json": _json(alert),
        "alert_versions.jsonl": b"".join(orjson.dumps(v) + b"\n" for v in versions),
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


def _reproduce(span: Span) -> list[str]:
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


def _write_reproduce(
    folder: Path,
    alert: dict[str, Any],
    span: Span,
    command: list[str],
    ref: Reference,
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
            shlex.join(command),
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
        "    " + shlex.join(command),
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
        *(f"  - dropped: {note}" for note in ref.notes),
        "thresholds.json: the engine settings the pack was judged with.",
        "",
    ]
    (folder / "README.txt").write_text("\n".join(lines), "utf-8")
    return ["reproduce.sh", "README.txt"]


def nearest_place(features: list[dict[str, Any]], alert: dict[str, Any]) -> tuple | None:
    """``(fence, kind, metres)``: the registered place (not a corridor or zone) nearest the
    alert's point among the pack's fences (0 inside), within the engine's reach; else None.

    Examples
    --------
    >>> ring = [[120.31, 31.49], [120.311, 31.49], [120.311, 31.491], [120.31, 31.49]]
    >>> site = {"type": "Feature", "id": "S1", "properties": {"kind": "site"},
    ...         "geometry": {"type": "Polygon", "coordinates": [ring]}}
    >>> nearest_place([site], {"lat": 31.4902, "lng": 120.3108})
    ('S1', 'site', 0.0)
    >>> nearest_place([site], {"lat": None, "lng": None}) is None
    True
    """
    lat, lng = alert.get("lat"), alert.get("lng")
    if lat is None or lng is None:
        return None
    fences, _ = check_fences(features)
    found = [
        (round(float(distance_to_m(f.area, lat, lng)), 1), f.id, str(f.kind))
        for f in fences
        if str(f.kind) not in ("corridor", "restricted")
    ]
    found = [x for x in found if x[0] <= NEAREST_REACH_M]
    if not found:
        return None
    metres, fence, kind = min(found)
    return fence, kind, metres


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


def _sha(path: Path) -> str:
    return file_entry(path)["sha256"]
