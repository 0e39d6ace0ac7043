"""The baseline the archive is measured against (issue 12): a Traccar-style positions table.

PostgreSQL 15 + PostGIS, one row per fix: ``positions(vehicle, fixtime, servertime, latitude,
longitude, speed, course, attributes, geom)`` with a btree on (vehicle, fixtime) and a GiST on
the point, as Traccar keeps positions (``attributes`` holds the record as received, the
archive's ``raw``). The bench loads the same pings into it (COPY), then asks it the same track
and who-was-here queries as the archive. Needs Debian's ``postgresql-15-postgis-3``
(``make bench-replay`` installs it) and a superuser on loopback (``scripts/postgres.sh``'s
cluster trusts ``postgres`` on 127.0.0.1).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable

import numpy as np
import psycopg

DATABASE = "landun_bench"
M_PER_DEG_LAT = 110_900.0

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS postgis;
DROP TABLE IF EXISTS positions;
CREATE TABLE positions (
    id bigserial PRIMARY KEY,
    vehicle text NOT NULL,
    fixtime timestamptz NOT NULL,
    servertime timestamptz NOT NULL,
    latitude double precision NOT NULL,
    longitude double precision NOT NULL,
    speed double precision,
    course double precision,
    attributes text,
    geom geometry(Point, 4326)
        GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(longitude, latitude), 4326)) STORED
);
"""
INDEXES = """
CREATE INDEX positions_vehicle_fixtime ON positions (vehicle, fixtime);
CREATE INDEX positions_geom ON positions USING gist (geom);
VACUUM ANALYZE positions;
"""
TRACK = """
SELECT extract(epoch FROM fixtime) * 1000, latitude, longitude FROM positions
WHERE vehicle = %s AND fixtime BETWEEN to_timestamp(%s / 1000.0) AND to_timestamp(%s / 1000.0)
ORDER BY fixtime LIMIT 10000
"""
# The box prefilter lets the GiST index work; the exact sphere distance decides.
WHO = """
SELECT vehicle, min(ST_DistanceSphere(geom, c.pt)), count(*), min(fixtime), max(fixtime)
FROM positions, (SELECT ST_SetSRID(ST_MakePoint(%(lng)s, %(lat)s), 4326) AS pt) c
WHERE geom && ST_Expand(c.pt, %(deg)s)
  AND fixtime BETWEEN to_timestamp(%(t0)s / 1000.0) AND to_timestamp(%(t1)s / 1000.0)
  AND ST_DistanceSphere(geom, c.pt) <= %(r)s
GROUP BY vehicle
"""


def url(database: str = DATABASE) -> str:
    port = os.environ.get("LANDUN_PG_PORT", "5432")
    return f"postgresql://postgres@127.0.0.1:{port}/{database}"


def connect() -> psycopg.Connection:
    """A fresh ``landun_bench`` database (dropped first) with the positions table."""
    with psycopg.connect(url("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    con = psycopg.connect(url(), autocommit=True)
    con.execute(SCHEMA)
    return con


def copy_lines(con: psycopg.Connection, lines: Iterable[str]) -> None:
    """COPY text-format lines (tab-separated, see :func:`line`) into positions."""
    cols = "vehicle, fixtime, servertime, latitude, longitude, speed, course, attributes"
    with con.cursor().copy(f"COPY positions ({cols}) FROM STDIN") as copy:
        buf = io.StringIO()
        for n, text in enumerate(lines, 1):
            buf.write(text)
            if n % 50_000 == 0:
                copy.write(buf.getvalue())
                buf = io.StringIO()
        copy.write(buf.getvalue())


def lines(rows: list[dict]) -> list[str]:
    """COPY lines of archive ``pings`` rows (times as ISO UTC strings, made in bulk)."""

    def iso(key: str) -> list[str]:
        ms = np.array([r[key] for r in rows], dtype="int64").astype("datetime64[ms]")
        return np.datetime_as_string(ms, unit="ms", timezone="UTC").tolist()

    fix, server = iso("ts"), iso("received")
    return [
        f"{r['vehicle']}\t{f}\t{s}\t{r['lat']}\t{r['lng']}\t{r['speed_kmh']}\t{r['heading']}\t"
        f"{r['raw'].replace(chr(92), chr(92) * 2)}\n"
        for r, f, s in zip(rows, fix, server, strict=True)
    ]


def finish(con: psycopg.Connection) -> dict:
    """Build the indexes; return rows and bytes (table + indexes + TOAST)."""
    for statement in filter(str.strip, INDEXES.split(";")):
        con.execute(statement)  # VACUUM may not share a transaction block
    rows = con.execute("SELECT count(*) FROM positions").fetchone()[0]
    size = con.execute("SELECT pg_total_relation_size('positions')").fetchone()[0]
    return {"rows": rows, "bytes": size}


def track(con: psycopg.Connection, vehicle: str, t0: int, t1: int) -> list[tuple]:
    return con.execute(TRACK, (vehicle, t0, t1)).fetchall()


def who_was_here(con: psycopg.Connection, lat: float, lng: float, r: float, t0: int, t1: int):
    # degrees of longitude are the shorter ones at Wuxi: the box is at least the circle
    deg = r / (M_PER_DEG_LAT * 0.85)
    args = {"lat": lat, "lng": lng, "deg": deg, "r": r, "t0": t0, "t1": t1}
    return con.execute(WHO, args).fetchall()
