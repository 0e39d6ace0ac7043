"""Redis implementations of the API's ports (``api.ports``): live positions, alerts, the bus.

Keys (prefix ``landun`` by default, one Redis database per deployment):

- ``{p}:pos:{vehicle}`` hash ``ts`` (epoch ms), ``json``, ``district``: the latest position; it
  only moves forward in event time (a Lua compare-and-set on ``ts``);
- ``{p}:geo`` and ``{p}:geo:{district}``: GEO sets of the latest positions ("vehicles near");
- ``{p}:track:{vehicle}``: sorted set by event time of the recent positions (bounded);
- ``{p}:alert:{id}``: the alert with its case (JSON); ``{p}:alerts:ts``: ids by event time;
- ``{p}:alerts:log``: a Redis stream of alert events, entry id ``<seq>-0``, so a client resumes
  with ``XRANGE`` after the last seq it saw; ``{p}:alerts:seq`` the counter;
- pub/sub channels ``{p}:bus:positions``, ``{p}:bus:positions:{district}``, ``{p}:bus:alerts``:
  notifications only (at-most-once); the stores above are the truth to resync from.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

import orjson
import redis
import redis.asyncio as aredis

from api import cases
from api.eventtime import parse_ts, to_iso
from api.memory import haversine_m, in_bbox
from api.ports import AlertEvent, AlertQuery, BBox, Record, supersedes

_UPSERT = """
local cur = redis.call('HGET', KEYS[1], 'ts')
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[6]) - 1)
if cur and tonumber(cur) > tonumber(ARGV[1]) then return 0 end
local old = redis.call('HGET', KEYS[1], 'district')
if old and old ~= ARGV[7] then redis.call('ZREM', ARGV[8] .. old, ARGV[5]) end
redis.call('HSET', KEYS[1], 'ts', ARGV[1], 'json', ARGV[2], 'district', ARGV[7])
redis.call('GEOADD', KEYS[3], ARGV[3], ARGV[4], ARGV[5])
if ARGV[7] ~= '' then redis.call('GEOADD', ARGV[8] .. ARGV[7], ARGV[3], ARGV[4], ARGV[5]) end
return 1
"""

_PUT_ALERT = """
local old = redis.call('GET', KEYS[1])
if (old or '') ~= ARGV[1] then return -1 end
local seq = redis.call('INCR', KEYS[4])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], seq .. '-0', 'kind', ARGV[5], 'alert', ARGV[2])
return seq
"""


def client(url: str) -> redis.Redis:
    """A synchronous client (thread-safe pool) on ``url``."""
    return redis.Redis.from_url(url, socket_timeout=10)


class RedisLiveStore:
    """:class:`api.ports.LiveStore` on Redis."""

    def __init__(self, r: redis.Redis, prefix: str = "landun", track_points: int = 720):
        self.r, self.p, self.track_points = r, prefix, track_points
        self._upsert = r.register_script(_UPSERT)

    def upsert(self, position: Record, ts_ms: int) -> bool:
        return self.upsert_many([(position, ts_ms)])[0]

    def upsert_many(self, items: Iterable[tuple[Record, int]]) -> list[bool]:
        """Upsert many positions in one round trip; True for each that became the latest."""
        pipe = self.r.pipeline(transaction=False)
        for position, ts_ms in items:
            v = position["vehicle"]
            keys = [f"{self.p}:pos:{v}", f"{self.p}:track:{v}", f"{self.p}:geo"]
            args = [
                ts_ms, orjson.dumps(position), position["lng"], position["lat"], v,
                self.track_points, position.get("district") or "", f"{self.p}:geo:",
            ]  # fmt: skip
            self._upsert(keys=keys, args=args, client=pipe)
        return [bool(x) for x in pipe.execute()]

    def get(self, vehicle: str) -> Record | None:
        raw = self.r.hget(f"{self.p}:pos:{vehicle}", "json")
        return orjson.loads(raw) if raw else None

    def _latest(self, vehicles: list[str]) -> list[Record]:
        pipe = self.r.pipeline(transaction=False)
        for v in vehicles:
            pipe.hget(f"{self.p}:pos:{v}", "json")
        return [orjson.loads(raw) for raw in pipe.execute() if raw]

    def _geo(self, district: str | None) -> str:
        return f"{self.p}:geo" if district is None else f"{self.p}:geo:{district}"

    def query(self, district: str | None = None, bbox: BBox | None = None) -> list[Record]:
        names = [m.decode() for m in self.r.zrange(self._geo(district), 0, -1)]
        rows = self._latest(names)
        return [p for p in rows if (district is None or p.get("district") == district)
                and (bbox is None or in_bbox(p, bbox))]  # fmt: skip

    def nearest(self, lat: float, lng: float, k: int, district: str | None = None) -> list[Record]:
        found = self.r.geosearch(
            self._geo(district), longitude=lng, latitude=lat, radius=20_000, unit="km",
            sort="ASC", count=k,
        )  # fmt: skip
        rows = self._latest([m.decode() for m in found])
        rows.sort(key=lambda p: haversine_m(lat, lng, p["lat"], p["lng"]))
        return rows[:k]

    def track(self, vehicle: str, since_ms: int | None = None) -> list[Record]:
        low = "-inf" if since_ms is None else since_ms
        return [
            orjson.loads(m) for m in self.r.zrangebyscore(f"{self.p}:track:{vehicle}", low, "+inf")
        ]

    def clear(self) -> int:
        """Delete every position, GEO and track key (before a rebuild); returns how many."""
        n = 0
        for pattern in ("pos:*", "track:*", "geo", "geo:*"):
            keys = list(self.r.scan_iter(f"{self.p}:{pattern}", count=1000))
            if keys:
                n += self.r.delete(*keys)
        return n


class RedisAlertStore:
    """:class:`api.ports.AlertStore` on Redis: alerts with cases, and a resumable event log."""

    def __init__(
        self,
        r: redis.Redis,
        prefix: str = "landun",
        log_size: int = 100_000,
        clock: Callable[[], float] = time.time,
    ):
        self.r, self.p, self.log_size, self._clock = r, prefix, log_size, clock
        self._put = r.register_script(_PUT_ALERT)

    def _keys(self, alert_id: str) -> list[str]:
        p = self.p
        return [f"{p}:alert:{alert_id}", f"{p}:alerts:ts", f"{p}:alerts:log", f"{p}:alerts:seq"]

    def _write(self, old: bytes | None, alert: Record, kind: str) -> int:
        args = [old or b"", orjson.dumps(alert), alert["id"], parse_ts(alert["ts"]), kind,
                self.log_size]  # fmt: skip
        return int(self._put(keys=self._keys(alert["id"]), args=args))

    def put(self, alert: Record) -> AlertEvent | None:
        body = {k: v for k, v in alert.items() if k != "case"}
        while True:
            old = self.r.get(self._keys(body["id"])[0])
            current = orjson.loads(old) if old else None
            if current is not None and {k: v for k, v in current.items() if k != "case"} == body:
                return None
            if not supersedes(body, current):
                return None
            case = current["case"] if current else cases.new_case(to_iso(int(self._clock() * 1000)))
            record = {**body, "case": case}
            seq = self._write(old, record, "alert")
            if seq >= 0:  # else someone changed it meanwhile: read again
                return AlertEvent(seq, "alert", record)

    def get(self, alert_id: str) -> Record | None:
        raw = self.r.get(self._keys(alert_id)[0])
        return orjson.loads(raw) if raw else None

    def query(self, q: AlertQuery) -> list[Record]:
        high = "+inf" if q.until_ms is None else q.until_ms
        low = "-inf" if q.since_ms is None else q.since_ms
        out: list[Record] = []
        start = 0
        while len(out) < q.limit:
            ids = self.r.zrevrangebyscore(f"{self.p}:alerts:ts", high, low, start=start, num=500)
            if not ids:
                break
            start += len(ids)
            raws = self.r.mget([self._keys(i.decode())[0] for i in ids])
            out += [a for a in map(orjson.loads, filter(None, raws)) if _matches(a, q)]
        out.sort(key=lambda a: (parse_ts(a["ts"]), a["id"]), reverse=True)
        return out[: q.limit]

    def transition(self, alert_id: str, to: str, by: str, at: str, note: str) -> AlertEvent:
        while True:
            old = self.r.get(self._keys(alert_id)[0])
            if old is None:
                raise KeyError(alert_id)
            alert = orjson.loads(old)
            alert["case"] = cases.transition(alert["case"], to, by, at, note)
            seq = self._write(old, alert, "case")
            if seq >= 0:
                return AlertEvent(seq, "case", alert)

    def head(self) -> int:
        return int(self.r.get(f"{self.p}:alerts:seq") or 0)

    def events_after(self, seq: int, limit: int) -> tuple[list[AlertEvent], bool]:
        log = f"{self.p}:alerts:log"
        first = self.r.xrange(log, count=1)
        oldest = int(first[0][0].split(b"-")[0]) if first else self.head() + 1
        gap = seq + 1 < oldest or seq > self.head()
        entries = self.r.xrange(log, min=f"{seq + 1}-0", count=limit) if limit > 0 else []
        events = [
            AlertEvent(int(eid.split(b"-")[0]), f[b"kind"].decode(), orjson.loads(f[b"alert"]))
            for eid, f in entries
        ]
        return events, gap


def _matches(alert: Record, q: AlertQuery) -> bool:
    return (
        (q.district is None or alert.get("district") == q.district)
        and (q.type is None or alert.get("type") == q.type)
        and (q.state is None or alert["case"]["state"] == q.state)
        and (q.vehicle is None or alert.get("vehicle") == q.vehicle)
    )


class RedisSubscription:
    """One pub/sub channel, read on the subscriber's event loop."""

    def __init__(self, url: str, channel: str):
        self._client = aredis.Redis.from_url(url)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self._channel = channel
        self._closed = asyncio.Event()

    async def __aiter__(self):
        await self._pubsub.subscribe(self._channel)
        try:
            while not self._closed.is_set():
                msg = await self._pubsub.get_message(timeout=0.5)
                if msg is not None:
                    yield orjson.loads(msg["data"])
        finally:
            await self._pubsub.aclose()
            await self._client.aclose()

    def close(self) -> None:
        self._closed.set()


class RedisBus:
    """:class:`api.ports.Bus` on Redis pub/sub (positions also per district)."""

    def __init__(self, r: redis.Redis, url: str, prefix: str = "landun"):
        self.r, self.url, self.p = r, url, prefix

    def channel(self, topic: str, district: str | None = None) -> str:
        base = f"{self.p}:bus:{topic}"
        return base if district is None else f"{base}:{district}"

    def publish(self, topic: str, message: Record) -> None:
        self.publish_many(topic, [message])

    def publish_many(self, topic: str, messages: Iterable[Record]) -> None:
        pipe = self.r.pipeline(transaction=False)
        for message in messages:
            body = orjson.dumps(message)
            pipe.publish(self.channel(topic), body)
            if topic == "positions" and message.get("district"):
                pipe.publish(self.channel(topic, message["district"]), body)
        pipe.execute()

    def subscribe(self, topic: str) -> RedisSubscription:
        return RedisSubscription(self.url, self.channel(topic))
