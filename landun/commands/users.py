"""`landun users`: the accounts of the API, in the PostgreSQL system of record.

  landun users add NAME --role R [--district D] [--display-name X] --password-stdin
  landun users list [--json]
  landun users passwd NAME --password-stdin
  landun users disable NAME        (and enable NAME)
  landun users hash --password-stdin   (an argon2id hash for a LANDUN_USERS_FILE entry)

The first administrator is created this way: outside demo mode there is no built-in account
and no default password. A password is read from standard input (one trailing newline is
dropped), never from the command line where other users and the shell history would see it,
and must have at least 12 characters. ``passwd`` and ``disable`` bump the account's generation:
its tokens stop working at once and its open websockets close within seconds. ``list`` never
prints password hashes.

The database is ``--database URL`` or, by default, LANDUN_DATABASE_URL; its schema is brought up
to date first, as the API does at start-up. Exit codes: 0 done; 1 PostgreSQL unreachable, no
such user, or the username is taken; 2 a bad argument (no database, short password, role and
district that disagree).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable

URL_VARIABLE = "LANDUN_DATABASE_URL"
MIN_PASSWORD = 12
MAX_PASSWORD = 256  # what the login form accepts
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ROLES = ("admin", "city", "district", "enforcement", "viewer")


class UsageError(Exception):
    """A bad argument or input (exit 2)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `users` sub-command group."""
    p = subparsers.add_parser(
        "users",
        help="manage API accounts (add, list, passwd, disable, enable, hash)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", required=True)
    add = _action(actions, "add", "create an account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--district", help="the district of a district officer (or enforcement)")
    add.add_argument("--display-name", default="", help="name shown in the map's header")
    _password_flag(add)
    listing = _action(actions, "list", "list accounts (never their hashes)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    passwd = _action(actions, "passwd", "set a new password (revokes the account's tokens)")
    passwd.add_argument("name")
    _password_flag(passwd)
    for name, text in (("disable", "disable (revokes its tokens)"), ("enable", "re-enable")):
        _action(actions, name, f"{text} an account").add_argument("name")
    hashing = actions.add_parser("hash", help="print an argon2id hash for a users file")
    _password_flag(hashing)
    hashing.set_defaults(func=run)


def _action(actions, name: str, help_text: str) -> argparse.ArgumentParser:
    action = actions.add_parser(name, help=help_text)
    action.add_argument("--database", help=f"database URL (default ${URL_VARIABLE})")
    action.set_defaults(func=run)
    return action


def _password_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help=f"read the password from standard input (at least {MIN_PASSWORD} characters)",
    )


def open_store(url: str):
    """``(store, close)``: the PostgreSQL UserStore at ``url``, its schema brought up to date.

    The seam the tests replace with an in-memory store.
    """
    from api.db import connect
    from api.db.migrate import is_current, upgrade
    from api.db.users import PgUserStore

    if not is_current(url):
        upgrade(url)
    engine = connect(url)
    return PgUserStore(engine), engine.dispose


def read_password(stream=None) -> str:
    """The password on ``stream`` (standard input), without one trailing newline.

    Raises
    ------
    UsageError
        Shorter than ``MIN_PASSWORD`` or longer than ``MAX_PASSWORD`` characters.
    """
    text = (stream or sys.stdin).read()
    password = text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
    if len(password) < MIN_PASSWORD:
        raise UsageError(
            f"the password has {len(password)} characters; at least {MIN_PASSWORD} are needed"
        )
    if len(password) > MAX_PASSWORD:
        raise UsageError(f"the password is longer than {MAX_PASSWORD} characters")
    return password


def run(args: argparse.Namespace) -> int:
    from stream.live.errors import ServiceUnavailable

    try:
        if args.action == "hash":
            from api.passwords import hash_password

            print(hash_password(read_password()))
            return 0
        url = args.database or os.environ.get(URL_VARIABLE)
        if not url:
            raise UsageError(f"no database: pass --database URL or set {URL_VARIABLE}")
        job = _job(args)  # before connecting: a bad password needs no database
        store, close = open_store(url)
        try:
            return job(store)
        finally:
            close()
    except UsageError as exc:
        return _fail(str(exc), 2)
    except ServiceUnavailable as exc:
        return _fail(f"{exc}; check that PostgreSQL is up and that the URL is right", 1)


def _job(args: argparse.Namespace) -> Callable[[object], int]:
    """The action as a function of the store, its input already read and checked."""
    if args.action == "list":
        return lambda store: _list(store, args.json)
    name = args.name
    if args.action == "add":
        user = _new_user(args, read_password())
        return lambda store: _add(store, user)
    if args.action == "passwd":
        from api.passwords import hash_password

        digest = hash_password(read_password())
        verb = "new password set; its tokens are revoked"
        return lambda store: _change(store, name, verb, store.set_password, digest)
    disable = args.action == "disable"
    verb = "disabled; its tokens are revoked" if disable else "enabled"
    return lambda store: _change(store, name, verb, store.set_disabled, disable)


def _new_user(args: argparse.Namespace, password: str):
    from api.passwords import hash_password
    from api.security import make_user

    if not USERNAME.fullmatch(args.name):
        raise UsageError(f"username must match {USERNAME.pattern} (at most 64 characters)")
    try:
        return make_user(
            args.name, args.role, args.district, hash_password(password), args.display_name
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _add(store, user) -> int:
    try:
        store.add(user)
    except ValueError as exc:  # the username is taken
        return _fail(str(exc), 1)
    scope = f", district {user.district}" if user.district else ""
    print(f"user {user.username!r} added ({user.role}{scope})")
    return 0


def _change(store, name: str, verb: str, change, value) -> int:
    try:
        user = change(name, value)
    except KeyError:
        return _fail(f"no user {name!r}", 1)
    print(f"user {name!r}: {verb} (generation {user.generation})")
    return 0


def _list(store, as_json: bool) -> int:
    rows = [
        {
            "username": u.username,
            "role": str(u.role),
            "district": u.district,
            "display_name": u.display_name,
            "disabled": u.disabled,
            "generation": u.generation,
        }
        for u in store.list()
    ]
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    print(f"{'username':<20} {'role':<12} {'district':<10} {'state':<9} display name")
    for row in rows:
        state = "disabled" if row["disabled"] else "active"
        district = row["district"] or "-"
        print(
            f"{row['username']:<20} {row['role']:<12} {district:<10} {state:<9} "
            f"{row['display_name']}"
        )
    return 0


def _fail(message: str, code: int) -> int:
    print(f"landun users: {message}", file=sys.stderr)
    return code
