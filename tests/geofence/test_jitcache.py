"""numba's kernel cache across modules: stale without ``geofence.jitcache``, fresh with it.

Issue 15. Two tiny modules stand in for ``raster.py`` (a kernel that is compiled into another) and
``query.py`` (the kernel that calls it); each run is a new process, as a restarted worker is.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geofence
from geofence import jitcache

CALLEE = """
import numba as nb

@nb.njit(cache=True, inline="always")
def rule(x):
    return x + {step}
"""
CALLER = """
import numba as nb
from kernels.callee import rule

@nb.njit(cache=True)
def judge(x):
    return rule(x) * 10
"""
RUN = """
import importlib.util, sys
from kernels import callee, caller
# geofence.jitcache by its path: importing the geofence package would touch the checkout's caches
spec = importlib.util.spec_from_file_location("jitcache", sys.argv[2])
jitcache = importlib.util.module_from_spec(spec)
spec.loader.exec_module(jitcache)
dropped = jitcache.refresh([callee, caller], "kernels") if sys.argv[1] == "refresh" else None
print(dropped, caller.judge(1))
"""


def run(tmp_path: Path, mode: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    env.pop("NUMBA_CACHE_DIR", None)  # the caches sit in tmp_path's __pycache__
    out = subprocess.run(
        [sys.executable, str(tmp_path / "run.py"), mode, jitcache.__file__],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout.strip()


def test_an_edited_callee_reaches_its_caller_only_through_refresh(tmp_path):
    pkg = tmp_path / "kernels"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "callee.py").write_text(CALLEE.format(step=1))
    (pkg / "caller.py").write_text(CALLER)
    (tmp_path / "run.py").write_text(RUN)
    assert run(tmp_path, "refresh") == "True 20"  # no stamp yet: caches dropped, compiled
    (pkg / "callee.py").write_text(CALLEE.format(step=2))  # only the callee's file changes
    # numba alone: the caller's cache still holds the old rule (numba/numba#1833).
    assert run(tmp_path, "plain") == "None 20"
    assert run(tmp_path, "refresh") == "True 30"
    assert run(tmp_path, "refresh") == "False 30"  # unchanged sources: the cache is kept


def test_importing_geofence_refreshes_its_kernel_caches(tmp_path):
    """A fresh process importing geofence stamps its cache directory (numba's, moved to tmp_path)
    with the digest of the kernel modules: the refresh runs on import, before any kernel."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", "import geofence"], env=env, check=True, timeout=120)
    stamps = list(tmp_path.rglob(f"geofence{jitcache.STAMP_SUFFIX}"))
    assert len(stamps) == 1, stamps
    assert stamps[0].read_text() == jitcache.sources_digest(geofence.KERNEL_MODULES)
