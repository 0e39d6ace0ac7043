"""``GET /api/replay/alerts/{id}/evidence`` (issue 12): the pack as a zip, for whoever may see the
alert — a caller with a district only for alerts raised in it — and the same 404 otherwise."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.memory import memory_ports
from replay.evidence import verify_pack
from tests.api.conftest import ROLES, Clock, auth, make_settings, make_users
from tests.replay.evidence.tiny import LX, tiny_archive


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """An app over the two-district archive; the 梁溪 alert's case dispatched in its store."""
    archive, alerts = tiny_archive(tmp_path_factory.mktemp("evidence-api"))
    clock = Clock()
    app = create_app(make_settings(), memory_ports(make_users(), clock=clock), clock)
    app.state.archive_dir = archive
    app.state.feed.alert(alerts["LX-1"])
    app.state.ports.alerts.transition(
        alerts["LX-1"]["id"],
        "dispatched",
        "liangxi",
        "2025-06-03T00:20:00+08:00",
        "派中队核查",
        {"assignee": "三中队", "deadline": "2025-06-03T08:00:00+08:00"},
    )
    with TestClient(app) as client:
        yield app, client, alerts


def url(alert_id: str) -> str:
    return f"/api/replay/alerts/{alert_id}/evidence"


def unzip(body: bytes, folder) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as pack:
        pack.extractall(folder)
        return {name: pack.read(name) for name in pack.namelist()}


@pytest.mark.parametrize("user", sorted(ROLES))
@pytest.mark.parametrize("vehicle", ["LX-1", "XS-1"])
def test_a_caller_gets_the_packs_of_alerts_in_their_scope(served, user, vehicle, tmp_path):
    app, client, alerts = served
    alert = alerts[vehicle]
    district = ROLES[user][1]
    response = client.get(url(alert["id"]), headers=auth(app, user))
    if district is not None and district != alert["district"]:
        assert response.status_code == 404
        assert response.json() == {"detail": f"alert {alert['id']!r} not found"}
        return
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert f'filename="evidence-{alert["id"]}.zip"' in response.headers["content-disposition"]
    files = unzip(response.content, tmp_path)
    top = f"evidence-{alert['id']}"
    assert {n.split("/")[0] for n in files} == {top}
    manifest = json.loads(files[f"{top}/manifest.json"])
    assert (manifest["alert"], manifest["vehicle"]) == (alert["id"], vehicle)
    assert set(manifest["files"]) | {"manifest.json"} == {n.split("/")[1] for n in files}
    assert verify_pack(tmp_path / top) == []
    audit = json.loads(files[f"{top}/audit.json"])
    if alert["district"] == LX:  # its case lives in the API's store
        assert [e["state"] for e in audit["case"]["history"]] == ["open", "dispatched"]
    else:
        assert audit["available"] is False and "no case" in audit["note"]


def test_unknown_alert_is_404_and_anonymous_is_401(served):
    app, client, alerts = served
    assert client.get(url("no-such-alert"), headers=auth(app, "admin")).status_code == 404
    assert client.get(url(alerts["LX-1"]["id"])).status_code == 401


def test_a_malformed_id_is_422(served):
    app, client, _ = served
    assert client.get(url("-bad"), headers=auth(app, "admin")).status_code == 422


def test_no_archive_is_503(served, tmp_path):
    app, client, alerts = served
    before, app.state.archive_dir = app.state.archive_dir, tmp_path / "none"
    try:
        response = client.get(url(alerts["LX-1"]["id"]), headers=auth(app, "admin"))
    finally:
        app.state.archive_dir = before
    assert response.status_code == 503
    assert "archive is not available" in response.json()["detail"]


def test_the_district_is_the_api_records_when_it_holds_the_alert(tmp_path):
    """The API's store re-filed 锡山's alert under 梁溪: the pack follows the store, as the
    other /api/replay routes do (review R1, issue 12)."""
    archive, alerts = tiny_archive(tmp_path / "archive")
    moved = alerts["XS-1"]
    clock = Clock()
    app = create_app(make_settings(), memory_ports(make_users(), clock=clock), clock)
    app.state.archive_dir = archive
    app.state.feed.alert({**moved, "district": LX})
    with TestClient(app) as client:
        by_district = {
            ROLES[user][1]: client.get(url(moved["id"]), headers=auth(app, user)).status_code
            for user in ROLES
            if ROLES[user][1] is not None
        }
    assert by_district[LX] == 200
    assert all(code == 404 for d, code in by_district.items() if d != LX), by_district
