"""bench.stamp: every table carries its commit, dirty flag and load (issue 15)."""

from __future__ import annotations

import subprocess

import pytest

from bench import stamp as stamping


def _git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "engine.py").write_text("x = 1\n")
    (tmp_path / "notes.txt").write_text("kept\n")
    _git(tmp_path, "add", "engine.py", "notes.txt")
    _git(tmp_path, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "one")
    return tmp_path


@pytest.mark.parametrize(
    "edit, dirty, paths",
    [
        ("nothing", False, []),
        ("tracked file changed", True, ["engine.py"]),
        ("untracked file added", False, []),  # scratch files change no measured code
    ],
)
def test_the_stamp_says_which_commit_and_whether_the_tree_was_dirty(repo, edit, dirty, paths):
    if edit == "tracked file changed":
        (repo / "engine.py").write_text("x = 2\n")
    elif edit == "untracked file added":
        (repo / "scratch.log").write_text("noise\n")
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    stamp = stamping.start(["bench.x", "--size", "1"], root=repo)
    assert stamp["commit"] == head
    assert stamp["dirty"] is dirty
    assert stamp["dirty_paths"] == paths
    assert stamp["dirty_files"] == len(paths)
    assert stamp["command"] == "python -m bench.x --size 1"


def test_a_stamp_is_complete_only_once_ended():
    stamp = stamping.start(["bench.x"])
    assert set(stamping.missing(stamp)) == {"load_end", "seconds"}
    stamping.end(stamp)
    assert stamping.missing(stamp) == []
    assert len(stamp["load_start"]) == len(stamp["load_end"]) == 3
    assert stamp["cpus"] >= 1 and stamp["python"].startswith("3.")
    line = stamping.line(stamp)
    assert stamp["commit"] in line and str(stamp["load_start"]) in line
    assert "_t0" not in stamp  # the private clock does not leak into reports


def test_missing_names_what_a_report_lacks():
    assert stamping.missing(None) == list(stamping.KEYS)
    stamp = stamping.end(stamping.start(["bench.x"]))
    del stamp["commit"]
    stamp["load_end"] = None
    assert stamping.missing(stamp) == ["commit", "load_end"]
