"""API settings: one typed object per process, read from ``LANDUN_*`` environment variables.

Every field has a default and a description (the operator's reference). The signing secret has an
unsafe placeholder default that is refused unless the process runs in demo mode, where a random
per-process secret replaces it (demo tokens then die with the process, which is what a demo wants).
"""

from __future__ import annotations

import math
import secrets
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

UNSAFE_SECRET = "change-me"
MIN_SECRET = 32  # characters
MIN_SECRET_BITS = 80  # estimated: length x the entropy of the key's own character frequencies
HOW_TO_MAKE_A_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


class UnsafeSettingsError(ValueError):
    """A setting is unsafe outside demo mode. Operator action: set ``LANDUN_SECRET_KEY``."""


class Connections(BaseSettings):
    """Where the backing services are: every landun process that talks to them (the API, the
    alert sink, ``landun users``, ``landun db``) reads these ``LANDUN_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="LANDUN_", env_nested_delimiter="__")

    database_url: SecretStr | None = Field(
        None,
        description="PostgreSQL URL of the system of record "
        "(postgresql+psycopg://user:pw@host/db); required outside demo mode.",
    )
    redis_url: str | None = Field(
        None,
        description="Redis URL of the live view (redis://host:6379/0); required outside demo mode.",
    )
    redis_prefix: str = Field("landun", description="Key prefix of the live view in Redis.")
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers (reference topics, alerts)."
    )
    namespace: str = Field("landun", description="Topic prefix: {namespace}.alerts, .fences, ...")


class ReferenceLimits(BaseSettings):
    """Limits on reference data, wherever it enters (the API, `landun ingest`): one fence may
    not cost the map or the engine without bound."""

    model_config = SettingsConfigDict(env_prefix="LANDUN_", env_nested_delimiter="__")

    fence_max_extent_km: float = Field(
        100.0, gt=0, description="Largest width or height of a fence's bounding box, km."
    )
    fence_max_vertices: int = Field(20_000, gt=0, description="Most vertices in one fence.")


class Settings(Connections, ReferenceLimits):
    """Configuration of one API process (``LANDUN_`` prefix, ``__`` for nesting)."""

    demo: bool = Field(False, description="Demo mode: demo users exist and a random secret is ok.")
    api_host: str = Field(
        "127.0.0.1", description="Address `landun api` binds (0.0.0.0 in a container)."
    )
    api_port: int = Field(8000, ge=1, le=65535, description="Port `landun api` listens on.")
    secret_key: SecretStr = Field(
        SecretStr(UNSAFE_SECRET),
        description=f"HMAC key signing access tokens and ws tickets: at least {MIN_SECRET} "
        f"characters and an estimated {MIN_SECRET_BITS} bits (length x Shannon entropy of its "
        f"characters; a repeated or low-variety key fails). "
        f"Make one with `{HOW_TO_MAKE_A_SECRET}`.",
    )
    token_ttl_s: int = Field(8 * 3600, gt=0, description="Lifetime of an access token, seconds.")
    ws_ticket_ttl_s: int = Field(30, gt=0, description="Lifetime of a websocket ticket, seconds.")
    users_file: Path | None = Field(
        None, description="JSON list of users {username, role, district, password_hash}."
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins (scheme://host:port) allowed to open websockets and call with CORS.",
    )
    allow_same_origin: bool = Field(
        True, description="Also allow a websocket whose Origin equals the request's own host."
    )
    metrics_token: SecretStr | None = Field(
        None, description="Bearer token a Prometheus scraper may use on /metrics (else admins)."
    )
    max_body_bytes: int = Field(1_000_000, gt=0, description="Largest accepted request body.")
    ws_max_frame_bytes: int = Field(16_384, gt=0, description="Largest accepted client frame.")
    ws_alert_queue: int = Field(
        512, gt=0, description="Alert messages queued per client before it is closed with 1013."
    )
    ws_position_cap: int = Field(
        20_000, gt=0, description="Coalesced positions held per client before a resnapshot."
    )
    ws_batch: int = Field(2_000, gt=0, description="Most positions sent in one frame.")
    ws_flush_ms: int = Field(100, ge=0, description="Coalescing interval for position frames.")
    ws_send_timeout_s: float = Field(
        10.0, gt=0, description="A send slower than this closes the client with 1013."
    )
    ws_max_per_user: int = Field(8, gt=0, description="Concurrent websockets per user.")
    track_points: int = Field(720, gt=0, description="Recent positions kept per vehicle.")
    alert_log_size: int = Field(100_000, gt=0, description="Alert events kept for resume.")
    offline_sweep_s: float = Field(
        15.0,
        ge=0,
        description="How often this process marks vehicles silent for 10 minutes (before the "
        "newest position's time) offline in the live view; 0 turns the sweep off (api.offline).",
    )
    tile_url: str = Field(
        "", description="Basemap tile URL template with {z}/{x}/{y}; empty = no basemap."
    )
    tile_datum: Literal["wgs84", "gcj02"] = Field(
        "gcj02", description="Datum the tiles are drawn in (Amap/Tianditu-style tiles: gcj02)."
    )
    tile_attribution: str = Field("", description="Attribution text shown on the map.")
    basemap_file: Path | None = Field(
        None,
        description="GeoJSON FeatureCollection of road LineStrings (properties.class arterial or "
        "road) drawn as the vector basemap when no tile URL is set; `landun demo` writes the "
        "simulator's roads here (issue 13, docs/map.md).",
    )
    map_center: tuple[float, float] = Field(
        (31.49, 120.31), description="Initial map centre (lat, lng), WGS-84."
    )
    map_zoom: int = Field(11, ge=1, le=19, description="Initial map zoom.")

    # Accounts and logins (api.passwords, api.throttle). Each API replica throttles on its own:
    # with N replicas behind a balancer an attacker gets up to N times the attempts.
    password_workers: int = Field(
        2, gt=0, description="Threads checking passwords (argon2id, 19 MiB and ~30 ms each)."
    )
    password_queue: int = Field(
        32, ge=0, description="Logins waiting for a password thread; more are refused with 503."
    )
    login_account_free_failures: int = Field(
        5, ge=0, description="Failed logins of one username before it is throttled (429)."
    )
    login_address_free_failures: int = Field(
        20, ge=0, description="Failed logins from one client address before it is throttled."
    )
    login_backoff_s: float = Field(
        1.0, gt=0, description="First wait after the free failures; doubles with each failure."
    )
    login_backoff_max_s: float = Field(900.0, gt=0, description="Longest wait (Retry-After).")
    login_forget_s: float = Field(
        3600.0, gt=0, description="Failures are forgotten this long after the last one."
    )
    login_tracked: int = Field(
        100_000, gt=0, description="Usernames and addresses tracked at most (oldest dropped)."
    )
    ws_recheck_s: float = Field(
        2.0, gt=0, description="How often an open websocket re-checks its account (revocation)."
    )
    # The HTTP server (landun.commands.api.serve).
    http_head_timeout_s: float = Field(
        10.0, gt=0, description="A connection whose request head is incomplete this long closes."
    )
    http_limit_concurrency: int = Field(
        4096, gt=0, description="Connections (websockets included) before new requests get 503."
    )
    http_backlog: int = Field(2048, gt=0, description="Pending TCP connections the kernel queues.")

    @model_validator(mode="after")
    def _refuse_unsafe_secret(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        bits = secret_bits(secret)
        if secret == UNSAFE_SECRET:
            problem = "is the unsafe default"
        elif len(secret) < MIN_SECRET:
            problem = f"is shorter than {MIN_SECRET} characters ({len(secret)})"
        elif bits < MIN_SECRET_BITS:
            problem = (
                f"is too predictable: an estimated {bits:.0f} bits of entropy, "
                f"{MIN_SECRET_BITS} needed (repeated or too few different characters)"
            )
        else:
            return self
        if not self.demo:
            raise UnsafeSettingsError(
                f"LANDUN_SECRET_KEY {problem}; set a random secret "
                f"(e.g. `{HOW_TO_MAKE_A_SECRET}`) or run in demo mode (LANDUN_DEMO=1)"
            )
        self.secret_key = SecretStr(secrets.token_urlsafe(32))
        return self


def secret_bits(secret: str) -> float:
    """Estimated entropy of ``secret`` in bits: its length times the Shannon entropy of its own
    character frequencies. A screen against repeated or low-variety keys, not a proof of
    randomness (``secrets.token_urlsafe(32)`` scores about 210, ``"a" * 40`` zero).

    Examples
    --------
    >>> secret_bits("aaaaaaaaaaaaaaaa"), round(secret_bits("abcd" * 8))
    (0.0, 64)
    """
    n = len(secret)
    counts = Counter(secret).values()
    return max(0.0, -sum(c * math.log2(c / n) for c in counts))
