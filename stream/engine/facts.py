"""What the core knows about one ping when it hands it to the per-ping rules (issue 11).

``core.apply`` works out the speed, whether the vehicle is loaded, its trip at the ping's event
time and whether that trip is overdue once per ping; every per-ping rule takes them as one
:class:`Facts` and has one signature::

    check(ctx: EngineContext, vs: VehicleState, tr: Track, p: Ping, facts: Facts, out: list)

(stop rules take the track's :class:`~stream.engine.state.Stop` in place of the ping). The
object is built only when some rule's guard passes, so an ordinary ping pays nothing for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from stream.engine.context import FenceSet, VehicleInfo
from stream.engine.state import Trip


@dataclass(slots=True)
class Facts:
    """The facts of one ping, as ``core.apply`` computed them."""

    fs: FenceSet  # the fences covering the ping
    speed: float  # reported, or implied by the last accepted ping (km/h)
    loaded: bool  # reported by the load sensor, else inferred from the trip or round
    trip: Trip | None  # the vehicle's trip at the ping's event time
    overdue: bool  # that trip's unmatched_source was already raised at the ping's time
    late: bool  # the ping comes from backfilled data
    info: VehicleInfo  # the vehicle's registry entry (kind, default speed limit...)
