"""`landun archive` and `landun archive compact` as commands (issue 12): what they refuse, and how
compaction is called (the consumer itself: tests/replay/test_consumer_*.py)."""

from __future__ import annotations

import sys
import types

import orjson
import pytest

from landun.cli import main as landun
from replay.committed import write_committed
from replay.consumer import hold_archive


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch", "0"], "--batch must be at least 1"),
        (["--linger", "-1"], "--linger and --idle-exit >= 0"),
        (["--idle-exit", "-5"], "--linger and --idle-exit >= 0"),
    ],
)
def test_bad_arguments_exit_2_saying_why(args, message, tmp_path, capsys):
    nowhere = ["--bootstrap", "127.0.0.1:1", "--namespace", "nowhere"]  # never a real broker
    assert landun(["archive", "--archive", str(tmp_path), *nowhere, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("landun archive: ") and message in err


def test_one_consumer_per_archive_directory(tmp_path, capsys):
    held = hold_archive(tmp_path)
    try:
        assert landun(["archive", "--archive", str(tmp_path), "--bootstrap", "127.0.0.1:1"]) == 2
        assert "another `landun archive` consumer holds it" in capsys.readouterr().err
    finally:
        held.close()
    again = hold_archive(tmp_path)  # released with its holder
    again.close()


@pytest.fixture
def compact_calls(monkeypatch):
    """A stand-in `replay.compact` recording its calls (the real one is H6's, tested there)."""
    calls = []

    def compact(archive, *, now_ms, retention_days, committed=None):
        calls.append((str(archive), now_ms, retention_days, committed))
        return {"merged": 3, "deleted_days": []}

    module = types.ModuleType("replay.compact")
    module.compact = compact
    monkeypatch.setitem(sys.modules, "replay.compact", module)
    return calls


def test_compact_is_called_with_the_committed_offsets_and_the_retention(
    compact_calls, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("LANDUN_ARCHIVE_RETENTION_DAYS", "30")
    write_committed(tmp_path, {"pings": {0: 120, 1: 7}, "alerts": {0: 3}})
    now = "2025-06-03T06:00:00+08:00"
    assert landun(["archive", "compact", "--archive", str(tmp_path), "--now", now]) == 0
    assert orjson.loads(capsys.readouterr().out) == {"merged": 3, "deleted_days": []}
    ((archive, now_ms, retention, committed),) = compact_calls
    assert (archive, now_ms, retention) == (str(tmp_path), 1748901600000, 30)
    assert committed["pings"] == {0: 120, 1: 7} and committed["alerts"] == {0: 3}


def test_compact_of_an_embedded_archive_has_no_committed_offsets(compact_calls, tmp_path):
    assert landun(["archive", "compact", "--archive", str(tmp_path), "--now", "0"]) == 0
    assert compact_calls[0][3] is None  # s-files only: all final


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--now", "yesterday"], "--now"),
        (["--archive", "/nonexistent/archive"], "no such archive directory"),
    ],
)
def test_compact_refuses_a_bad_request(args, message, compact_calls, tmp_path, capsys):
    argv = ["archive", "compact", *args]
    if "--archive" not in args:
        argv += ["--archive", str(tmp_path)]
    assert landun(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("landun archive compact: ") and message in err
    assert compact_calls == []
