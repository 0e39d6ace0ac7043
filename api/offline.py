"""Vehicles silent for 10 minutes are shown offline, in production too (issue 13: counters).

The embedded demo marks them from the engine's watermark (``landun.embedded``). In production the
workers write positions into Redis and nothing marked a vehicle that went silent: the offline
counter stayed at 0 and a vanished truck kept its last state on the map. So every API process
sweeps the live view every ``offline_sweep_s`` seconds. "Now" is the newest position's time in
it, the fleet's data-time front (a past night ingested for an investigation is judged by its own
clock, as the demo is). The sweep is idempotent and a newer position always wins over its
offline mark (``LiveStore.upsert`` keeps the newest by event time), so API replicas may all run it.
"""

from __future__ import annotations

import asyncio
import logging

from api.feed import Feed

log = logging.getLogger(__name__)


async def sweep_offline(feed: Feed, every_s: float) -> None:
    """Mark silent vehicles offline every ``every_s`` seconds until cancelled."""
    while True:
        await asyncio.sleep(every_s)
        try:
            changed = await asyncio.to_thread(feed.mark_offline)
        except Exception:  # noqa: BLE001 - Redis away: the next sweep tries again
            log.exception("offline sweep failed; trying again in %.0f s", every_s)
            continue
        if changed:
            log.info("offline sweep: %d vehicles marked offline", changed)
