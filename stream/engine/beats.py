"""What the live map should show of the engine's state: each vehicle's latest accepted live ping.

A vehicle's ``beat`` (``VehicleState.beat``) is the last ping released to its live track and not
rejected there (duplicate, impossible jump, limbo). The drivers hand beats, not arriving pings,
to the live view: a ping still in the reorder buffer or in limbo may yet be rejected, and a
future-dated fix shown at arrival would win every "newest wins" comparison after it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from stream.engine.state import EngineState
from stream.ping import Ping


def changed_beats(
    states: EngineState,
    names: Iterable[str],
    shown: Mapping[str, int],
    force: Collection[str] = (),
) -> list[Ping]:
    """The beats of the named vehicles that the live view does not have yet, by vehicle id.

    Parameters
    ----------
    states : EngineState
        The engine's state after a batch.
    names : iterable of str
        The vehicles to look at: those the batch touched, or all of them after a tick (a tick
        releases buffered pings of vehicles that sent nothing in the batch).
    shown : mapping of str to int
        Vehicle id -> event time (ms) of the beat last handed to the live view.
    force : collection of str
        Vehicles to hand over even if their beat was shown (e.g. a new alert changes how the
        vehicle is drawn).

    Examples
    --------
    >>> from stream.engine.state import VehicleState
    >>> states = EngineState()
    >>> vs = states.vehicles["V1"] = VehicleState("V1")
    >>> vs.beat = Ping("V1", 1_000, 31.5, 120.3)
    >>> [p.ts for p in changed_beats(states, ["V1", "V2"], {})]
    [1000]
    >>> changed_beats(states, ["V1"], {"V1": 1_000})
    []
    >>> len(changed_beats(states, ["V1"], {"V1": 1_000}, force={"V1"}))
    1
    """
    vehicles = states.vehicles
    out = []
    for vid in sorted(names):
        vs = vehicles.get(vid)
        beat = vs.beat if vs is not None else None
        if beat is not None and (shown.get(vid) != beat.ts or vid in force):
            out.append(beat)
    return out
