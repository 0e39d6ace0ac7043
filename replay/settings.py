"""Archive settings: one typed object, read from ``LANDUN_ARCHIVE_*`` environment variables.

Every landun process that reads or writes the archive (``landun archive``, ``landun detect
--archive``, ``landun demo``, the investigation commands, the API's ``/api/replay``) takes its
defaults from here, so one variable moves them all.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ArchiveSettings(BaseSettings):
    """Where the archive lives and how long it keeps data (issue 12)."""

    model_config = SettingsConfigDict(env_prefix="LANDUN_ARCHIVE_")

    dir: Path = Field(
        Path("var/archive"),
        description="The archive directory (LANDUN_ARCHIVE_DIR): Parquet files by table and "
        "Beijing day, layout in docs/formats.md. A local path or a mounted object store.",
    )
    retention_days: int = Field(
        190,
        ge=1,
        description="Days of data kept (LANDUN_ARCHIVE_RETENTION_DAYS): `landun archive compact` "
        "deletes day partitions that ended longer ago. Satellite-positioning records of "
        "transport vehicles are kept at least six months in China, hence 190 by default.",
    )
