"""Accounts in PostgreSQL (``api.ports.UserStore``).

A password change or a disable bumps the account's ``generation`` in the same statement, so a
token issued before it is refused by every API process at its next check.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert

from api.db.errors import transaction
from api.db.schema import users
from api.ports import RecordRejected
from api.security import Role, User

COLUMNS = (
    "username",
    "role",
    "district",
    "password_hash",
    "display_name",
    "disabled",
    "generation",
)


def _user(row) -> User:
    return User(
        row.username,
        Role(row.role),
        row.district,
        row.password_hash,
        row.display_name,
        row.disabled,
        row.generation,
    )


class PgUserStore:
    """Accounts by username.

    Raises (every method)
    ---------------------
    ServiceUnavailable
        PostgreSQL cannot be reached (the API answers 503).
    """

    def __init__(self, engine: Engine):
        self._engine = engine
        self._columns = [users.c[name] for name in COLUMNS]

    def get(self, username: str) -> User | None:
        query = select(*self._columns).where(users.c.username == username)
        with transaction(self._engine, "username") as conn:
            row = conn.execute(query).first()
        return None if row is None else _user(row)

    def list(self) -> list[User]:
        query = select(*self._columns).order_by(users.c.username)
        with transaction(self._engine) as conn:
            return [_user(row) for row in conn.execute(query)]

    def add(self, user: User) -> None:
        """Create an account.

        Raises
        ------
        RecordRejected
            (a ``ValueError``) The username is taken, or PostgreSQL refuses a field (an
            unknown role).
        """
        values = {name: getattr(user, name) for name in COLUMNS}
        values["role"] = str(values["role"])
        stmt = insert(users).values(values).on_conflict_do_nothing(index_elements=["username"])
        with transaction(self._engine, "username") as conn:
            if conn.execute(stmt.returning(users.c.username)).first() is None:
                raise RecordRejected("username", f"user {user.username!r} already exists")

    def set_password(self, username: str, password_hash: str) -> User:
        return self._change(username, password_hash=password_hash)

    def set_disabled(self, username: str, disabled: bool) -> User:
        return self._change(username, disabled=disabled)

    def _change(self, username: str, **values) -> User:
        stmt = (
            update(users)
            .where(users.c.username == username)
            .values(**values, generation=users.c.generation + 1, updated_at=func.now())
            .returning(*self._columns)
        )
        with transaction(self._engine, "username") as conn:
            row = conn.execute(stmt).first()
        if row is None:
            raise KeyError(username)
        return _user(row)
