"""Unstick Faust's table recovery when an active changelog partition stops delivering.

Seen in CI on 2026-12-06 (issue 15): after a kill -9 the survivor's recovery waited 60 s for
changelog partitions 1 and 2. Fetch requests went out (Faust logged no fetch error), no event
arrived, and the pings stay paused until recovery ends, so the survivor processed nothing.
The likely cause is in faust-streaming 0.15.3's fetch loop
(``faust.transport.consumer.Consumer._drain_messages``). Records of the old generation can still
be handed over after the rebalance's seek. They push the partition's read offset forward, and the
queue they went to is cleared when flow control is suspended. The re-fetched records then sit
below the read offset and are dropped as already read. Recovery never reaches the highwater.

The watch is the remedy. A partition that recovery still needs, and that has sent no event for
``stall_s``, is sought back to the last offset recovery applied. ``Consumer.seek_wait`` also
resets the read offset there. Reading a changelog record twice is harmless: recovery skips
offsets it has seen. A partition is sought again at most every ``stall_s``. After ``max_kicks``
seeks without progress, ``gave_up`` is set. The worker's /readyz then reports the stall, so an
operator (or a supervisor's health check) restarts the worker, and a restart recovers from the
changelog.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)
STALL_S = 10.0  # Faust's own "no event received" warning fires after 30 s by default
MAX_KICKS = 5


@dataclass(frozen=True, slots=True)
class RecoveryView:
    """What the watch reads of a recovery at one moment (plain data, so the rule is testable).

    ``remaining``: changelog records still needed, per active partition. ``received_at``: when
    each partition last sent an event (monotonic seconds; absent = none since the start).
    ``started_at``: when this recovery started. ``applied``: the last offset applied per partition.
    """

    in_recovery: bool
    started_at: float | None
    remaining: Mapping[Any, int]
    received_at: Mapping[Any, float]
    applied: Mapping[Any, int]


def stalled(view: RecoveryView, kicked_at: Mapping[Any, float], now: float, stall_s: float) -> list:
    """Active changelog partitions that recovery needs and that have been silent for ``stall_s``.

    Silent means no event since the later of the recovery start, the partition's last event and
    the watch's last seek of it.

    Examples
    --------
    >>> v = RecoveryView(True, 0.0, {1: 3, 2: 0}, {}, {1: 7, 2: 9})
    >>> stalled(v, {}, now=12.0, stall_s=10.0)
    [1]
    >>> stalled(v, {1: 5.0}, now=12.0, stall_s=10.0)
    []
    """
    if not view.in_recovery or view.started_at is None:
        return []
    out = []
    for tp, left in view.remaining.items():
        if left <= 0:
            continue
        quiet_since = max(
            view.started_at, view.received_at.get(tp, view.started_at), kicked_at.get(tp, 0.0)
        )
        if now - quiet_since >= stall_s:
            out.append(tp)
    return sorted(out)


class Seeker(Protocol):
    """The consumer call the watch needs (Faust's ``Consumer.seek_wait``)."""

    async def seek_wait(self, partitions: Mapping[Any, int]) -> None: ...


@dataclass
class RecoveryWatch:
    """Seeks stalled changelog partitions again (see the module docstring).

    ``check(view, consumer, now)`` is called from a timer of the worker.
    """

    stall_s: float = STALL_S
    max_kicks: int = MAX_KICKS
    kicked_at: dict = field(default_factory=dict)
    kicks: dict = field(default_factory=dict)  # seeks since the partition's last progress
    progress: dict = field(default_factory=dict)  # applied offset at the last seek
    gave_up: bool = False
    total_kicks: int = 0

    async def check(self, view: RecoveryView, consumer: Seeker, now: float) -> list:
        """Seek every stalled partition back to its last applied offset; returns them."""
        if not view.in_recovery:
            self.kicked_at.clear()
            self.kicks.clear()
            self.progress.clear()
            self.gave_up = False
            return []
        due = stalled(view, self.kicked_at, now, self.stall_s)
        for tp in due:
            applied = view.applied.get(tp, -1)
            if self.progress.get(tp) != applied:
                self.kicks[tp] = 0  # it moved since the last seek: a new stall
            self.kicks[tp] = self.kicks.get(tp, 0) + 1
            self.progress[tp] = applied
            self.kicked_at[tp] = now
            if self.kicks[tp] > self.max_kicks:
                if not self.gave_up:
                    log.error(
                        "recovery of %s still stalled after %d seeks: restart this worker "
                        "(a restart recovers its tables from the changelog)",
                        tp,
                        self.max_kicks,
                    )
                self.gave_up = True
                continue
            log.warning(
                "recovery stalled on %s (%d records to go, last applied offset %d): "
                "seeking it again (seek %d)",
                tp,
                view.remaining[tp],
                applied,
                self.kicks[tp],
            )
            self.total_kicks += 1
            await consumer.seek_wait({tp: max(applied, 0)})
        return due


def faust_view(recovery: Any) -> RecoveryView:
    """A ``RecoveryView`` of a faust-streaming 0.15 ``Recovery`` (``app.tables.recovery``).

    Reads private attributes (``_recovery_started_at``, ``_active_events_received_at``): pinned
    faust-streaming version, checked by tests/stream/kafka/test_recovery_watch.py.
    """
    return RecoveryView(
        in_recovery=bool(recovery.in_recovery),
        started_at=recovery._recovery_started_at,
        remaining=dict(recovery.active_remaining()),
        received_at=dict(recovery._active_events_received_at),
        applied=dict(recovery.active_offsets),
    )
