"""The archive layout contract: day partitions in Beijing time, file names carrying the source
range (issue 12)."""

from __future__ import annotations

import pytest

from replay.layout import SourceRange, day_of, day_start_ms, days_between
from tests.replay.archive_world import MIDNIGHT


@pytest.mark.parametrize(
    ("ms", "day"),
    [
        (MIDNIGHT - 1, "2025-06-02"),  # 23:59:59.999 +08:00
        (MIDNIGHT, "2025-06-03"),  # 00:00 +08:00 is 16:00 UTC the day before
        (MIDNIGHT - 8 * 3_600_000, "2025-06-02"),  # 00:00 UTC is 08:00 Beijing
        (0, "1970-01-01"),
    ],
)
def test_day_is_the_beijing_calendar_day(ms, day):
    assert day_of(ms) == day


def test_day_start_is_beijing_midnight():
    assert day_start_ms("2025-06-03") == MIDNIGHT
    assert day_of(day_start_ms("2025-06-03")) == "2025-06-03"


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (MIDNIGHT - 4 * 3_600_000, MIDNIGHT + 6 * 3_600_000, ["2025-06-02", "2025-06-03"]),
        (MIDNIGHT, MIDNIGHT, ["2025-06-03"]),
        (MIDNIGHT - 1, MIDNIGHT - 1, ["2025-06-02"]),
        (MIDNIGHT, MIDNIGHT + 2 * 86_400_000, ["2025-06-03", "2025-06-04", "2025-06-05"]),
    ],
)
def test_a_window_reads_the_days_it_touches(start, end, days):
    assert days_between(start, end) == days


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("p3-100-199.parquet", SourceRange(100, 199, 3)),
        ("s0-4999.parquet", SourceRange(0, 4999)),
        (".p3-100-199.parquet.77.tmp", None),  # in flight
        ("p3-100-199.parquet.tmp", None),
        ("part-0000.parquet", None),  # a stranger's file
        ("s10-5.parquet", None),  # last before first: not a name the writer makes
    ],
)
def test_file_names_carry_the_source_range(name, parsed):
    assert SourceRange.from_file_name(name) == parsed
    if parsed is not None:
        assert parsed.file_name() == name


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        (SourceRange(0, 9, 1), SourceRange(9, 20, 1), True),
        (SourceRange(0, 9, 1), SourceRange(10, 20, 1), False),
        (SourceRange(0, 9, 1), SourceRange(0, 9, 2), False),  # another partition
        (SourceRange(0, 9), SourceRange(0, 9, 0), False),  # embedded vs Kafka
        (SourceRange(0, 9), SourceRange(3, 4), True),
    ],
)
def test_overlap_is_within_one_source(a, b, overlap):
    assert a.overlaps(b) is overlap
    assert b.overlaps(a) is overlap
