"""Live vs replay (issue 12): a simulated night through `landun ingest` -> `landun worker` -> the
alerts topic, archived by `landun archive`; `replay.rerun.replay` over the archive gives the
alerts the live system produced, ids and contents (the final version of each id).

The reference data is given to the replay as the live run had it: the archive dates each
reference version by its record's timestamp, i.e. when it was published (now), while this
night's pings are dated by their event time (a past night replayed through Kafka), so "the
reference as of the night" is empty in this archive; in production the two clocks agree."""

from __future__ import annotations

import orjson

from landun.cli import main as landun
from replay.rerun import replay
from tests.replay.stream_archive import archive_args, ingest, table
from tests.stream.kafka import conftest as kafka
from tests.stream.kafka.conftest import wait_for
from tests.stream.kafka.verify import alert_versions, caught_up, context

bootstrap, topics, sim, workers = kafka.bootstrap, kafka.topics, kafka.sim, kafka.workers


def test_replay_of_the_archive_gives_the_live_alerts(bootstrap, topics, sim, workers, tmp_path):
    worker = workers()
    ingest(bootstrap, topics, sim, "--final")
    wait_for(worker.ready, 90, "the worker to be ready")
    wait_for(lambda: caught_up(bootstrap, topics), 120, "the worker to process every record")
    archive = tmp_path / "archive"
    assert landun(archive_args(bootstrap, topics, archive, "--idle-exit", "3")) == 0

    live, _ = alert_versions(bootstrap, topics)  # the final version of each id
    assert live, "the night should raise alerts"
    times = [r["ts"] for r in table(archive, "pings") if r["verdict"] == "accepted"]
    replayed = replay(archive, min(times), max(times), ctx=context(sim))
    assert {a["id"]: a for a in replayed["alerts"]} == live
    # The archive's own alert versions end the same way.
    archived: dict[str, list[dict]] = {}
    for row in sorted(table(archive, "alerts"), key=lambda r: r["payload"]):
        archived.setdefault(row["id"], []).append(orjson.loads(row["payload"]))
    assert set(archived) == set(live)
    assert all(live[i] in versions for i, versions in archived.items())
