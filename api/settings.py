"""API settings: one typed object per process, read from ``LANDUN_*`` environment variables.

Every field has a default and a description (the operator's reference). The signing secret has an
unsafe placeholder default that is refused unless the process runs in demo mode, where a random
per-process secret replaces it (demo tokens then die with the process, which is what a demo wants).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

UNSAFE_SECRET = "change-me"
MIN_SECRET = 16


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


class Settings(Connections):
    """Configuration of one API process (``LANDUN_`` prefix, ``__`` for nesting)."""

    demo: bool = Field(False, description="Demo mode: demo users exist and a random secret is ok.")
    api_host: str = Field(
        "127.0.0.1", description="Address `landun api` binds (0.0.0.0 in a container)."
    )
    api_port: int = Field(8000, ge=1, le=65535, description="Port `landun api` listens on.")
    secret_key: SecretStr = Field(
        SecretStr(UNSAFE_SECRET), description="HMAC key signing access tokens and ws tickets."
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
    tile_url: str = Field(
        "", description="Basemap tile URL template with {z}/{x}/{y}; empty = no basemap."
    )
    tile_datum: Literal["wgs84", "gcj02"] = Field(
        "gcj02", description="Datum the tiles are drawn in (Amap/Tianditu-style tiles: gcj02)."
    )
    tile_attribution: str = Field("", description="Attribution text shown on the map.")
    map_center: tuple[float, float] = Field(
        (31.49, 120.31), description="Initial map centre (lat, lng), WGS-84."
    )
    map_zoom: int = Field(11, ge=1, le=19, description="Initial map zoom.")

    @model_validator(mode="after")
    def _refuse_unsafe_secret(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        if secret != UNSAFE_SECRET and len(secret) >= MIN_SECRET:
            return self
        if not self.demo:
            raise UnsafeSettingsError(
                f"LANDUN_SECRET_KEY is the unsafe default or shorter than {MIN_SECRET} characters; "
                "set a random secret "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`) "
                "or run in demo mode (LANDUN_DEMO=1)"
            )
        self.secret_key = SecretStr(secrets.token_urlsafe(32))
        return self
