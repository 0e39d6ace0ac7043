"""`landun evidence ALERT_ID --out DIR` (issue 12): the pack, its manifest on stdout, the audit
trail from PostgreSQL when a database is given, exit 2 with a message on bad requests."""

from __future__ import annotations

import json

import pytest

from api.db import connect
from api.db.alerts import PgAlertStore
from api.db.migrate import upgrade
from landun.cli import main as landun
from replay.evidence import verify_pack
from tests.replay.evidence.tiny import tiny_archive


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_archive(tmp_path_factory.mktemp("evidence-cli"))


def evidence(capsys, *argv: str) -> tuple[int, str, str]:
    code = landun(["evidence", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_writes_the_pack_and_prints_its_manifest(tiny, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LANDUN_DATABASE_URL", raising=False)
    archive, alerts = tiny
    alert = alerts["LX-1"]
    code, out, _ = evidence(
        capsys, alert["id"], f"--out={tmp_path / 'pack'}", f"--archive={archive}"
    )
    assert code == 0
    manifest = json.loads(out)
    assert manifest == json.loads((tmp_path / "pack" / "manifest.json").read_text())
    assert (manifest["alert"], manifest["type"], manifest["vehicle"]) == (
        alert["id"],
        "overspeed",
        "LX-1",
    )
    assert manifest["built_at"] is not None  # the wall clock, passed in by the CLI
    assert verify_pack(tmp_path / "pack") == []
    audit = json.loads((tmp_path / "pack" / "audit.json").read_text())
    assert audit["available"] is False and "LANDUN_DATABASE_URL" in audit["note"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nope", "--out={out}", "--archive={archive}"], "alert 'nope' is not in the archive"),
        (
            ["{id}", "--out={archive}", "--archive={archive}"],
            "exists and is not an empty directory",
        ),
        (["{id}", "--out={out}", "--archive={out}.none"], "is not a directory"),
        (
            ["{id}", "--out={out}", "--archive={archive}", "--thresholds={out}.json"],
            "bad thresholds file",
        ),
        (
            [
                "{id}",
                "--out={out}",
                "--archive={archive}",
                "--database=postgresql://x@127.0.0.1:1/x",
            ],
            "cannot read the case audit trail from the database",
        ),
    ],
)
def test_bad_requests_exit_2_with_the_problem(tiny, tmp_path, capsys, argv, message):
    archive, alerts = tiny
    out_dir = tmp_path / "p"
    filled = [a.format(out=out_dir, archive=archive, id=alerts["LX-1"]["id"]) for a in argv]
    code, out, err = evidence(capsys, *filled)
    assert (code, out) == (2, "")
    assert err.startswith("landun evidence: ") and message in err
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_the_audit_trail_comes_from_postgresql(tiny, database_url, tmp_path, capsys):
    archive, alerts = tiny
    upgrade(database_url)
    engine = connect(database_url)
    try:
        store = PgAlertStore(engine, clock=lambda: 1_748_880_600.0)
        store.put(alerts["LX-1"])
        store.transition(
            alerts["LX-1"]["id"],
            "dispatched",
            "liangxi",
            "2025-06-03T00:20:00+08:00",
            "派中队核查",
            {"assignee": "三中队", "deadline": "2025-06-03T08:00:00+08:00"},  # issue 13's form
        )
    finally:
        engine.dispose()
    code, _, err = evidence(
        capsys, alerts["LX-1"]["id"], f"--out={tmp_path / 'a'}", f"--archive={archive}",
        f"--database={database_url}",
    )  # fmt: skip
    assert code == 0, err
    audit = json.loads((tmp_path / "a" / "audit.json").read_text())
    assert audit["available"] is True
    trail = [(e["state"], e["by"], e["note"]) for e in audit["case"]["history"]]
    assert trail == [("open", "system", ""), ("dispatched", "liangxi", "派中队核查")]
    report = (tmp_path / "a" / "report.html").read_text()
    assert "派遣" in report and "派中队核查" in report
    code, _, _ = evidence(
        capsys, alerts["XS-1"]["id"], f"--out={tmp_path / 'b'}", f"--archive={archive}",
        f"--database={database_url}",
    )  # fmt: skip
    assert code == 0
    audit = json.loads((tmp_path / "b" / "audit.json").read_text())
    assert audit["available"] is False and "no case" in audit["note"]
