"""``manifest.json`` of an evidence pack: the SHA-256 and size of every other file (issue 12).

Whoever receives a pack checks it with :func:`verify_pack` (or ``sha256sum`` against the
manifest): one changed byte in any file is a mismatch, a missing file is named. Files added
later (``alerts.rerun.jsonl``, written by ``reproduce.sh``) are not part of the pack and are
not checked.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

MANIFEST = "manifest.json"
FORMAT = "landun-evidence-pack/1"


def landun_version() -> str:
    """The installed landun's version (``unknown`` when run from a tree that is not installed)."""
    try:
        return metadata.version("landun")
    except metadata.PackageNotFoundError:
        return "unknown"


def file_entry(path: Path) -> dict[str, Any]:
    """``{"sha256", "bytes"}`` of one file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"sha256": digest.hexdigest(), "bytes": path.stat().st_size}


def write_manifest(folder: Path, names: Iterable[str], header: dict[str, Any]) -> dict[str, Any]:
    """Hash ``names`` in ``folder`` and write ``manifest.json``: ``header`` plus ``format``,
    ``landun_version`` and ``files`` (name -> sha256, bytes); returns it."""
    manifest = {
        "format": FORMAT,
        **header,
        "landun_version": landun_version(),
        "files": {name: file_entry(folder / name) for name in sorted(names)},
    }
    (folder / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    return manifest


def verify_pack(folder: str | os.PathLike) -> list[str]:
    """What does not match the manifest: one line per missing or changed file; empty if none.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = (Path(tmp) / "a.txt").write_bytes(b"evidence")
    ...     _ = write_manifest(Path(tmp), ["a.txt"], {"alert": "x"})
    ...     ok = verify_pack(tmp)
    ...     _ = (Path(tmp) / "a.txt").write_bytes(b"evidencE")
    ...     ok, verify_pack(tmp)
    ([], ['a.txt: SHA-256 differs from the manifest'])
    """
    root = Path(folder)
    try:
        manifest = orjson.loads((root / MANIFEST).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        return [f"{MANIFEST}: cannot be read ({exc})"]
    problems = []
    for name, want in sorted((manifest.get("files") or {}).items()):
        path = root / name
        if not path.is_file():
            problems.append(f"{name}: missing")
            continue
        have = file_entry(path)
        if have["sha256"] != want.get("sha256"):
            problems.append(f"{name}: SHA-256 differs from the manifest")
        elif have["bytes"] != want.get("bytes"):
            problems.append(f"{name}: size differs from the manifest")
    return problems
