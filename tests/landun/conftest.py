"""Fixtures of the production tests: the real services' fixtures, shared from where they live,
and a production deployment over them (tests/landun/deployment.py)."""

import pytest

from tests.landun.deployment import Deployment
from tests.live.conftest import prefix, redis_url  # noqa: F401
from tests.services.conftest import database_url, pg_admin_url  # noqa: F401
from tests.stream.kafka.conftest import bootstrap, sim, topics  # noqa: F401


@pytest.fixture
def deployment(bootstrap, topics, database_url, redis_url, prefix, tmp_path):  # noqa: F811
    """A deployment in a fresh namespace, key prefix and database, its schema migrated; every
    process it started is stopped afterwards."""
    d = Deployment(bootstrap, topics, database_url, redis_url, prefix, tmp_path)
    done = d.landun("db", "upgrade")
    assert done.returncode == 0, done.stderr
    yield d
    d.stop()
