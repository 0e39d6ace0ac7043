"""`landun services up|down|status`: the local Kafka, Redis and PostgreSQL, through
scripts/services.sh.

This is the only place in the Python code that starts or stops the services; it hands the work
to the shell script so that `make services`, CI and this command do exactly the same thing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ACTIONS = ("up", "down", "status")

# landun/commands/services.py -> the repository root, where scripts/ lives (editable install).
SERVICES_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "services.sh"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `services` sub-command.

    Parameters
    ----------
    subparsers
        The sub-parser collection of the `landun` parser.
    """
    parser = subparsers.add_parser(
        "services",
        help="start, stop or check the local Kafka, Redis and PostgreSQL (docs/services.md)",
        description=(
            "Run the real services on loopback: Kafka 4.x (KRaft), Redis and PostgreSQL. "
            "Ports come from LANDUN_KAFKA_PORT, LANDUN_REDIS_PORT and LANDUN_PG_PORT."
        ),
    )
    parser.add_argument("action", choices=ACTIONS, help="up: start and wait; down: stop; status")
    parser.set_defaults(func=run_services)


def run_services(args: argparse.Namespace, script: Path = SERVICES_SCRIPT) -> int:
    """Run `scripts/services.sh ACTION` and return its exit status.

    Parameters
    ----------
    args
        Parsed arguments; `args.action` is one of `ACTIONS`.
    script
        The services script; defaults to the one in this source checkout.

    Returns
    -------
    int
        The script's exit status (0: done / all up), or 2 when the script cannot be found.
    """
    if not script.is_file():
        print(
            f"landun services: {script} not found; the services are run from a source checkout "
            "of landun (make services)",
            file=sys.stderr,
        )
        return 2
    # The script prints its own progress and errors; pass them straight through.
    return subprocess.run(["bash", str(script), args.action], check=False).returncode
