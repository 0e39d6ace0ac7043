"""Evidence packs: one alert's pings, reference data, rule, audit trail, track and case document,
with a SHA-256 manifest, re-runnable with ``landun detect`` (issue 12; docs/formats.md)."""

from replay.evidence.manifest import verify_pack
from replay.evidence.pack import AlertNotArchived, build_pack

__all__ = ["AlertNotArchived", "build_pack", "verify_pack"]
