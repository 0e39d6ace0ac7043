"""The map's JavaScript WGS-84 → GCJ-02 port against the shared test vectors (run with node)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

DATUM_JS = Path(__file__).parents[2] / "api" / "static" / "datum.js"
# (lat, lng) WGS-84 → GCJ-02, from shared/DATUMS.md.
VECTORS = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),
]
OUTSIDE = [(45.0, 183.0), (48.85, 2.35)]

# Issue 15: a missing node fails these tests (it skipped them silently); `make test` installs
# it (mk/web.mk, target web-tools).
NODE = shutil.which("node")


def run_js(points: list) -> list:
    if NODE is None:
        pytest.fail("node missing: run `make web-tools` (apt-get install nodejs)", pytrace=False)
    script = (
        f"const d = require({json.dumps(str(DATUM_JS))});"
        f"const pts = {json.dumps(points)};"
        "console.log(JSON.stringify(pts.map(([a, b]) => "
        "[d.wgs84ToGcj02(a, b), d.gcj02ToWgs84(a, b)])));"
    )
    done = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_forward_transform_matches_the_vectors_and_inverse_returns_within_a_millimetre():
    results = run_js([list(w) for w, _ in VECTORS] + [list(g) for _, g in VECTORS])
    forward = [r[0] for r in results[: len(VECTORS)]]
    inverse = [r[1] for r in results[len(VECTORS) :]]
    for (wgs, gcj), got, back in zip(VECTORS, forward, inverse, strict=True):
        assert got == pytest.approx(list(gcj), abs=1e-9)
        assert back == pytest.approx(list(wgs), abs=1e-8)  # 1e-8 degrees is about 1 mm


def test_outside_china_both_directions_are_the_identity():
    for point, (forward, inverse) in zip(OUTSIDE, run_js([list(p) for p in OUTSIDE]), strict=True):
        assert forward == list(point) and inverse == list(point)
