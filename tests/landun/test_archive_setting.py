"""A bad ``LANDUN_ARCHIVE_*`` variable (issue 12, review H1b): it once crashed every landun
command, even ``landun sim --help``, with a pydantic traceback, because commands read the archive
settings while registering their arguments. Now only the commands that need the setting fail,
with exit 2 and one line naming the variable; the others run as usual. Real processes: the
crash was at start-up, before any test hook could run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BAD = {"LANDUN_ARCHIVE_RETENTION_DAYS": "abc"}


def landun(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "landun.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("sim", "--help"),
        ("detect", "--help"),
        ("replay", "--help"),
        ("fences", "check", str(ROOT / "geofence" / "data" / "wuxi_demo.geojson")),
    ],
)
def test_commands_that_do_not_read_the_setting_are_unaffected(args, tmp_path):
    done = landun(*args, env=BAD, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


WINDOW = ("--from", "0", "--to", "1")


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("replay", ("replay", *WINDOW)),
        ("track", ("track", "V1", *WINDOW)),
        ("who-was-here", ("who-was-here", "--lat", "31.5", "--lng", "120.3", "--radius-m", "50",
                          *WINDOW)),
        ("stops", ("stops", "--vehicle", "V1", *WINDOW)),
        ("evidence", ("evidence", "A1", "--out", "pack")),
        ("archive compact", ("archive", "compact", "--archive", "somewhere")),
        ("demo", ("demo", "--no-browser", "--no-bench")),
    ],
)  # fmt: skip
def test_commands_that_need_it_exit_2_naming_the_variable(command, args, tmp_path):
    done = landun(*args, env=BAD, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"landun {command}: LANDUN_ARCHIVE_RETENTION_DAYS='abc'")
    assert not (tmp_path / "var").exists()  # nothing written where the default would point


def test_detect_archive_without_a_value_reads_the_setting_when_it_runs(tmp_path):
    """``--archive`` alone means LANDUN_ARCHIVE_DIR: a bad retention stops it before the run;
    ``--archive DIR`` does not need the setting at all."""
    data = ROOT / "geofence" / "data" / "wuxi_demo.geojson"
    registry = tmp_path / "registry.json"
    registry.write_text('{"vehicles": []}')
    pings = tmp_path / "pings.jsonl"
    pings.write_text('{"vehicle":"V1","ts":1748869200000,"lat":31.49,"lng":120.31}\n')
    base = ("detect", "--fences", str(data), "--registry", str(registry), "--pings", str(pings),
            "--out", str(tmp_path / "alerts.jsonl"))  # fmt: skip
    done = landun(*base, "--archive", env=BAD, cwd=tmp_path)
    assert done.returncode == 2 and "LANDUN_ARCHIVE_RETENTION_DAYS" in done.stderr, done.stderr
    assert len(done.stderr.splitlines()) == 1
    done = landun(*base, "--archive", str(tmp_path / "a"), env=BAD, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "a" / "_embedded.json").exists()
