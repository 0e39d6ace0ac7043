"""The worker's Faust settings are its own: environment variables named like Faust settings
(``STREAM_RECOVERY_DELAY=35`` made a takeover take 50 s) do not override them (issue 10)."""

from __future__ import annotations

from stream.kafka.worker import WorkerSettings, build_app


def test_faust_settings_ignore_unprefixed_environment(bootstrap, topics, monkeypatch, tmp_path):
    monkeypatch.setenv("STREAM_RECOVERY_DELAY", "35")
    monkeypatch.setenv("BROKER_SESSION_TIMEOUT", "99")
    monkeypatch.setenv("LANDUN_FAUST_BROKER_REQUEST_TIMEOUT", "45")
    settings = WorkerSettings(
        bootstrap=bootstrap,
        namespace=topics.namespace,
        partitions=4,
        store="memory://",
        datadir=str(tmp_path),
    )
    app, _ = build_app(settings)
    assert app.conf.stream_recovery_delay == 0.0
    assert app.conf.broker_session_timeout == settings.session_timeout_s
    assert app.conf.broker_request_timeout == 45.0  # the prefixed name is the way to tune Faust
