"""The recovery watch (stream/kafka/recovery_watch.py): which changelog partitions count as
stalled, what it seeks, when it gives up, and that it reads faust-streaming's real Recovery."""

from __future__ import annotations

import asyncio

import faust
import pytest

from stream.kafka.recovery_watch import RecoveryView, RecoveryWatch, faust_view, stalled


def view(remaining, received=None, applied=None, started=0.0, in_recovery=True) -> RecoveryView:
    return RecoveryView(in_recovery, started, remaining, received or {}, applied or {})


@pytest.mark.parametrize(
    ("case", "v", "kicked", "now", "want"),
    [
        ("silent since the start", view({1: 4}), {}, 10.0, [1]),
        ("not silent long enough", view({1: 4}), {}, 9.9, []),
        ("caught up: nothing to wait for", view({1: 0}), {}, 60.0, []),
        ("an event 3 s ago", view({1: 4}, received={1: 57.0}), {}, 60.0, []),
        ("last event 10 s ago", view({1: 4}, received={1: 50.0}), {}, 60.0, [1]),
        ("sought 5 s ago", view({1: 4}), {1: 55.0}, 60.0, []),
        ("sought 10 s ago", view({1: 4}), {1: 50.0}, 60.0, [1]),
        ("started late", view({1: 4}, started=55.0), {}, 60.0, []),
        ("not in recovery", view({1: 4}, in_recovery=False), {}, 60.0, []),
        ("only the stuck ones", view({0: 0, 1: 3, 2: 5, 3: 0}, {2: 59.0}), {}, 60.0, [1]),
    ],
)
def test_stalled(case, v, kicked, now, want):
    assert stalled(v, kicked, now, 10.0) == want, case


class Seeks:
    """Records what the watch seeks (the consumer's ``seek_wait``)."""

    def __init__(self):
        self.calls: list[dict] = []

    async def seek_wait(self, partitions):
        self.calls.append(dict(partitions))


def run(watch: RecoveryWatch, v: RecoveryView, consumer: Seeks, now: float) -> list:
    return asyncio.run(watch.check(v, consumer, now))


def test_seeks_a_stalled_partition_back_to_its_last_applied_offset():
    watch, seeks = RecoveryWatch(stall_s=10.0), Seeks()
    v = view({1: 4, 2: 3}, received={2: 58.0}, applied={1: 17, 2: 30})
    assert run(watch, v, seeks, 60.0) == [1]
    assert seeks.calls == [{1: 17}]
    # never read anything yet (applied -1): from the start of the partition
    run(RecoveryWatch(), view({3: 2}, applied={3: -1}), seeks, 60.0)
    assert seeks.calls[-1] == {3: 0}


def test_waits_between_seeks_and_gives_up_after_max_kicks_without_progress():
    watch, seeks = RecoveryWatch(stall_s=10.0, max_kicks=2), Seeks()
    v = view({1: 4}, applied={1: 17})
    for now in (10.0, 15.0, 20.0, 30.0):  # 15 s: too soon after the seek at 10 s
        run(watch, v, seeks, now)
    assert len(seeks.calls) == 2 and watch.gave_up  # seeks at 10 and 20; the third gives up
    assert watch.total_kicks == 2


def test_progress_after_a_seek_starts_a_new_count():
    watch, seeks = RecoveryWatch(stall_s=10.0, max_kicks=2), Seeks()
    for i, now in enumerate((10.0, 20.0, 30.0, 40.0)):
        # the seek helped each time: applied moved (then stalled again further on)
        run(watch, view({1: 4}, received={1: now - 10.0}, applied={1: 17 + i}), seeks, now)
    assert len(seeks.calls) == 4 and not watch.gave_up


def test_the_end_of_recovery_resets_the_watch():
    watch, seeks = RecoveryWatch(stall_s=10.0, max_kicks=1), Seeks()
    v = view({1: 4}, applied={1: 17})
    run(watch, v, seeks, 10.0)
    run(watch, v, seeks, 20.0)
    assert watch.gave_up
    run(watch, view({}, in_recovery=False), seeks, 25.0)
    assert not watch.gave_up and not watch.kicked_at
    run(watch, v, seeks, 40.0)  # the next recovery is watched afresh
    assert len(seeks.calls) == 2


def test_reads_the_recovery_of_the_pinned_faust():
    """faust_view reads private attributes of faust-streaming's Recovery: this fails first when
    an upgrade renames them (pyproject pins the version)."""
    app = faust.App("landun-recovery-watch-test", broker="kafka://127.0.0.1:1")
    recovery = app.tables.recovery
    tp = faust.types.TP("t-changelog", 1)
    recovery.active_highwaters[tp] = 9
    recovery.active_offsets[tp] = 4
    recovery._set_recovery_started()
    recovery._active_events_received_at[tp] = 123.0
    v = faust_view(recovery)
    assert v.in_recovery and v.started_at is not None
    assert v.remaining == {tp: 5} and v.applied == {tp: 4} and v.received_at == {tp: 123.0}
