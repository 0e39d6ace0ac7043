"""A worker whose table recovery stalls gets out of it through the recovery watch (issue 15).

The stall is made to happen (tests/stream/kafka/stale_reads.py) the way CI once met it: the
survivor of a kill -9 fetched its changelog partitions but received no record for 60 s and
processed nothing. Without the watch this worker never leaves recovery.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.stream.kafka.conftest import ROOT, Worker, wait_for
from tests.stream.kafka.test_crash import PacedFeed
from tests.stream.kafka.verify import caught_up, checkpointed, context, linear

STALE_READS = Path(__file__).with_name("stale_reads.py")


class StaleReadsWorker(Worker):
    """A `landun worker` run through stale_reads.py."""

    def start(self) -> None:
        super().start()  # chooses the port and the log
        self.proc.kill()
        self.proc.wait(10)
        cmd = [sys.executable, str(STALE_READS), *self.args, "--port", str(self.port)]
        with self.log.open("wb") as fh:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)


def test_a_stalled_recovery_is_sought_again(bootstrap, topics, sim, workers, tmp_path):
    feed = PacedFeed(bootstrap, topics, sim)  # publishes the reference data first
    first = workers("--batch", "100", "--within", "0.02")
    wait_for(first.ready, 90, "the first worker to be ready")
    feed.gate.clear()
    feed.start()
    wait_for(lambda: first.metric("landun_pings_in_total") > 300, 60, "the first worker's progress")
    first.kill()  # its state is in the changelog now: the next worker must recover it

    second = StaleReadsWorker(bootstrap, topics, tmp_path, "--batch", "100", "--within", "0.02")
    try:
        feed.gate.set()
        wait_for(lambda: "stale read offsets injected" in second.log.read_text(), 60, "the stall")
        wait_for(second.ready, 120, "the stalled worker to recover and be ready")
        feed.join(120)
        wait_for(lambda: caught_up(bootstrap, topics), 120, "the recovered worker to catch up")
        log = second.log.read_text()
        assert "recovery stalled on" in log, "ready without the watch seeking: no stall happened"
        assert second.metric("landun_recovery_seeks_total") >= 1
        # the tables recovered through the watch's seeks hold what a linear rebuild holds
        assert checkpointed(bootstrap, topics) == linear(bootstrap, topics, context(sim))
    finally:
        second.stop()
