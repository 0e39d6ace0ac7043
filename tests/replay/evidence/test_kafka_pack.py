"""Evidence packs from the production archive (issue 12): a simulated night through `landun
ingest` -> `landun worker` -> `landun archive`; the pack of every alert the live system raised,
re-run with `landun detect`, raises that alert again — the live system's final version.

Unlike an embedded archive, here a vehicle's pings arrive by Kafka partition, offset and index
in a batch record, and the reference versions are dated when they were published (now), after
the simulated night, so the pack takes the latest reference that holds the vehicle."""

from __future__ import annotations

import json

from landun.cli import main as landun
from replay.evidence import build_pack
from tests.replay.stream_archive import archive_args, ingest
from tests.stream.kafka import conftest as kafka
from tests.stream.kafka.conftest import wait_for
from tests.stream.kafka.verify import alert_versions, caught_up

bootstrap, topics, sim, workers = kafka.bootstrap, kafka.topics, kafka.sim, kafka.workers


def test_packs_of_the_live_alerts_raise_them_again(
    bootstrap, topics, sim, workers, tmp_path, monkeypatch
):
    worker = workers()
    ingest(bootstrap, topics, sim, "--final")
    # generous bounds, not timings: a machine busy with other tests once took over 120 s
    wait_for(worker.ready, 180, "the worker to be ready")
    wait_for(lambda: caught_up(bootstrap, topics), 300, "the worker to process every record")
    archive = tmp_path / "archive"
    assert landun(archive_args(bootstrap, topics, archive, "--idle-exit", "3")) == 0
    live, _ = alert_versions(bootstrap, topics)
    by_type: dict[str, dict] = {}
    for alert in sorted(live.values(), key=lambda a: (a["ts"], a["id"])):
        by_type.setdefault(alert["type"], alert)
    assert len(by_type) >= 5, f"the night should raise several types, got {sorted(by_type)}"
    for kind, alert in sorted(by_type.items()):
        pack = tmp_path / kind
        manifest = build_pack(archive, alert["id"], pack, built_at_ms=0)
        assert manifest["reference_as_of"] is None  # published after the night: the latest
        monkeypatch.chdir(pack)
        assert landun(manifest["reproduce"][1:]) == 0
        again = {}
        for line in (pack / "alerts.rerun.jsonl").read_text().splitlines():
            rerun = json.loads(line)
            again[rerun["id"]] = rerun
        assert again.get(alert["id"]) == alert, kind
