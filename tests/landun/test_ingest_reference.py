"""`landun ingest --fences --registry` with a database (issue 10): reference data goes through
PostgreSQL and its outbox to the compacted topics, the schema is brought up to date first, and a
file cannot bring in what the API refuses (ids outside the pattern, oversized fences)."""

from __future__ import annotations

import orjson
from sqlalchemy import create_engine, text

from landun.cli import main as landun
from stream.kafka.reference import ReferenceBook
from tests.stream.kafka.conftest import PARTITIONS, read_topic


def ingest(database_url, bootstrap, topics, fences, registry) -> int:
    return landun([
        "ingest", "--fences", str(fences), "--registry", str(registry), "--database", database_url,
        "--bootstrap", bootstrap, "--namespace", topics.namespace, "--partitions", str(PARTITIONS),
    ])  # fmt: skip


def test_reference_reaches_postgresql_and_the_topics(database_url, bootstrap, topics, sim):
    # A fresh database: the schema is created on the way.
    assert (
        ingest(database_url, bootstrap, topics, sim / "fences.geojson", sim / "registry.json") == 0
    )
    fences = orjson.loads((sim / "fences.geojson").read_bytes())["features"]
    registry = orjson.loads((sim / "registry.json").read_bytes())
    with create_engine(database_url).connect() as c:
        kinds = dict(
            c.execute(text("SELECT kind, count(*) FROM reference_records GROUP BY kind")).all()
        )
        unsent = c.execute(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")).scalar()
    assert kinds == {"fences": len(fences), **{k: len(v) for k, v in registry.items() if v}}
    assert unsent == 0
    book = ReferenceBook()
    for r in read_topic(bootstrap, topics.fences):
        assert book.apply_fence(r.key, r.value)
    for r in read_topic(bootstrap, topics.registry):
        assert book.apply_entry(r.key, r.value)
    assert set(book.fences) == {f["id"] for f in fences}
    assert set(book.registry().vehicles) == {v["id"] for v in registry["vehicles"]}


def test_ids_the_api_refuses_are_refused_and_nothing_is_written(
    database_url, bootstrap, topics, sim, tmp_path, capsys
):
    fences = orjson.loads((sim / "fences.geojson").read_bytes())
    fences["features"][0]["id"] = "site/with slash"
    bad = tmp_path / "fences.geojson"
    bad.write_bytes(orjson.dumps(fences))
    assert ingest(database_url, bootstrap, topics, bad, sim / "registry.json") == 2
    assert "site/with slash" in capsys.readouterr().err
    assert read_topic(bootstrap, topics.fences) == []


def test_a_registry_naming_missing_fences_is_refused_and_nothing_is_written(
    database_url, bootstrap, topics, sim, tmp_path, capsys
):
    """Issue 11: a permit's corridor that is not among the fences (and a plant that is a
    terminal) is bad input, refused naming the entry, the field and the fence: through the
    database (system of record) and straight to the topics alike."""
    registry = orjson.loads((sim / "registry.json").read_bytes())
    permit = registry["permits"][0]
    permit["corridors"] = [*permit["corridors"], "corridor-missing"]
    contract = registry["contracts"][0]
    contract["plants"] = [permit["terminals"][0]]
    bad = tmp_path / "registry.json"
    bad.write_bytes(orjson.dumps(registry))
    named = [
        f"permits[0] (id {permit['id']!r}): corridors: unknown fence 'corridor-missing'",
        f"contracts[0] (id {contract['id']!r}): plants: fence {permit['terminals'][0]!r} is a ",
    ]
    assert ingest(database_url, bootstrap, topics, sim / "fences.geojson", bad) == 2
    err = capsys.readouterr().err
    assert all(n in err for n in named), err
    with create_engine(database_url).connect() as c:  # refused before the schema is touched
        assert c.execute(text("SELECT to_regclass('reference_records')")).scalar() is None
    assert ingest("", bootstrap, topics, sim / "fences.geojson", bad) == 2  # no database
    err = capsys.readouterr().err
    assert all(n in err for n in named), err
    assert (
        read_topic(bootstrap, topics.fences) == [] and read_topic(bootstrap, topics.registry) == []
    )
