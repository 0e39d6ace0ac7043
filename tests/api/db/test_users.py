"""The UserStore contract, run against the in-memory twin and PostgreSQL alike."""

from __future__ import annotations

import dataclasses

import pytest

from api.db.users import PgUserStore
from api.memory import MemoryUserStore
from api.ports import RecordRejected
from api.security import Role, User

ALICE = User("alice", Role.DISTRICT, "梁溪", "scrypt$hash-a", "Alice 梁溪")
BOB = User("Bob", Role.ADMIN, None, "scrypt$hash-b")


@pytest.fixture(params=["memory", "postgres"])
def store(request):
    if request.param == "memory":
        return MemoryUserStore()
    return PgUserStore(request.getfixturevalue("engine"))


def test_add_get_list(store):
    store.add(ALICE)
    store.add(BOB)
    store.add(dataclasses.replace(ALICE, username="zoë", disabled=True, generation=4))
    assert store.get("alice") == ALICE
    assert store.get("nobody") is None
    assert [u.username for u in store.list()] == ["Bob", "alice", "zoë"]
    assert store.list()[2] == dataclasses.replace(
        ALICE, username="zoë", disabled=True, generation=4
    )
    assert isinstance(store.get("Bob").role, Role)


def test_a_taken_username_is_refused(store):
    store.add(ALICE)
    with pytest.raises(ValueError, match="alice"):
        store.add(dataclasses.replace(ALICE, role=Role.VIEWER))
    assert store.get("alice") == ALICE


def test_a_new_password_bumps_the_generation(store):
    store.add(ALICE)
    changed = store.set_password("alice", "scrypt$new")
    assert changed == dataclasses.replace(ALICE, password_hash="scrypt$new", generation=1)
    assert store.get("alice") == changed


def test_disabling_and_enabling_bump_the_generation(store):
    store.add(ALICE)
    assert store.set_disabled("alice", True) == dataclasses.replace(
        ALICE, disabled=True, generation=1
    )
    assert store.set_disabled("alice", False).generation == 2
    assert store.get("alice").disabled is False


def test_unknown_users_cannot_change(store):
    with pytest.raises(KeyError):
        store.set_password("nobody", "x")
    with pytest.raises(KeyError):
        store.set_disabled("nobody", True)


def test_postgresql_refuses_an_unknown_role(engine):
    store = PgUserStore(engine)
    with pytest.raises(RecordRejected) as caught:
        store.add(User("mallory", "root", None, "x"))
    assert caught.value.field == "role"
    assert store.list() == []
