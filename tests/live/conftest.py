"""Redis fixtures for the live-view tests: the real server of `make services`, a key prefix of
their own per test (its keys are deleted afterwards)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.services.conftest import HOW_TO_START, redis_address
from tests.stream.kafka.conftest import bootstrap, sim, topics, workers  # noqa: F401


@pytest.fixture(scope="session")
def redis_url() -> str:
    host, port = redis_address()
    url = f"redis://{host}:{port}/0"
    try:
        redis.Redis.from_url(url, socket_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not answering on {url} ({exc!r}); {HOW_TO_START}", pytrace=False)
    return url


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    name = f"lt{uuid.uuid4().hex[:10]}"
    yield name
    r = redis.Redis.from_url(redis_url)
    keys = list(r.scan_iter(f"{name}:*", count=1000))
    if keys:
        r.delete(*keys)
