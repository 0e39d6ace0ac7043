"""Redis adapters of the live ports (``stream.live.ports``): positions and tracks, the bus.

Keys (prefix ``landun`` by default, one Redis database per deployment):

- ``{p}:pos:{vehicle}`` hash ``ts`` (epoch ms), ``json``, ``district``: the latest position; it
  only moves forward in event time (a Lua compare-and-set on ``ts``);
- ``{p}:geo`` and ``{p}:geo:{district}``: GEO sets of the latest positions ("vehicles near");
- ``{p}:track:{vehicle}``: sorted set by event time of the recent positions (bounded);
- ``{p}:violating``: hash vehicle -> event time until which it is drawn in violation
  (``stream.live.view``);
- pub/sub channels ``{p}:bus:positions``, ``{p}:bus:positions:{district}``, ``{p}:bus:alerts``:
  notifications only (at-most-once); the stores are the truth to resync from.

Alerts and their cases are not here: they live in PostgreSQL (the alert sink writes them).
A Redis that cannot be reached raises :class:`stream.live.errors.ServiceUnavailable`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator

import orjson
import redis

from stream.live.errors import ServiceUnavailable
from stream.live.memory import Inbox, haversine_m, in_bbox, in_district
from stream.live.ports import BBox, Record

# The track keeps one point per event time (the last written), as the memory twin.
_UPSERT = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], ARGV[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[6]) - 1)
local cur = redis.call('HGET', KEYS[1], 'ts')
if cur and tonumber(cur) > tonumber(ARGV[1]) then return 0 end
local old = redis.call('HGET', KEYS[1], 'district')
if old and old ~= ARGV[7] then redis.call('ZREM', ARGV[8] .. old, ARGV[5]) end
redis.call('HSET', KEYS[1], 'ts', ARGV[1], 'json', ARGV[2], 'district', ARGV[7])
redis.call('GEOADD', KEYS[3], ARGV[3], ARGV[4], ARGV[5])
if ARGV[7] ~= '' then redis.call('GEOADD', ARGV[8] .. ARGV[7], ARGV[3], ARGV[4], ARGV[5]) end
return 1
"""
GEO_MAX_LAT = 85.05112878  # GEOADD refuses latitudes beyond Web Mercator's
EARTH_REACH_M = 20_100_000  # more than half the Earth's circumference: everything
# Redis's distances against haversine_m: its Earth radius is 0.03 % longer, and it stores points
# on 52-bit geohash cells (under a metre); these bounds are twice that.
GEO_DIST_REL_ERROR = 0.0006
GEO_DIST_ABS_ERROR_M = 2.0


def client(url: str) -> redis.Redis:
    """A synchronous client (thread-safe pool) on ``url``."""
    return redis.Redis.from_url(url, socket_timeout=10)


@contextlib.contextmanager
def unavailable() -> Iterator[None]:
    """Turn "cannot reach Redis" into :class:`ServiceUnavailable` (the API answers 503)."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise ServiceUnavailable("redis", str(exc)) from exc


class RedisLiveStore:
    """:class:`stream.live.ports.LiveStore` on Redis."""

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
            # The GEO index only finds candidates (exact distances come from the JSON), so a
            # polar position is indexed at the edge of what GEOADD takes instead of refused.
            lat = max(-GEO_MAX_LAT, min(GEO_MAX_LAT, position["lat"]))
            args = [
                ts_ms, orjson.dumps(position), position["lng"], lat, v,
                self.track_points, position.get("district") or "", f"{self.p}:geo:",
            ]  # fmt: skip
            self._upsert(keys=keys, args=args, client=pipe)
        with unavailable():
            return [bool(x) for x in pipe.execute()]

    def get(self, vehicle: str) -> Record | None:
        with unavailable():
            raw = self.r.hget(f"{self.p}:pos:{vehicle}", "json")
        return orjson.loads(raw) if raw else None

    def _latest(self, vehicles: list[str]) -> list[Record]:
        pipe = self.r.pipeline(transaction=False)
        for v in vehicles:
            pipe.hget(f"{self.p}:pos:{v}", "json")
        with unavailable():
            return [orjson.loads(raw) for raw in pipe.execute() if raw]

    def _geo(self, district: str | None) -> str:
        return f"{self.p}:geo" if district is None else f"{self.p}:geo:{district}"

    def query(self, district: str | None = None, bbox: BBox | None = None) -> list[Record]:
        with unavailable():
            names = sorted(m.decode() for m in self.r.zrange(self._geo(district), 0, -1))
        rows = self._latest(names)
        return [p for p in rows if in_district(p, district) and (bbox is None or in_bbox(p, bbox))]

    def nearest(self, lat: float, lng: float, k: int, district: str | None = None) -> list[Record]:
        if k <= 0:
            return []  # GEOSEARCH refuses COUNT 0
        key, lat_geo = self._geo(district), max(-GEO_MAX_LAT, min(GEO_MAX_LAT, lat))
        with unavailable():
            found = self.r.geosearch(
                key, longitude=lng, latitude=lat_geo, radius=EARTH_REACH_M, unit="m",
                sort="ASC", count=k, withdist=True,
            )  # fmt: skip
            if len(found) == k:
                # Redis measures on its geohash cells with another Earth radius: vehicles as
                # near as its k-th (two trucks in one depot) may lie just beyond. Take them all,
                # then order exactly as the memory twin does.
                reach = found[-1][1] * (1 + GEO_DIST_REL_ERROR) + GEO_DIST_ABS_ERROR_M
                found = self.r.geosearch(
                    key, longitude=lng, latitude=lat_geo, radius=reach, unit="m"
                )  # fmt: skip
        names = [m[0] if isinstance(m, list) else m for m in found]
        rows = self._latest([m.decode() for m in names])
        rows.sort(key=lambda p: (haversine_m(lat, lng, p["lat"], p["lng"]), p["vehicle"]))
        return rows[:k]

    def track(self, vehicle: str, since_ms: int | None = None) -> list[Record]:
        low = "-inf" if since_ms is None else since_ms
        with unavailable():
            points = self.r.zrangebyscore(f"{self.p}:track:{vehicle}", low, "+inf")
        return [orjson.loads(m) for m in points]

    def clear(self) -> int:
        """Delete every position, GEO and track key (before a rebuild); returns how many."""
        n = 0
        with unavailable():
            for pattern in ("pos:*", "track:*", "geo", "geo:*"):
                keys = list(self.r.scan_iter(f"{self.p}:{pattern}", count=1000))
                if keys:
                    n += self.r.delete(*keys)
        return n


class RedisSubscription:
    """One pub/sub channel, read by a thread of its own and handed to the subscriber's loop.

    The channel is subscribed before the constructor returns (Redis has confirmed it), so
    nothing published afterwards is missed, as with the memory twin. The thread alone touches
    the pub/sub connection and closes it.
    """

    POLL_S = 0.5  # how soon the reader notices close()

    def __init__(self, url: str, channel: str, maxsize: int = 100_000):
        self._inbox = Inbox(maxsize)
        self._closed = threading.Event()
        # A dead or hung server must show: connect within 3 s, PING an idle subscription every
        # 10 s (its failure ends the iteration, and the subscriber subscribes again).
        self._pubsub = redis.Redis.from_url(
            url, socket_timeout=10, socket_connect_timeout=3, socket_keepalive=True,
            health_check_interval=10,
        ).pubsub()  # fmt: skip
        with unavailable():
            self._pubsub.subscribe(channel)
            while (m := self._pubsub.get_message(timeout=10)) is None or m["type"] != "subscribe":
                if m is None:
                    raise redis.TimeoutError(f"no confirmation of SUBSCRIBE {channel}")
        self._thread = threading.Thread(target=self._read, name=f"sub {channel}", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Messages lost because the subscriber was too slow."""
        return self._inbox.dropped

    def _read(self) -> None:
        try:
            with unavailable():
                while not self._closed.is_set():
                    m = self._pubsub.get_message(timeout=self.POLL_S)
                    if m is not None and m["type"] == "message" and not self._closed.is_set():
                        self._inbox.deliver(orjson.loads(m["data"]))
        except Exception as exc:  # noqa: BLE001 - the subscriber's iteration raises it
            self._inbox.deliver(exc)
        finally:
            self._pubsub.close()

    def __aiter__(self):
        return self._inbox.__aiter__()

    def close(self) -> None:
        self._closed.set()
        self._inbox.deliver(None)


class RedisBus:
    """:class:`stream.live.ports.Bus` on Redis pub/sub (positions also per district)."""

    def __init__(self, r: redis.Redis, url: str, prefix: str = "landun"):
        self.r, self.url, self.p = r, url, prefix

    def channel(self, topic: str, district: str | None = None) -> str:
        base = f"{self.p}:bus:{topic}"
        return base if district is None else f"{base}:{district}"

    def publish(self, topic: str, message: Record) -> None:
        self.publish_many(topic, [message])

    def publish_many(self, topic: str, messages: Iterable[Record]) -> None:
        """Publish many messages in one round trip, in order."""
        pipe = self.r.pipeline(transaction=False)
        for message in messages:
            body = orjson.dumps(message)
            pipe.publish(self.channel(topic), body)
            if topic == "positions" and message.get("district"):
                pipe.publish(self.channel(topic, message["district"]), body)
        with unavailable():
            pipe.execute()

    def subscribe(self, topic: str) -> RedisSubscription:
        return RedisSubscription(self.url, self.channel(topic))
