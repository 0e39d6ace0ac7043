"""The newcomer's documents hold to the code (issue 13).

README lists every sub-command the CLI has (read from the CLI's own parser, so a command added
without a README line fails here); the documents link only inside the repository (a clone has
no ``../shared``); docs/domain.md names every violation code the engine can raise.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from landun.cli import build_parser
from stream.engine.config import ALERT_TYPES

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def command_paths(parser: argparse.ArgumentParser, prefix: tuple = ()) -> list[tuple[str, ...]]:
    """Every command path of the parser: ``("fences",)``, ``("fences", "check")``, ...; the
    fixed choices of a positional argument (``services up|down|status``) count as sub-commands."""
    paths = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths.append((*prefix, name))
                paths += command_paths(sub, (*prefix, name))
        elif not action.option_strings and action.choices and prefix:
            paths += [(*prefix, str(choice)) for choice in action.choices]
    return paths


PATHS = command_paths(build_parser())


def command_rows(top: str) -> list[str]:
    """README table rows whose command cell starts with ``landun TOP``."""
    pattern = re.compile(rf"^\| `landun {re.escape(top)}(?=[\s`\\])")
    return [line for line in README.splitlines() if pattern.match(line)]


def test_the_cli_has_the_commands_a_newcomer_was_promised():
    """The parser walk itself is no empty loop: the commands the issue names are in it."""
    promised = {
        "worker", "ingest", "sim-feed", "rebuild-live", "archive", "replay", "track",
        "who-was-here", "stops", "evidence", "gateway", "jt808", "sim-terminals",
    }  # fmt: skip
    assert promised <= {p[0] for p in PATHS}
    assert ("users", "hash") in PATHS and ("services", "status") in PATHS


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(p) for p in PATHS])
def test_the_readme_lists_every_sub_command(path):
    rows = command_rows(path[0])
    assert rows, f"README.md has no row for `landun {path[0]}`"
    if len(path) > 1:
        word = re.compile(rf"(?<![\w-]){re.escape(path[-1])}(?![\w-])")
        assert any(word.search(row) for row in rows), (
            f"README.md's `landun {path[0]}` rows do not name `{' '.join(path)}`"
        )


LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_documents_link_only_inside_the_repository(doc):
    text = doc.read_text(encoding="utf-8")
    assert "../shared" not in text and "DOMAIN.md" not in text
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address, or a place in the same page
        where = (doc.parent / target.split("#")[0]).resolve()
        assert where.is_relative_to(ROOT), f"{doc.name}: {target} leaves the repository"
        assert where.exists(), f"{doc.name}: {target} does not exist"


def test_domain_md_explains_every_violation_code():
    domain = (ROOT / "docs" / "domain.md").read_text(encoding="utf-8")
    for code in ALERT_TYPES:
        row = re.search(rf"^\| `{code}` \| ([^|]+) \| ([^|]+) \|", domain, re.M)
        assert row, f"docs/domain.md has no row for {code}"
        assert re.search(r"[\u4e00-\u9fff]", row[1]), f"{code}: no Chinese name"
        assert len(row[2].split()) >= 6, f"{code}: no meaning"


def test_the_readme_names_every_document():
    row = next(line for line in README.splitlines() if line.startswith("| `docs/` |"))
    for doc in sorted((ROOT / "docs").glob("*.md")):
        assert f"`{doc.name}`" in row, f"README.md's layout does not name docs/{doc.name}"
