"""The census of alert records (tests/stream/kafka/copies.py) on records written by hand: what a
worker's at-least-once re-run may repeat, and every kind of duplicate it must not (issue 15).

Partition 0 of the pings topic is loaded twice: at t=100 from nothing, and at t=500 from a
checkpoint whose next offset is 40 (a restart after kill -9). A copy is written
``(id, ended, first, last, t)``: the alert, whether it carries its end, the pings batch that
raised it and when it was produced.
"""

from __future__ import annotations

import pytest

from api.ports import alert_version
from tests.stream.kafka.copies import Copy, census, final_alerts, state_loads

LOADS = {0: [(100, -1), (500, 40)]}
ENDED = "2025-06-02T21:05:00+08:00"


def copy(aid: str, ended: bool, first: int, last: int, t: int, **change) -> Copy:
    alert = {"id": aid, "type": "overspeed", "vehicle": "V1", "severity": "high",
             "ts": "2025-06-02T21:00:00+08:00", "ended_ts": ENDED if ended else None,
             "evidence": {"rule": "r", "peak": 80 + ended}, **change}  # fmt: skip
    return Copy(alert, alert_version(alert), 0, first, last, t, f"0:{t}")


CASES = {
    "raised, then ended": ([copy("a", False, 0, 9, 110), copy("a", True, 10, 19, 120)], 0, []),
    "raised already ended": ([copy("a", True, 0, 9, 110)], 0, []),
    "uncovered work re-run after a restart": (
        [
            copy("a", False, 30, 49, 400),
            copy("a", True, 50, 59, 410),
            copy("a", False, 40, 59, 510),
            copy("a", True, 40, 59, 510),
        ],
        2,
        [],
    ),
    "a checkpointed version again after the restart": (
        [copy("a", False, 0, 9, 110), copy("a", False, 40, 59, 510)],
        0,
        ["a checkpoint covering"],
    ),
    "the same version twice in one run": (
        [copy("a", False, 0, 9, 110), copy("a", False, 0, 9, 110)],
        0,
        ["twice in one run"],
    ),
    "two open versions": (
        [copy("a", False, 0, 9, 110), copy("a", False, 10, 19, 120, lat=31.5)],
        0,
        ["2 open"],
    ),
    "two ended versions": (
        [copy("a", True, 0, 9, 110), copy("a", True, 10, 19, 120, evidence={})],
        0,
        ["2 ended"],
    ),
    "the end changes more than ended_ts and evidence": (
        [copy("a", False, 0, 9, 110), copy("a", True, 10, 19, 120, severity="critical")],
        0,
        ["also changes ['severity']"],
    ),
    "reopened in the run that ended it": (
        [copy("a", True, 0, 9, 110), copy("a", False, 10, 19, 120)],
        0,
        ["open version after"],
    ),
    "a record before any load": ([copy("a", False, 0, 9, 50)], 0, ["before any state load"]),
}


@pytest.mark.parametrize("copies, republished, faults", CASES.values(), ids=CASES.keys())
def test_census(copies, republished, faults):
    found = census(copies, LOADS)
    assert found.republished == republished
    assert len(found.faults) == len(faults), found.faults
    for fault, want in zip(found.faults, faults, strict=True):
        assert want in fault


def test_an_open_version_re_run_after_the_ended_one_does_not_reopen_the_alert():
    copies = [copy("a", False, 30, 39, 400), copy("a", True, 40, 41, 410),
              copy("a", False, 40, 41, 510)]  # fmt: skip
    assert final_alerts(copies)["a"]["ended_ts"] == ENDED


def test_state_loads_are_read_from_every_worker_log(tmp_path):
    (tmp_path / "worker-1.log").write_text(
        "[2026-12-06 20:15:22,303] [16662] [INFO] partition 0: state loaded, next offset -1 \n"
        "[2026-12-06 20:15:22,400] [16662] [INFO] something else\n"
    )
    (tmp_path / "worker-2.log").write_text(
        "[2026-12-06 20:15:34,586] [16834] [INFO] partition 0: state loaded, next offset 14 \n"
    )
    loads = state_loads(tmp_path)
    assert [offset for _, offset in loads[0]] == [-1, 14]
    assert loads[0][1][0] - loads[0][0][0] == 12_283  # ms between the two lines
