"""The examples in gateway docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

MODULES = sorted(
    "gateway." + p.stem
    for p in (Path(__file__).resolve().parents[2] / "gateway").glob("*.py")
    if ">>> " in p.read_text(encoding="utf-8")
)


def test_there_are_examples():
    assert "gateway.items" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
