"""The API over the PostgreSQL stores: an outage answers 503 naming the service, a value
PostgreSQL refuses answers 422 naming the field."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from api.db import connect
from api.db.alerts import PgAlertStore
from api.db.records import PgRecordStore
from api.memory import memory_ports
from tests.api.conftest import LX, auth, fence_feature, make_settings, make_users

UNREACHABLE = "postgresql+psycopg://landun@127.0.0.1:1/landun"


def make_app(clock, **stores):
    ports = memory_ports(make_users(), clock=clock)
    for name, store in stores.items():
        setattr(ports, name, store)
    return create_app(make_settings(), ports, clock)


def test_postgresql_down_is_a_503_naming_it(clock):
    engine = connect(UNREACHABLE)
    app = make_app(clock, alerts=PgAlertStore(engine), fences=PgRecordStore(engine, "fences"))
    with TestClient(app) as client:
        for response in (
            client.get("/api/alerts", headers=auth(app, "city")),
            client.get("/api/fences/site-lx", headers=auth(app, "city")),
        ):
            assert response.status_code == 503
            assert response.json() == {
                "detail": "postgresql is unavailable; retry later",
                "service": "postgresql",
            }
            assert response.headers["retry-after"] == "5"


def test_a_value_postgresql_refuses_is_a_422_naming_the_field(clock, engine):
    app = make_app(clock, fences=PgRecordStore(engine, "fences"))
    feature = fence_feature("site-lx", "site", LX)
    feature["properties"]["note"] = "a \x00 byte"
    with TestClient(app) as client:
        response = client.put("/api/fences/site-lx", json=feature, headers=auth(app, "admin"))
    assert response.status_code == 422
    assert response.json()["field"] == "record"
    assert PgRecordStore(engine, "fences").get("site-lx") is None
