"""who-was-here holds one vehicle's fixes at a time, never the whole answer's (review R1,
issue 12: a 5 km circle over a month spans most of a city's pings; held as one Python list they
would not fit in memory)."""

from __future__ import annotations

import tracemalloc

import pytest

from replay import presence
from replay.layout import SourceRange
from replay.presence import who_was_here
from replay.writer import write_batch
from tests.replay.archive_world import MIDNIGHT, at, row

VEHICLES, FIXES = 60, 400  # 24,000 fixes, all inside the circle


@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    """Every vehicle circles the spot inside 300 m, a fix every 10 s."""
    folder = tmp_path_factory.mktemp("archive")
    rows = [
        row(f"V{v:03d}", MIDNIGHT + 10_000 * k, at(2 * (k % 50), 3 * v), ingest=v * FIXES + k,
            loaded="full" if k % 2 else None)
        for v in range(VEHICLES)
        for k in range(FIXES)
    ]  # fmt: skip
    write_batch(folder, SourceRange(0, len(rows) - 1), rows)
    return folder


def ask(folder) -> list[dict]:
    return who_was_here(folder, *at(0, 0), 300, MIDNIGHT, MIDNIGHT + 10_000 * FIXES)


def test_the_answer_does_not_hold_every_fix_at_once(crowded, monkeypatch):
    monkeypatch.setattr(presence, "BATCH", 1_000)
    ask(crowded)  # DuckDB's and the caches' first-use allocations
    tracemalloc.start()
    try:
        hits = ask(crowded)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(hits) == VEHICLES and {h["fixes"] for h in hits} == {FIXES}
    # all 24,000 fixes at once took 8.6 MB, the candidates alone in one batch 2.7 MB; one
    # vehicle's 400 fixes and a batch of 1,000 take ~0.55 MB
    assert peak < 1_500_000, peak


@pytest.mark.parametrize("batch", [1, 7, 399, 400, 401, 100_000])
def test_batches_cutting_a_vehicle_anywhere_give_the_same_answer(crowded, monkeypatch, batch):
    want = ask(crowded)
    monkeypatch.setattr(presence, "BATCH", batch)
    assert ask(crowded) == want
    assert {(h["fixes"], h["inside_s"], h["loaded"]) for h in want} == {(FIXES, 3990.0, True)}
