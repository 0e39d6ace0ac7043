"""The stamp every benchmark table carries (issue 15): what was measured, where, under what load.

A figure without its commit cannot be re-checked, and one without the machine's load cannot be
compared with another: docs/benchmarks.md once put a "before" and an "after" side by side that
were taken an hour apart under different load. :func:`start` is called before a bench does any
work and :func:`end` after; both sample the load average, so a table says how busy the shared
machine was while it ran.

``stamp`` keys: ``commit`` (short hash of HEAD, or ``"unknown"`` outside a git checkout),
``dirty`` (bool: tracked files differ from HEAD), ``dirty_files`` (how many) and
``dirty_paths`` (which, at most 100), ``date`` (UTC,
ISO 8601, at the start), ``load_start`` / ``load_end`` (the 1, 5 and 15 minute load averages),
``cpus`` (``os.cpu_count()``), ``cpu`` (model name), ``machine`` (``platform.platform()``),
``python``, ``command`` (the argv of the run) and ``seconds`` (wall time from start to end).
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEYS = (
    "commit",
    "dirty",
    "dirty_files",
    "date",
    "load_start",
    "load_end",
    "cpus",
    "cpu",
    "machine",
    "python",
    "command",
    "seconds",
)


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=20, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def start(argv: list[str] | None = None, root: Path = ROOT) -> dict:
    """The stamp at the start of a run (``load_end`` and ``seconds`` are None until :func:`end`).

    Parameters
    ----------
    argv : list of str, optional
        The bench's arguments, recorded as ``command`` (default ``sys.argv``).
    root : Path
        The checkout whose commit is stamped (default: the one holding this file).
    """
    head = _git(root, "rev-parse", "--short", "HEAD")
    # Untracked files are not counted: other work leaves scratch files that change no code.
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    changed = [line for line in (status or "").splitlines() if line.strip()]
    return {
        "commit": head.strip() if head else "unknown",
        "dirty": bool(changed) if status is not None else None,
        "dirty_files": len(changed) if status is not None else None,
        # Which files: on a checkout shared with other work, a reader can tell whether the code
        # measured (stream/, bench/ ...) was among them.
        "dirty_paths": [line[3:] for line in changed[:100]],
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_start": _load(),
        "load_end": None,
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "command": " ".join(sys.argv if argv is None else ["python -m", *argv]),
        "seconds": None,
        "_t0": time.monotonic(),
    }


def end(stamp: dict) -> dict:
    """Complete ``stamp`` with the load average and wall time at the end; returns it (without
    the private start clock)."""
    t0 = stamp.pop("_t0", None)
    stamp["load_end"] = _load()
    stamp["seconds"] = round(time.monotonic() - t0, 1) if t0 is not None else None
    return stamp


def line(stamp: dict) -> str:
    """One line for the head of a printed table."""
    dirty = {True: " (dirty)", False: "", None: " (dirty?)"}[stamp.get("dirty")]
    load_end = stamp.get("load_end")
    return (
        f"commit {stamp['commit']}{dirty} · {stamp['date']} · {stamp['cpus']} × {stamp['cpu']} · "
        f"Python {stamp['python']} · load {stamp['load_start']} → {load_end} · "
        f"{stamp.get('seconds')} s · shared machine: absolute figures are noisy"
    )


def missing(stamp: dict | None) -> list[str]:
    """The keys a complete stamp lacks (empty when it is complete); tests use it."""
    if not isinstance(stamp, dict):
        return list(KEYS)
    return [k for k in KEYS if k not in stamp or (k != "dirty" and stamp[k] is None)]
