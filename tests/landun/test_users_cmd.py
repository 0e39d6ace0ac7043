"""`landun users`: accounts from the command line, over an in-memory store (the command's
``open_store`` seam) and once over PostgreSQL."""

from __future__ import annotations

import io
import json

import pytest

from api.memory import MemoryUserStore
from api.passwords import verify_password
from api.security import Role
from landun.cli import main
from landun.commands import users as command
from tests.services.conftest import database_url, pg_admin_url  # noqa: F401 - fixtures

PASSWORD = "a long enough passphrase"


@pytest.fixture
def store(monkeypatch) -> MemoryUserStore:
    """The store every `landun users` call in the test talks to."""
    memory = MemoryUserStore()
    memory.opened = []

    def open_store(url: str):
        memory.opened.append(url)
        return memory, lambda: None

    monkeypatch.setattr(command, "open_store", open_store)
    monkeypatch.setenv("LANDUN_DATABASE_URL", "postgresql://example/landun")
    return memory


def users(argv: list[str], monkeypatch, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["users", *argv])


def test_the_first_admin_is_added_with_a_password_from_stdin(store, monkeypatch, capsys):
    code = users(
        ["add", "root", "--role", "admin", "--password-stdin"], monkeypatch, PASSWORD + "\n"
    )
    assert code == 0 and "user 'root' added (admin)" in capsys.readouterr().out
    root = store.get("root")
    assert root.role is Role.ADMIN and root.district is None
    assert root.password_hash.startswith("$argon2id$")
    assert verify_password(PASSWORD, root.password_hash)  # one trailing newline dropped
    assert not verify_password(PASSWORD + "\n", root.password_hash)
    assert store.opened == ["postgresql://example/landun"]


def test_a_district_officer_needs_a_district(store, monkeypatch, capsys):
    argv = ["add", "lx", "--role", "district", "--password-stdin"]
    assert users(argv, monkeypatch, PASSWORD) == 2
    assert "needs a district" in capsys.readouterr().err
    argv += ["--district", "梁溪", "--display-name", "梁溪区监管"]
    assert users(argv, monkeypatch, PASSWORD) == 0
    assert store.get("lx").district == "梁溪" and store.get("lx").display_name == "梁溪区监管"


@pytest.mark.parametrize("password", ["short\n", "elevenchars", "x" * 257, ""])
def test_short_or_overlong_passwords_are_refused_before_any_database(
    store, monkeypatch, capsys, password
):
    argv = ["add", "root", "--role", "admin", "--password-stdin"]
    assert users(argv, monkeypatch, password) == 2
    assert "characters" in capsys.readouterr().err
    assert store.list() == [] and store.opened == []


def test_a_taken_username_and_a_bad_one_are_refused(store, monkeypatch, capsys):
    argv = ["add", "root", "--role", "admin", "--password-stdin"]
    assert users(argv, monkeypatch, PASSWORD) == 0
    assert users(argv, monkeypatch, PASSWORD) == 1
    assert "already exists" in capsys.readouterr().err
    bad = ["add", "a/b", "--role", "viewer", "--password-stdin"]
    assert users(bad, monkeypatch, PASSWORD) == 2


def test_passwd_disable_and_enable_bump_the_generation(store, monkeypatch, capsys):
    users(["add", "city", "--role", "city", "--password-stdin"], monkeypatch, PASSWORD)
    new = "another long passphrase"
    assert users(["passwd", "city", "--password-stdin"], monkeypatch, new + "\r\n") == 0
    assert verify_password(new, store.get("city").password_hash)
    assert users(["disable", "city"], monkeypatch) == 0
    assert store.get("city").disabled and store.get("city").generation == 2
    assert users(["enable", "city"], monkeypatch) == 0
    assert not store.get("city").disabled and store.get("city").generation == 3
    out = capsys.readouterr().out
    assert "revoked" in out and "enabled (generation 3)" in out
    assert users(["disable", "nobody"], monkeypatch) == 1
    assert "no user 'nobody'" in capsys.readouterr().err


def test_list_prints_accounts_and_never_hashes(store, monkeypatch, capsys):
    for name, role in (("b-viewer", "viewer"), ("a-admin", "admin")):
        users(["add", name, "--role", role, "--password-stdin"], monkeypatch, PASSWORD)
    users(["disable", "b-viewer"], monkeypatch)
    capsys.readouterr()
    assert users(["list", "--json"], monkeypatch) == 0
    out = capsys.readouterr().out
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["username"] for r in rows] == ["a-admin", "b-viewer"]
    assert rows[1]["disabled"] is True and "argon2" not in out and "password" not in out
    assert users(["list"], monkeypatch) == 0
    table = capsys.readouterr().out
    assert "a-admin" in table and "disabled" in table and "argon2" not in table


def test_no_database_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.delenv("LANDUN_DATABASE_URL", raising=False)
    assert users(["list"], monkeypatch) == 2
    assert "LANDUN_DATABASE_URL" in capsys.readouterr().err


def test_hash_prints_an_argon2id_hash_for_a_users_file(monkeypatch, capsys):
    assert users(["hash", "--password-stdin"], monkeypatch, PASSWORD + "\n") == 0
    assert verify_password(PASSWORD, capsys.readouterr().out.strip())


def test_the_role_choices_are_the_roles():
    assert set(command.ROLES) == {r.value for r in Role}


def test_users_over_postgresql_then_a_login(database_url, monkeypatch, capsys):  # noqa: F811
    """The real store: the schema is created on first use, the API logs the admin in, and a
    disable from the command line revokes the token the API issued."""
    import dataclasses

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.db import connect
    from api.db.users import PgUserStore
    from api.memory import memory_ports
    from tests.api.conftest import make_settings

    db = ["--database", database_url]
    add = ["add", "root", "--role", "admin", "--display-name", "管理员", "--password-stdin"]
    assert users([*add, *db], monkeypatch, PASSWORD + "\n") == 0
    assert users([*add, *db], monkeypatch, PASSWORD) == 1  # taken
    engine = connect(database_url)
    try:
        ports = dataclasses.replace(memory_ports(), users=PgUserStore(engine))
        with TestClient(create_app(make_settings(), ports)) as client:
            login = {"username": "root", "password": PASSWORD}
            token = client.post("/api/auth/login", json=login).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            assert client.get("/api/auth/me", headers=headers).json()["display_name"] == "管理员"
            assert users(["disable", "root", *db], monkeypatch) == 0
            assert client.get("/api/auth/me", headers=headers).status_code == 401
            assert client.post("/api/auth/login", json=login).status_code == 401
    finally:
        engine.dispose()
    capsys.readouterr()
    assert users(["list", "--json", *db], monkeypatch) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row == {
        "username": "root",
        "role": "admin",
        "district": None,
        "display_name": "管理员",
        "disabled": True,
        "generation": 1,
    }
