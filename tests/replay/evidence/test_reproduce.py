"""Re-running an evidence pack raises its alert again, for every alert type (issue 12).

The issue's test: the pack's own pings through ``landun detect`` with the pack's fences,
registry and thresholds and ``--until`` (the command in its manifest, run in the pack's
directory) give the alert again — same id, same type, same time; here the whole alert, evidence
included. One alert of each type a simulated night raises (seed 1 raises all 13).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from landun.cli import main as landun
from replay.evidence import build_pack
from stream.engine.config import ALERT_TYPES
from tests.replay.evidence.night import first_of


def rerun(pack: Path, argv: list[str], monkeypatch) -> dict[str, dict]:
    """Run the manifest's command in the pack's directory; the alerts it wrote, by id."""
    assert argv[:2] == ["landun", "detect"]
    monkeypatch.chdir(pack)
    assert landun(argv[1:]) == 0
    lines = (pack / argv[argv.index("--out") + 1]).read_bytes().splitlines()
    return {a["id"]: a for a in map(orjson.loads, lines)}


@pytest.mark.parametrize("kind", ALERT_TYPES)
def test_the_pack_raises_its_alert_again(night, kind, tmp_path, monkeypatch):
    archive, alerts = night
    alert = first_of(alerts, kind)
    manifest = build_pack(archive, alert["id"], tmp_path / "pack", built_at_ms=0)
    again = rerun(tmp_path / "pack", manifest["reproduce"], monkeypatch)
    assert alert["id"] in again, f"{kind} {alert['id']} not raised by the pack's re-run"
    got = again[alert["id"]]
    assert (got["type"], got["ts"]) == (alert["type"], alert["ts"])
    assert got == alert  # evidence, trip, permit, end: the live run's alert exactly


def test_reproduce_sh_runs_the_check(night, tmp_path):
    """``reproduce.sh`` is the manifest's command plus the check, runnable as it stands."""
    archive, alerts = night
    alert = first_of(alerts, "unmatched_source")  # raised at its deadline: --until matters
    build_pack(archive, alert["id"], tmp_path / "pack", built_at_ms=0)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    assert shutil.which("landun", path=env["PATH"]), "landun is not installed beside python"
    done = subprocess.run(
        [str(tmp_path / "pack" / "reproduce.sh")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert f"alert {alert['id']} raised again" in done.stdout
