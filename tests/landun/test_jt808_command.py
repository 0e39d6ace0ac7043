"""`landun jt808 decode|encode` through the real CLI entry point."""

from __future__ import annotations

import io
import json

import pytest

from landun.cli import main
from tests.gateway.vectors import BY_NAME, NEGATIVES


def run(capsys, *args, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["jt808", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_decode_location_prints_the_fields_engineers_need(capsys):
    code, out, err = run(capsys, "decode", BY_NAME["V15"].hex)
    assert code == 0 and err == ""
    d = json.loads(out)
    assert (d["msg_id"], d["version"], d["phone"], d["serial"]) == (
        "0x0200",
        "2019",
        "20232609559",
        2639,
    )
    (p,) = d["positions"]
    assert (p["lat"], p["lng"], p["speed_kmh"], p["heading"], p["altitude_m"]) == (
        31.512562, 121.532076, 53.2, 20, 100,
    )  # fmt: skip
    assert p["time"] == "2024-11-27T07:42:30Z"  # 15:42:30 GMT+8
    assert (p["alarm"], p["status"], p["alarms"]) == (0x2000, 0x004C1003, ["overspeed_warning"])
    assert p["flags"]["acc"] is True and p["flags"]["load"] == "empty"
    assert p["extras"]["0x31"] == {"name": "satellites", "value": 9, "raw": "09"}


def test_time_is_utc_whatever_the_machine_time_zone(capsys, monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        _, out, _ = run(capsys, "decode", BY_NAME["V01"].hex)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert json.loads(out)["positions"][0]["time"] == "2018-07-15T02:10:10Z"


def test_decode_batch_with_spaces_in_the_hex(capsys):
    spaced = " ".join(BY_NAME["V02"].hex[i : i + 2] for i in range(0, len(BY_NAME["V02"].hex), 2))
    code, out, _ = run(capsys, "decode", *spaced.split(" "))
    d = json.loads(out)
    assert code == 0 and (d["count"], d["batch_type"], d["backfill"]) == (2, 0, False)
    assert [p["heading"] for p in d["positions"]] == [0, 120]


def test_decode_several_frames_from_stdin_one_line_each(capsys, monkeypatch):
    text = "2424" + BY_NAME["V04"].hex + BY_NAME["V05"].hex + "\n"
    code, out, _ = run(capsys, "decode", "-", stdin=text, monkeypatch=monkeypatch)
    assert code == 0
    assert [json.loads(line)["msg_name"] for line in out.splitlines()] == ["heartbeat", "logout"]


@pytest.mark.parametrize("negative", NEGATIVES, ids=lambda n: n.name)
def test_a_bad_frame_exits_2_with_the_reason(capsys, negative):
    code, out, err = run(capsys, "decode", negative.hex)
    assert code == 2 and out == ""
    assert "bad frame" in err and negative.reason in err


def test_lenient_decodes_the_bare_7d_checksum(capsys):
    code, out, _ = run(capsys, "decode", "--lenient", NEGATIVES[-1].hex)
    assert code == 0 and json.loads(out)["warnings"] == ["bare_escape"]


@pytest.mark.parametrize("text", ["zz", "7e0002", "7e7e"])
def test_not_hex_unclosed_and_empty_exit_2(capsys, text):
    code, _, err = run(capsys, "decode", text)
    assert code == 2 and err.startswith("landun jt808 decode:")


def test_encode_a_location_from_options_and_decode_it_back(capsys):
    code, out, err = run(
        capsys, "encode", "--msg", "0x0200", "--phone", "13912344329", "--serial", "7",
        "--version", "2019", "--lat", "31.49", "--lng", "120.31", "--speed", "42.5",
        "--heading", "270", "--time", "2026-12-06T10:00:00+08:00", "--loaded", "full",
    )  # fmt: skip
    assert code == 0 and err == ""
    code, out, _ = run(capsys, "decode", out.strip())
    d = json.loads(out)
    assert (d["version"], d["phone"], d["serial"]) == ("2019", "13912344329", 7)
    (p,) = d["positions"]
    assert (p["lat"], p["lng"], p["speed_kmh"], p["heading"]) == (31.49, 120.31, 42.5, 270)
    assert p["time"] == "2026-12-06T02:00:00Z" and p["flags"]["load"] == "full"


def test_encode_json_from_decode_output_gives_the_same_frame(capsys, tmp_path):
    names = ["V01", "V02", "V09", "V13", "V14", "V15"]
    lines = []
    for name in names:
        _, out, _ = run(capsys, "decode", BY_NAME[name].hex)
        lines.append(out.strip())
    path = tmp_path / "frames.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "encode", "--json", str(path))
    assert code == 0
    assert out.split() == [BY_NAME[n].hex.lower() for n in names]


def test_encode_an_indented_object_from_stdin(capsys, monkeypatch):
    _, out, _ = run(capsys, "decode", "--indent", "2", BY_NAME["V07"].hex)
    code, out, _ = run(capsys, "encode", "--json", "-", stdin=out, monkeypatch=monkeypatch)
    assert code == 0 and out.strip() == BY_NAME["V07"].hex.lower()


@pytest.mark.parametrize(
    "args",
    [
        ["--msg", "0x0200", "--lat", "31"],  # no --lng/--time
        ["--msg", "0x0200", "--lat", "31", "--lng", "120", "--time", "2026-12-06T10:00:00"],
        ["--msg", "0x0002", "--phone", "12345678901234"],
        ["--json", "/nonexistent/frames.jsonl"],
        [],
    ],
)
def test_encode_refusals_exit_2(capsys, args):
    code, out, err = run(capsys, "encode", *args)
    assert code == 2 and out == "" and err.startswith("landun jt808 encode:")


def test_decode_with_a_city_profile_names_its_items(capsys, tmp_path):
    from gateway import location
    from gateway.encoders import encode_frame
    from tests.gateway.test_location import body
    from tests.gateway.test_vendors import CITY

    vendors = tmp_path / "vendors.json"
    vendors.write_text(json.dumps(CITY), encoding="utf-8")
    loc = location.decode(body(items={0xF1: b"\x02"}))
    raw = encode_frame(0x0200, "13912344329", 1, location.encode(loc)).hex()
    code, out, _ = run(capsys, "decode", "--vendors", str(vendors), "--manufacturer", "70111", raw)
    assert code == 0
    assert json.loads(out)["positions"][0]["extras"]["0xF1"]["value"] == {"lift": True}
    code, _, err = run(capsys, "decode", "--vendors", str(vendors), "--manufacturer", "X", raw)
    assert code == 2 and "no profile for manufacturer 'X'" in err


def test_decode_ping_shows_what_the_engine_gets(capsys):
    code, out, err = run(
        capsys, "decode", "--ping", "SU-B1", "--no-load-sensor", BY_NAME["V19"].hex
    )
    (ping,) = json.loads(out)["pings"]
    assert code == 0 and err == ""
    assert ping == {
        "vehicle": "SU-B1", "ts": 1_738_161_224_000, "lat": -31.234567, "lng": 121.987654,
        "speed_kmh": 6.6, "heading": 3, "acc": False, "source": "jt808", "seq": 0,
        "received": 1_738_161_224_000,
    }  # fmt: skip


def test_decode_ping_of_a_blind_area_batch_is_backfill(capsys, tmp_path):
    _, out, _ = run(capsys, "decode", BY_NAME["V18"].hex)
    d = json.loads(out)
    d["batch_type"] = 1
    d["positions"][1]["time"] = None
    d["positions"][1]["time_raw"] = "000000000000"  # no fix time: no ping
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(d), encoding="utf-8")
    _, raw, _ = run(capsys, "encode", "--json", str(path))
    code, out, err = run(capsys, "decode", "--ping", "SU-B1", raw.strip())
    pings = json.loads(out)["pings"]
    assert code == 0 and [p["backfill"] for p in pings] == [True]
    assert "position 1 makes no ping: bad_time" in err


@pytest.mark.parametrize("version", ["2011", "2013", "2019"])
def test_encode_a_registration_in_each_version(capsys, monkeypatch, version):
    obj = {
        "msg_id": "0x0100", "version": version, "phone": "13912344329", "serial": 3,
        "province": 32, "city": 200, "manufacturer": "70111", "model": "ZT-1",
        "terminal_id": "T0001", "plate_color": 2, "plate": "苏B12345",
    }  # fmt: skip
    _, raw, _ = run(capsys, "encode", "--json", "-", stdin=json.dumps(obj), monkeypatch=monkeypatch)
    _, out, _ = run(capsys, "decode", raw.strip())
    d = json.loads(out)
    assert (d["layout"], d["plate"], d["model"]) == (version, "苏B12345", "ZT-1")
