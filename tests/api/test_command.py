"""`landun api`: argument parsing, refusing unsafe settings, and serving the real app."""

from __future__ import annotations

from landun.cli import build_parser
from landun.commands import api as command


def test_landun_api_refuses_to_start_without_a_secret(monkeypatch, capsys):
    monkeypatch.delenv("LANDUN_SECRET_KEY", raising=False)
    monkeypatch.delenv("LANDUN_DEMO", raising=False)
    args = build_parser().parse_args(["api", "--port", "8123"])
    assert args.func(args) == 2
    assert "LANDUN_SECRET_KEY" in capsys.readouterr().err


def test_landun_api_demo_serves_the_app_with_demo_logins(monkeypatch):
    served = {}
    monkeypatch.delenv("LANDUN_SECRET_KEY", raising=False)
    monkeypatch.setattr(
        command,
        "serve",
        lambda app, host, port, settings: served.update(
            app=app, host=host, port=port, frame=settings.ws_max_frame_bytes
        ),
    )
    args = build_parser().parse_args(["api", "--demo", "--host", "0.0.0.0", "--port", "9000"])
    assert args.func(args) == 0
    assert (served["host"], served["port"]) == ("0.0.0.0", 9000)
    assert served["app"].state.ports.users.get("liangxi").district == "梁溪"
    assert served["frame"] == served["app"].state.settings.ws_max_frame_bytes


def test_tickets_are_blanked_out_of_log_lines():
    import logging

    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/ws/alerts?after=3&ticket=eyJh.secret.sig"),
        None,
    )
    assert command.RedactTickets().filter(record)
    assert (
        record.getMessage()
        == '127.0.0.1:5000 - "WebSocket /ws/alerts?after=3&ticket=***" [accepted]'
    )
    assert "redact_tickets" in command.log_config()["handlers"]["access"]["filters"]
