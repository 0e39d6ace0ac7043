"""The simulated fleet as a feed: pings in arrival order, with their arrival times.

``landun sim`` writes the feed to ``pings.jsonl``; the Kafka producer and the live demo replay
the same generator, paced with :func:`paced` (real time, or accelerated by ``rate``). Arrival
order is total and deterministic: by arrival time, then vehicle, then sequence number, then
original before re-send.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from sim import writer


def arrivals(sim) -> Iterator[tuple[int, dict]]:
    """Every report of a simulation in arrival order.

    Parameters
    ----------
    sim : Simulation
        From :func:`sim.simulate`.

    Yields
    ------
    (int, dict)
        The arrival time (epoch ms) and the wire-format ping (docs/formats.md).
    """
    vehicles = {v.id: v for v in sim.world.vehicles}
    rows = sorted(sim.records, key=lambda vr: (vr[1].arrival, vr[0], vr[1].seq, vr[1].dup))
    for vid, rec in rows:
        yield rec.arrival, writer.ping(vehicles.get(vid), vid, rec)


def paced(
    items: Iterable[tuple[int, dict]],
    rate: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Iterator[dict]:
    """Yield pings no earlier than their arrival time, replayed ``rate`` times faster.

    Parameters
    ----------
    items : iterable of (int, dict)
        ``(arrival_ms, ping)`` in arrival order, e.g. from :func:`arrivals`.
    rate : float
        Replay speed: 1 is real time, 60 replays an hour in a minute.
    clock, sleep : callable
        A monotonic clock in seconds and a sleep function, given by the caller: the feed never
        reads a clock itself.

    Yields
    ------
    dict
        The pings, each once its (scaled) arrival time has come.

    Raises
    ------
    ValueError
        When ``rate`` is not positive.
    """
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate!r}")
    first = None
    t_start = 0.0
    for arrival, ping in items:
        if first is None:
            first, t_start = arrival, clock()
        due = t_start + (arrival - first) / 1000.0 / rate
        wait = due - clock()
        if wait > 0:
            sleep(wait)
        yield ping
