"""Clock checks per vehicle (issue 11): a ping's ``received`` stamp, else the vehicle's own
history — never other vehicles. Each case is one truck's pings as the bureau would describe
them, run beside another truck (M2) that reports every 30 s and stops 30 minutes early."""

from __future__ import annotations

import dataclasses

import pytest

from stream.engine import EngineState, VehicleState, finish, process, step
from stream.ping import Ping
from tests.stream.engine.world import LAT, bj, context, run

T0 = bj("2025-06-01 21:00")
MIN, DAY = 60_000, 24 * 3600_000


def m1(*times_s: float, **kw) -> list[Ping]:
    """M1's pings at these seconds after 21:00 (on the road east of the depot)."""
    return [Ping("M1", T0 + int(t * 1000), LAT, 120.26, speed_kmh=0.0, **kw) for t in times_s]


def received(pings: list[Ping], at_s: list[float]) -> list[Ping]:
    return [
        dataclasses.replace(p, received=T0 + int(s * 1000))
        for p, s in zip(pings, at_s, strict=True)
    ]


def shifted(p: Ping, ms: int) -> Ping:
    return dataclasses.replace(p, ts=p.ts + ms)


M2 = [Ping("M2", T0 + k * 30_000, LAT, 120.30, speed_kmh=0.0) for k in range(120)]  # to 21:59:30

LAST_S = [*range(0, 3600, 20), *range(3600, 7200, 330)]  # moving, then parked
LAST = m1(*LAST_S)

# (case, M1's pings in arrival order, M1's rejection reasons)
CASES = [
    (
        "received: one fix dated two days after it was received",
        received([*m1(0, 30), shifted(m1(60)[0], 2 * DAY)], [1, 31, 61]),
        ["filter_future"],
    ),
    (
        "received: a fix 1024 weeks behind when it was received (GPS week rollover)",
        received([*m1(0, 30), shifted(m1(60)[0], -1024 * 7 * DAY)], [1, 31, 61]),
        ["filter_too_old"],
    ),
    (
        "received: a blind-area batch re-sent two hours late is not too old",
        received(m1(0, 30, 60), [7201, 7202, 7203]),
        [],
    ),
    (
        "received: its first ping, two days ahead of its receipt, is the future all the same",
        received([shifted(m1(0)[0], 2 * DAY), *m1(30)], [1, 31]),
        ["filter_future"],
    ),
    (
        "own clock: one fix two days ahead among ordinary ones",
        [*m1(0, 30), shifted(m1(60)[0], 2 * DAY), *m1(90, 120)],
        ["filter_future"],
    ),
    (
        "own clock: the same far-ahead fix sent twice does not agree with itself",
        [*m1(0, 30), shifted(m1(60)[0], 2 * DAY), shifted(m1(60)[0], 2 * DAY), *m1(90)],
        ["filter_future", "filter_future"],
    ),
    ("own clock: quiet for 20 minutes, then reporting again", m1(0, 30, 1230, 1260), []),
    ("own clock: parked, a report every 5.5 minutes", m1(*range(0, 3300, 330)), []),
    (
        "own clock: its first ping has no history and is accepted, even two days ahead",
        [shifted(m1(0)[0], 2 * DAY)],
        [],
    ),
    (
        "own clock: 1024 weeks behind its newest fix",
        [*m1(0, 30), shifted(m1(60)[0], -1024 * 7 * DAY)],
        ["filter_too_old"],
    ),
    (
        "the last vehicle still reporting, parked, an hour after the others stopped",
        received(LAST, [t + 1 for t in LAST_S]),
        [],
    ),
    (
        "own clock: the last vehicle still reporting, parked: only its very last report, "
        "which no later one confirms and which lies past the time range, is the future",
        LAST,
        ["filter_future"],
    ),
]


@pytest.mark.parametrize(("case", "pings", "reasons"), CASES, ids=[c[0] for c in CASES])
def test_clock_checks_are_the_vehicle_s_own(case, pings, reasons):
    ctx = context()
    states, beside = process(_beside(pings, M2), ctx)
    states, more = finish(ctx, states)
    mine, alone = process(pings, ctx)  # alone, over the same time range
    _, alone_end = finish(ctx, mine, until_ms=states.watermark)
    for events in (beside + more, alone + alone_end):
        got = [e["reason"] for k, e in events if k == "rejected" and e["vehicle"] == "M1"]
        assert got == reasons


def _beside(mine: list[Ping], others: list[Ping]) -> list[Ping]:
    """Arrival order: M1's own order kept, each ping when it was received (else at its fix;
    a fix from a clock a day or more off arrives with the one before it)."""
    keyed, clock = [], 0
    for p in mine:
        if p.received is not None:
            clock = max(clock, p.received)
        elif not clock or abs(p.ts - clock) < DAY:
            clock = max(clock, p.ts)
        keyed.append((clock, p))
    return [p for _, p in sorted([*keyed, *((p.ts, p) for p in others)], key=lambda kp: kp[0])]


def test_rejections_name_the_reference_time():
    outcome = run(received([*m1(0), shifted(m1(30)[0], 2 * DAY)], [1, 31]))
    (r,) = outcome.rejected
    assert "2025-06-01T21:00:31+08:00" in r["detail"] and "receive time" in r["detail"]
    outcome = run([*m1(0, 30), shifted(m1(60)[0], 2 * DAY)])
    (r,) = outcome.rejected
    assert "2025-06-01T21:00:30+08:00" in r["detail"]  # the vehicle's newest accepted time


def test_a_held_fix_expires_after_future_hold_of_the_vehicle_s_own_pings():
    """Rejected while the run goes on (not only at the end), counted in M1's pings only."""
    ctx = context(future_hold=3)
    bad = shifted(m1(60)[0], 2 * DAY)
    _, events = process([*m1(0, 30), bad, *M2[:50], *m1(90, 120)], ctx)
    assert [e["reason"] for k, e in events if k == "rejected"] == []  # 2 of M1's pings since
    states, events = process([*m1(0, 30), bad, *M2[:50], *m1(90, 120, 150)], ctx)
    assert [e["reason"] for k, e in events if k == "rejected"] == ["filter_future"]
    assert states.vehicles["M1"].limbo == []


def test_one_vehicle_s_clock_does_not_move_the_fleet_s_time():
    """M1's first fix, two days ahead, is accepted (no history) but ticks nobody ahead."""
    states, _ = process([*M2[:10], shifted(m1(0)[0], 2 * DAY), *M2[10:20]], context())
    assert states.watermark == M2[19].ts
    assert states.ahead == {"M1": T0 + 2 * DAY}


def test_states_saved_before_per_vehicle_limbo_still_load():
    """An EngineState dict with the fleet-wide limbo: each held ping goes to its vehicle."""
    held = shifted(m1(60)[0], 2 * DAY)
    old = {
        "watermark": T0,
        "next_tick": T0 + MIN,
        "arrivals": 3,
        "limbo": [[3, held.to_dict(), ["S1"]]],
        "vehicles": {"M2": VehicleState("M2").to_dict()},
    }
    state = EngineState.from_dict(old)
    assert state.ahead == {}
    ((n, p, ids),) = state.vehicles["M1"].limbo
    assert p == held and ids == ("S1",) and n == context().th.future_hold
    assert "limbo" not in state.vehicles["M2"].to_dict()  # nothing held: the bytes as before
    again = EngineState.from_dict(state.to_dict())
    assert again.vehicles["M1"].limbo == state.vehicles["M1"].limbo


def test_step_checks_a_ping_against_its_received_stamp():
    """One vehicle's state machine alone (``step``): the stamp is the reference too."""
    ahead = received([shifted(m1(0)[0], 2 * DAY)], [1])[0]
    state, events = step(None, ahead, context())
    assert state is None and [e["reason"] for _, e in events] == ["filter_future"]
    state, events = step(None, received(m1(0), [1])[0], context())
    assert state is not None and events == []
