"""The worker's data directory is a setting (issue 15): LANDUN_WORKER_DATA_DIR, else the user's
XDG state directory; never ``var/worker`` of the directory the process started in."""

from __future__ import annotations

from pathlib import Path

import pytest

from landun.cli import build_parser
from stream.kafka.datadir import default_datadir
from stream.kafka.worker import WorkerSettings

CASES = [
    # (LANDUN_WORKER_DATA_DIR, XDG_STATE_HOME, expected; HOME is /home/op)
    ("/srv/landun/worker", "/state", "/srv/landun/worker"),
    (None, "/state", "/state/landun/worker"),
    (None, None, "/home/op/.local/state/landun/worker"),
    ("", "", "/home/op/.local/state/landun/worker"),  # set but empty counts as unset
]


@pytest.mark.parametrize(("explicit", "xdg", "expected"), CASES)
def test_the_data_directory_follows_the_settings_not_the_working_directory(
    explicit, xdg, expected, monkeypatch, tmp_path
):
    monkeypatch.setenv("HOME", "/home/op")
    for name, value in (("LANDUN_WORKER_DATA_DIR", explicit), ("XDG_STATE_HOME", xdg)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # the working directory plays no part
    assert default_datadir() == expected
    assert WorkerSettings().datadir == expected
    assert build_parser().parse_args(["worker"]).datadir == expected
    assert Path(expected).is_absolute()


def test_a_data_directory_whose_parents_are_missing_is_made(bootstrap, topics, tmp_path):
    # A fresh machine has no ~/.local/state/landun; Faust itself makes only the last level.
    from stream.kafka.worker import build_app

    where = tmp_path / "state" / "landun" / "worker"
    settings = WorkerSettings(
        bootstrap=bootstrap,
        namespace=topics.namespace,
        partitions=4,
        store="memory://",
        datadir=str(where),
    )
    build_app(settings)
    assert where.is_dir()
