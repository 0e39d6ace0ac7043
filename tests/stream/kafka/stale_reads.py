"""`landun worker` with the recovery stall CI once hit, made to happen (for test_recovery_stall.py).

After recovery's first seek of the active changelog partitions, their read offset in Faust's
consumer is pushed far ahead, as stale records of an old generation do
(stream/kafka/recovery_watch.py): every re-fetched changelog record is then dropped as already
read, and only the recovery watch can get the worker out of recovery.
Usage: python tests/stream/kafka/stale_reads.py <landun worker arguments>
"""

from __future__ import annotations

import sys

from faust.tables.recovery import Recovery

_seek_offsets = Recovery._seek_offsets
_injected = False


async def seek_then_go_stale(self, consumer, tps, offsets, title):
    global _injected
    await _seek_offsets(self, consumer, tps, offsets, title)
    if title == "active" and not _injected and tps:
        _injected = True
        for tp in tps:
            consumer._read_offset[tp] = 10**9
        parts = sorted(tp.partition for tp in tps)
        print(f"stale read offsets injected for changelog partitions {parts}", flush=True)


Recovery._seek_offsets = seek_then_go_stale

if __name__ == "__main__":
    from landun.cli import main

    sys.exit(main(sys.argv[1:]))
