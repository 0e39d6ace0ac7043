"""The detection engine: pure, deterministic, no I/O, no clock (issue 3).

Entry points: :func:`step` and :func:`tick` for one vehicle's state, :func:`process` and
:func:`finish` for a fleet-wide stream; :class:`EngineContext` carries the fence index, the
registry and the :class:`Thresholds`.

Late and out-of-order data (the policy)
---------------------------------------
Detection runs on event time. Per vehicle:

1. **Live stream, only forward.** Live alerting sees each vehicle's pings in event-time order;
   its clock never goes back.
2. **Reorder window.** A ping newer than the last ping released to the live stream enters the
   vehicle's reorder buffer and is released, in event-time order, once the vehicle's newest ping
   is ``reorder_ms`` (default 5 s) past it, or a tick's watermark is. Jitter within the window
   is absorbed: the result is as if the pings had arrived in order.
3. **Older than the window.** A ping at or before the last released one — or, when flagged
   ``backfill`` or more than ``backfill_lag_ms`` old, before the vehicle's newest ping, released
   or not (7) — is

   - a *duplicate* (``filter_duplicate``) if the track already accepted that event time;
   - a *blind-area backfill* if it is flagged ``backfill: true`` or is more than
     ``backfill_lag_ms`` (default 2 min) older: it is replayed on a separate *shadow* track, in
     order among the pings of its segment, through the same rules. A segment is one blind
     area: a backfill ping not newer than the segment's last one, or newer than the first
     live ping after the segment's start (a later blind area), starts a new segment, which
     continues from the last live fix before it. Alerts found there carry ``late: true`` —
     so a dump done while "offline" still raises ``suspected_dumping``. A backfilled ping is
     judged against the trip as it was at its event time (``trips.trip_at``), not the one open
     now: for a truck without a load sensor, an empty drive re-sent after the next load is
     not "loaded". Loads and unloads seen there update the vehicle's trip; a dwell seen by
     both tracks counts once (``places.same_visit``). Time-driven rules (signal lost,
     deadlines) stay with the live stream: backfilled pings never end a signal-lost gap;
   - otherwise *stale*: rejected with reason ``stale``.

   A backfill-flagged ping that is still newer than the live stream simply takes its place in
   it (in order); its alerts are flagged ``late``.
4. **Segment crossing** (a ``restricted_zone`` crossed between two pings) joins only
   consecutive pings of one track — the live stream or one blind-area segment — at most
   ``crossing_gap_ms`` (default 5 min) apart; never two batches hours apart.
5. **Rejections are events.** Every rejected ping is returned as a ``rejected`` event
   (``stream.engine.events``) with its reason (for a dead-letter stream); none is dropped
   silently.
6. **Time passes by ticks,** given as data (the watermark: the highest event time accepted,
   fleet-wide). Time-driven alerts are dated by the pings that anchor them, never by the tick.
7. **One vehicle's answer is its own** (issue 11, docs/domain.md "Reproducibility"): what the engine
   says about a vehicle depends only on its pings, the reference data and the time range
   processed — never on which other vehicles were in the input. Hence:

   - clock checks are per vehicle (``stream.engine.driver``): a ping's ``received`` stamp is
     the reference for ``filter_future`` / ``filter_too_old``; without it, the vehicle's own
     newest accepted time, a ping far ahead waiting in the vehicle's own limbo until its own
     later pings agree. A vehicle's first ping has no history and is accepted;
   - the fleet watermark only passes time, and moves more than ``future_ms`` at once only when
     ``future_quorum`` vehicles have: one broken clock does not tick the whole fleet ahead;
   - what a tick decides is what the vehicle's own next ping would have: deadlines and expiry
     are dated by the deadline (a trip expired by a tick or by a later ping is the same
     record), and a blind-area re-send older than the vehicle's newest ping is backfill
     whether or not a tick has already released that ping from the reorder buffer;
   - :func:`finish` takes ``until_ms``: a replay of part of the input ends at the same time as
     the whole run did.

The same input gives the same events; the state serialises to JSON-ready dicts
(:meth:`EngineState.to_dict`) so a run split anywhere and resumed from the serialised state gives
the same alerts.
"""

from stream.engine.config import ALERT_TYPES, Thresholds
from stream.engine.context import EngineContext, FenceSet
from stream.engine.core import step, tick
from stream.engine.driver import finish, process
from stream.engine.events import Event, EventKind
from stream.engine.state import EngineState, VehicleState

__all__ = [
    "ALERT_TYPES",
    "EngineContext",
    "EngineState",
    "Event",
    "EventKind",
    "FenceSet",
    "Thresholds",
    "VehicleState",
    "finish",
    "process",
    "step",
    "tick",
]
