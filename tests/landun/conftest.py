"""Fixtures of the production tests: the real services' fixtures, shared from where they live."""

from tests.live.conftest import prefix, redis_url  # noqa: F401
from tests.services.conftest import database_url, pg_admin_url  # noqa: F401
from tests.stream.kafka.conftest import bootstrap, sim, topics  # noqa: F401
