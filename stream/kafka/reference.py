"""Reference data on compacted topics: fences and the registry, published and followed.

``{ns}.fences``: key = fence id, value = one GeoJSON Feature (docs/formats.md), no value
(tombstone) = the fence is gone. ``{ns}.registry``: key = ``vehicles/<id>``, ``permits/<id>`` or
``contracts/<id>``, value = the entry as in ``registry.json``, tombstone = removed (a revoked
permit). Both topics are compacted, so reading one from the start gives the current reference
data; every worker does that at start-up (it is not ready before) and then follows the topics,
so a change takes effect within a second or so.

An entry that does not validate is refused (counted, logged) and treated as absent, the same in
every worker and after every restart: the topic, not the worker's history, decides.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import orjson

from geofence import FenceError, FenceIndex, load_fences
from geofence.model import Fence
from stream.engine import EngineContext, Thresholds
from stream.kafka.topics import Topics
from stream.registry import Registry
from stream.registry_checks import RegistryError
from stream.registry_entries import Contract, Permit, Vehicle

log = logging.getLogger(__name__)
SECTIONS = ("vehicles", "permits", "contracts")


class ReferenceBook:
    """The current fences and registry entries, built from reference records."""

    def __init__(self, thresholds: Thresholds | None = None):
        self.thresholds = thresholds or Thresholds()
        self.fences: dict[str, Fence] = {}
        self.entries: dict[str, dict[str, Vehicle | Permit | Contract]] = {s: {} for s in SECTIONS}
        self.refused: list[str] = []
        self._index: FenceIndex | None = None
        self._fence_edits: dict[str, Fence | None] = {}

    def apply_fence(self, key: bytes | None, value: bytes | None) -> bool:
        """Apply one record of the fences topic; False (and a note in ``refused``) if refused."""
        fid = (key or b"").decode("utf-8", "replace")
        if not fid:
            return self._refuse("fences: record without a key")
        if value is None:
            if fid in self.fences:
                del self.fences[fid]
                self._fence_edits[fid] = None
            return True
        try:
            feature = orjson.loads(value)
            fences = load_fences({"type": "FeatureCollection", "features": [feature]})
        except (orjson.JSONDecodeError, FenceError, TypeError, ValueError) as exc:
            self._drop_fence(fid)
            return self._refuse(f"fences/{fid}: {exc}")
        if len(fences) != 1 or fences[0].id != fid:
            self._drop_fence(fid)
            return self._refuse(f"fences/{fid}: the feature's id must equal the record key")
        self.fences[fid] = fences[0]
        self._fence_edits[fid] = fences[0]
        return True

    def apply_entry(self, key: bytes | None, value: bytes | None) -> bool:
        """Apply one record of the registry topic; False (and a note) if refused."""
        name = (key or b"").decode("utf-8", "replace")
        section, _, ident = name.partition("/")
        if section not in SECTIONS or not ident:
            return self._refuse(f"registry: key {name!r} is not <vehicles|permits|contracts>/<id>")
        if value is None:
            self.entries[section].pop(ident, None)
            return True
        try:
            item = orjson.loads(value)
            built = Registry.from_mapping(_alone(section, item), source=f"registry/{name}")
        except (orjson.JSONDecodeError, RegistryError) as exc:
            self.entries[section].pop(ident, None)
            return self._refuse(str(exc))
        entry = getattr(built, section).get(ident)
        if entry is None:
            self.entries[section].pop(ident, None)
            return self._refuse(f"registry/{name}: the entry's id must equal the key's")
        self.entries[section][ident] = entry
        return True

    def context(self) -> EngineContext:
        """An engine context of the current data (a new object: the driver re-reads it)."""
        if self._index is None:
            self._index = FenceIndex(list(self.fences.values()))
        else:
            for fid, fence in self._fence_edits.items():
                if fence is None:
                    if fid in self._index:
                        self._index.remove(fid)
                elif fid in self._index:
                    self._index.replace(fence)
                else:
                    self._index.add(fence)
        self._fence_edits.clear()
        return EngineContext(self._index, self.registry(), self.thresholds)

    def registry(self) -> Registry:
        """The registry of the current entries."""
        return Registry(*(self.entries[s].values() for s in SECTIONS))

    def _drop_fence(self, fid: str) -> None:
        if fid in self.fences:
            del self.fences[fid]
            self._fence_edits[fid] = None

    def _refuse(self, why: str) -> bool:
        log.warning("reference record refused: %s", why)
        self.refused.append(why)
        return False


def _alone(section: str, item: object) -> dict:
    """A registry mapping holding only ``item``, with stand-ins for the vehicles it names: on a
    topic entries arrive in any order, so a permit may come before its vehicles."""
    named: list = []
    if isinstance(item, dict):
        if section == "permits" and isinstance(item.get("vehicles"), list):
            named = item["vehicles"]
        elif section == "contracts":
            named = [item.get("vehicle")]
    stand_ins = [{"id": v, "kind": "muck"} for v in named if isinstance(v, str) and v]
    if section == "vehicles":
        return {"vehicles": [item]}
    return {section: [item], "vehicles": stand_ins}


def reference_records(fences: dict, registry: dict):
    """``(topic kind, key, value)`` records of a fence FeatureCollection and a registry mapping.

    Raises
    ------
    FenceError, RegistryError
        When either is invalid (nothing should be published then).
    """
    loaded = load_fences(fences)  # validates every feature, naming the bad ones
    # Every fence a permit or contract names must be among them, of the right kind (issue 11).
    Registry.from_mapping(registry, source="registry", fences={f.id: f.kind for f in loaded})
    for feature in fences["features"]:
        yield "fences", str(feature["id"]).encode(), orjson.dumps(feature)
    for section in SECTIONS:
        for item in registry.get(section, []):
            yield "registry", f"{section}/{item['id']}".encode(), orjson.dumps(item)


def read_reference(fences_path: str | Path, registry_path: str | Path) -> tuple[dict, dict]:
    """The two reference files as JSON (OSError / JSONDecodeError when unreadable)."""
    return (
        orjson.loads(Path(fences_path).read_bytes()),
        orjson.loads(Path(registry_path).read_bytes()),
    )


class ReferenceFollower:
    """Reads both reference topics from the start, then follows them (aiokafka, no group).

    ``ready`` is set once everything present at start-up has been read; ``on_change(ctx)`` is
    called with a fresh :class:`EngineContext` after the first full read and after every later
    batch of changes.
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        on_change: Callable[[EngineContext], None],
        thresholds: Thresholds | None = None,
        on_record: Callable[[str, bool], None] | None = None,
    ):
        self.bootstrap = bootstrap
        self.topics = topics
        self.book = ReferenceBook(thresholds)
        self.on_change = on_change
        self.on_record = on_record or (lambda topic, ok: None)
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Follow the topics until cancelled."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="landun-reference",
        )
        await consumer.start()
        try:
            tps = [TopicPartition(self.topics.fences, 0), TopicPartition(self.topics.registry, 0)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            while True:
                batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
                changed = self._apply(batch)
                if not self.ready.is_set():
                    positions = [await consumer.position(tp) for tp in tps]
                    if all(pos >= ends[tp] for pos, tp in zip(positions, tps, strict=True)):
                        self.on_change(self.book.context())
                        self.ready.set()
                elif changed:
                    self.on_change(self.book.context())
        finally:
            await consumer.stop()

    def _apply(self, batch) -> bool:
        changed = False
        for tp, records in batch.items():
            fences = tp.topic == self.topics.fences
            for rec in records:
                ok = (self.book.apply_fence if fences else self.book.apply_entry)(
                    rec.key, rec.value
                )
                self.on_record(tp.topic, ok)
                changed = True
        return changed
