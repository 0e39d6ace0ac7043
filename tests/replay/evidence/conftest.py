"""One archived simulated night shared by the evidence-pack tests (issue 12)."""

from __future__ import annotations

import pytest

from tests.replay.evidence.night import archived_night


@pytest.fixture(scope="session")
def night(tmp_path_factory):
    """``(archive, alerts by id)`` of seed 1's 30-vehicle night."""
    return archived_night(tmp_path_factory.mktemp("evidence-night"))
