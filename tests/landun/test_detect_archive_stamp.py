"""An embedded archive is stamped with its input (issue 12, review H1b): night 2 written into
night 1's directory once replaced night 1's files range by range (a replay of night 1 then gave
24,427 pings / 258 alerts instead of 27,920 / 32). The same input again replaces its own
archive; another input's, or the Kafka consumer's, is refused unless ``--archive-replace``
(embedded only); ``landun demo`` replaces an earlier demo's and archives nothing rather than
touch anything else."""

from __future__ import annotations

import argparse
import hashlib
import json

import orjson
import pyarrow.parquet as pq
import pytest

from landun.commands.demo import _claim_archive
from replay.layout import SourceRange, day_dir
from replay.rows import ping_row
from replay.stamp import DEMO, DETECT, STAMP_FILE, ArchiveTaken, claim
from replay.writer import write_batch
from stream.ping import parse_ping
from tests.landun.test_detect_cmd import detect, files, ping_lines, write_pings  # noqa: F401
from tests.stream.engine.test_alerts import dumping_stop, overspeed, signal_lost


@pytest.fixture
def nights(files):  # noqa: F811
    """Two different inputs: night 1 (a dumping stop, a lost signal), night 2 (overspeeding)."""
    tmp, fences, registry = files
    one = ping_lines(sorted([*dumping_stop(8), *signal_lost(900)], key=lambda p: p.ts))
    write_pings(tmp / "night1.jsonl", one)
    write_pings(tmp / "night2.jsonl", ping_lines(overspeed(75, 120)))
    return tmp, fences, registry


def run(nights, name, archive, *extra):
    tmp, fences, registry = nights
    return detect(tmp, fences, registry, tmp / name, "--archive", str(archive), *extra)


def contents(archive) -> dict[str, bytes]:
    """Every data file of the archive, by path, with its bytes (the stamp left out)."""
    return {
        p.relative_to(archive).as_posix(): p.read_bytes()
        for p in sorted(archive.rglob("*.parquet"))
    }


def ping_count(archive) -> int:
    return sum(pq.read_metadata(p).num_rows for p in archive.glob("pings/*/*.parquet"))


def kafka_file(archive) -> None:
    """A Kafka consumer's batch (``p0-0-0``) in the archive."""
    raw = '{"vehicle":"V9","ts":1748869200000,"lat":31.49,"lng":120.31}'
    row = ping_row(parse_ping(raw), "accepted", raw=raw, partition=0, offset=0, index=0)
    write_batch(archive, SourceRange(0, 0, partition=0), [row])


def test_a_second_input_into_the_same_directory_is_refused_and_night_1_stays(nights, capsys):
    tmp = nights[0]
    archive = tmp / "archive"
    assert run(nights, "night1.jsonl", archive) == 0
    night1 = contents(archive)
    assert night1 and ping_count(archive) > 0
    capsys.readouterr()
    assert run(nights, "night2.jsonl", archive) == 2
    err = capsys.readouterr().err
    assert err.startswith("landun detect: ") and "fresh directory" in err
    assert "--archive-replace" in err and "night1.jsonl" in err
    assert contents(archive) == night1  # night 1 untouched, byte for byte


def test_the_same_input_again_gives_the_same_archive_without_leftovers(nights):
    tmp = nights[0]
    archive = tmp / "archive"
    assert run(nights, "night1.jsonl", archive) == 0
    first = contents(archive)
    # a stale file of the same source (a table that has no rows of that range this time)
    stale = day_dir(archive, "stops", "2001-01-01") / "s0-3.parquet"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by an earlier run of this input")
    assert run(nights, "night1.jsonl", archive) == 0
    assert contents(archive) == first


def test_archive_replace_wipes_another_embedded_archive(nights, capsys):
    tmp = nights[0]
    assert run(nights, "night2.jsonl", tmp / "fresh") == 0
    archive = tmp / "archive"
    assert run(nights, "night1.jsonl", archive) == 0
    assert run(nights, "night2.jsonl", archive, "--archive-replace") == 0
    assert contents(archive) == contents(tmp / "fresh")  # night 2 only, as in a fresh directory
    stamp = orjson.loads((archive / STAMP_FILE).read_bytes())
    body = (tmp / "night2.jsonl").read_bytes()
    assert stamp["command"] == DETECT
    assert stamp["input"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert stamp["input"]["size"] == len(body)
    assert stamp["when"].endswith("+08:00")


@pytest.mark.parametrize(
    ("case", "prepare", "replace", "refused"),
    [
        ("empty directory", lambda a: a.mkdir(), False, False),
        ("only unrelated files", lambda a: _file(a, "notes.txt"), False, False),
        ("a Kafka batch file", kafka_file, False, True),
        ("a Kafka batch file, --archive-replace", kafka_file, True, True),
        ("the consumer's _committed.json", lambda a: _file(a, "_committed.json"), True, True),
        ("embedded data without a stamp", lambda a: _unstamped(a), False, True),
        ("embedded data without a stamp, --archive-replace", lambda a: _unstamped(a), True, False),
        ("a demo's archive", lambda a: (claim(a, DEMO, {"seed": 1}), _unstamped(a)), False, True),
    ],
)  # fmt: skip
def test_what_a_directory_holds_decides(nights, capsys, case, prepare, replace, refused):
    archive = nights[0] / "archive"
    prepare(archive)
    kept = contents(archive)
    extra = ("--archive-replace",) if replace else ()
    code = run(nights, "night1.jsonl", archive, *extra)
    err = capsys.readouterr().err
    assert code == (2 if refused else 0), (case, err)
    if refused:
        assert "fresh directory" in err, case
        assert contents(archive) == kept, case  # nothing written, nothing wiped
    else:
        assert ping_count(archive) == len((nights[0] / "night1.jsonl").read_text().splitlines())
        assert all(not name.startswith("pings/day=2001") for name in contents(archive)), case


def _unstamped(archive) -> None:
    """An embedded archive written before stamps existed: an ``s`` file with a ping of 2001."""
    raw = '{"vehicle":"V9","ts":978307200000,"lat":31.49,"lng":120.31}'
    row = ping_row(parse_ping(raw), "accepted", raw=raw, ingest=0)
    write_batch(archive, SourceRange(0, 0), [row])


def _file(archive, name: str) -> None:
    archive.mkdir()
    (archive / name).write_text("{}")


def test_archive_replace_needs_archive(nights, capsys):
    tmp, fences, registry = nights
    code = detect(tmp, fences, registry, tmp / "night1.jsonl", "--archive-replace")
    assert code == 2 and "--archive-replace goes with --archive" in capsys.readouterr().err


def demo_args(archive):
    return argparse.Namespace(archive=str(archive), vehicles=12, hours=1.5, seed=3,
                              start="2025-06-02T20:00:00+08:00")  # fmt: skip


def test_the_demo_replaces_an_earlier_demo_and_leaves_anything_else_alone(nights, capsys):
    tmp = nights[0]
    demo = tmp / "demo"
    claim(demo, DEMO, {"seed": 1})  # an earlier demo's archive
    _unstamped(demo)
    assert contents(demo)
    assert _claim_archive(demo_args(demo)) is True
    assert contents(demo) == {}  # wiped: the night about to run writes its own
    assert orjson.loads((demo / STAMP_FILE).read_bytes())["input"]["seed"] == 3
    assert capsys.readouterr().err == ""

    detected = tmp / "detected"
    assert run(nights, "night1.jsonl", detected) == 0
    kept = contents(detected)
    capsys.readouterr()
    assert _claim_archive(demo_args(detected)) is False  # the demo runs on, archiving nothing
    err = capsys.readouterr().err
    assert err.startswith("landun demo: not archiving: ") and "fresh directory" in err
    assert "--archive-replace" not in err  # not a demo flag
    assert contents(detected) == kept
    assert json.loads((detected / STAMP_FILE).read_text())["command"] == DETECT


def test_a_demo_never_takes_a_kafka_archive(tmp_path):
    kafka_file(tmp_path / "a")
    with pytest.raises(ArchiveTaken, match="Kafka"):
        claim(tmp_path / "a", DEMO, {"seed": 1})
