"""The `landun` command: one sub-command group per component, each registered by its package."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module exposes `register(subparsers)`; the chosen sub-command sets `func(args) -> int`.
COMMAND_MODULES = (
    "landun.commands.fences",
    "landun.commands.sim",
    "landun.commands.detect",
    "landun.commands.replay",
    "landun.commands.investigate",
    "landun.commands.score",
    "landun.commands.demo",
    "landun.commands.services",
    "landun.commands.api",
    "landun.commands.worker",
    "landun.commands.rebuild_live",
    "landun.commands.ingest",
    "landun.commands.sim_feed",
    "landun.commands.db",
    "landun.commands.users",
    "landun.commands.alert_sink",
    "landun.commands.archive",
    "landun.commands.evidence",
    "landun.commands.jt808",
    "landun.commands.gateway",
    "landun.commands.sim_terminals",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="landun", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency, not an absent component
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
