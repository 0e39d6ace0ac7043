"""Who may do what: access tokens, websocket tickets, roles and district scope (password
hashes: ``api.passwords``).

Access tokens and websocket tickets are HS256 JWTs carrying the user, role, district scope and
the account's ``generation`` when the token was issued (``gen``): a password change or a disable
bumps the generation and so revokes every older token. Tickets live ``ws_ticket_ttl_s`` seconds
and are single-use within a process (their ``jti`` is remembered until they expire), so a ticket
seen in a log is worthless a moment later; a ticket also carries the expiry of the access token
it was issued under (``sexp``), at which the websocket it opened is closed.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

import jwt

# decoy_hash, hash_password and verify_password are re-exported: callers import them from here.
from api.passwords import (  # noqa: F401
    WeakHashError,
    check_policy,
    decoy_hash,
    hash_password,
    verify_password,
)

ALGORITHM = "HS256"
ISSUER = "landun"


class Role(StrEnum):
    """Roles of the bureau's staff."""

    ADMIN = "admin"  # 系统管理员: everything, reference-data writes
    CITY = "city"  # 市级监管: reads the whole city, files and dispatches cases
    DISTRICT = "district"  # 区级监管: their district only
    ENFORCEMENT = "enforcement"  # 执法队员: acts on cases (optionally one district)
    VIEWER = "viewer"  # 只读: reads only


CITY_WIDE_ROLES = frozenset({Role.ADMIN, Role.CITY})


class AuthError(Exception):
    """A credential is missing, malformed, expired or forged."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller. ``district`` None means city-wide."""

    username: str
    role: Role
    district: str | None = None

    def sees(self, district: str | None) -> bool:
        """True when data of ``district`` is inside this caller's scope."""
        return self.district is None or district == self.district


@dataclass(frozen=True, slots=True)
class Grant:
    """What a verified token grants: its principal, the account generation it was issued under,
    and when the session ends (an access token's expiry; for a ticket, its access token's)."""

    who: Principal
    generation: int
    expires: float
    kind: str


@dataclass(frozen=True, slots=True)
class User:
    """A stored account: the principal plus its password hash."""

    username: str
    role: Role
    district: str | None
    password_hash: str
    display_name: str = ""
    disabled: bool = False
    generation: int = 0  # bumped by a password change or a disable: older tokens are revoked

    @property
    def principal(self) -> Principal:
        return Principal(self.username, self.role, self.district)


def make_user(
    username: str, role: Role | str, district: str | None, password_hash: str, display_name=""
) -> User:
    """Build a user, refusing a scope that contradicts the role.

    Raises
    ------
    ValueError
        A district officer without a district, or a city-wide role with one.
    """
    role = Role(role)
    if role is Role.DISTRICT and not district:
        raise ValueError(f"user {username!r}: a district officer needs a district")
    if role in CITY_WIDE_ROLES and district:
        raise ValueError(f"user {username!r}: role {role} is city-wide, drop district {district!r}")
    return User(username, role, district or None, password_hash, display_name)


class TokenIssuer:
    """Issues and checks access tokens and single-use websocket tickets.

    Parameters
    ----------
    secret : str
        HMAC key.
    token_ttl_s, ticket_ttl_s : int
        Lifetimes in seconds.
    clock : callable
        Returns the wall-clock time in epoch seconds (injected for tests).
    """

    def __init__(self, secret: str, token_ttl_s: int, ticket_ttl_s: int, clock: Callable):
        self._secret = secret
        self._ttl = {"access": token_ttl_s, "ws": ticket_ttl_s}
        self._clock = clock
        self._used: dict[str, float] = {}  # ticket jti -> expiry
        self._lock = threading.Lock()

    def issue(
        self,
        who: Principal,
        kind: str = "access",
        generation: int = 0,
        session_expires: float | None = None,
    ) -> str:
        """Sign a token of ``kind`` ("access" or "ws") for ``who`` at account ``generation``;
        a ticket carries ``session_expires``, its access token's expiry (else its own)."""
        now = int(self._clock())
        exp = now + self._ttl[kind]
        claims = {
            "iss": ISSUER,
            "sub": who.username,
            "role": who.role.value,
            "district": who.district,
            "typ": kind,
            "iat": now,
            "exp": exp,
            "jti": uuid.uuid4().hex,
            "gen": generation,
            "sexp": int(session_expires if session_expires is not None else exp),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def check(self, token: str, kinds: Iterable[str] = ("access",)) -> Principal:
        """:meth:`verify`'s principal."""
        return self.verify(token, kinds).who

    def verify(self, token: str, kinds: Iterable[str] = ("access",)) -> Grant:
        """Verify a token and return what it grants; ws tickets are consumed.

        Raises
        ------
        AuthError
            Bad signature, expired, wrong kind, malformed claims or a ticket already used.
        """
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={
                    "require": ["exp", "iat", "sub", "typ", "jti", "gen", "sexp"],
                    "verify_exp": False,
                },
            )
            who = Principal(claims["sub"], Role(claims["role"]), claims.get("district") or None)
            generation, session = int(claims["gen"]), min(claims["sexp"], claims["exp"])
            if claims["typ"] == "ws":
                session = claims["sexp"]  # the ticket dies soon, the socket with its token
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        # Expiry against the injected clock, so tests need no sleeping.
        if claims["exp"] <= self._clock():
            raise AuthError("token expired")
        if claims["typ"] not in kinds:
            raise AuthError(f"token of type {claims['typ']!r} not accepted here")
        if claims["typ"] == "ws":
            self._consume(claims["jti"], claims["exp"])
        return Grant(who, generation, float(session), claims["typ"])

    def release(self, token: str) -> None:
        """Make a consumed ws ticket usable again (within its lifetime): for a handshake that a
        backing service's outage stopped after :meth:`verify`, so the ticket opened nothing."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"verify_exp": False},
            )
        except jwt.PyJWTError:
            return
        if claims.get("typ") == "ws":
            with self._lock:
                self._used.pop(claims.get("jti"), None)

    def _consume(self, jti: str, expiry: float) -> None:
        with self._lock:
            now = self._clock()
            self._used = {k: v for k, v in self._used.items() if v > now}
            if jti in self._used:
                raise AuthError("websocket ticket already used")
            self._used[jti] = expiry


DEMO_USERS = (
    ("admin", Role.ADMIN, None, "admin-demo", "系统管理员 Administrator"),
    ("city", Role.CITY, None, "city-demo", "市级监管 City supervisor"),
    ("liangxi", Role.DISTRICT, "梁溪", "liangxi-demo", "梁溪区监管 Liangxi officer"),
    ("enforce", Role.ENFORCEMENT, None, "enforce-demo", "执法队员 Enforcement officer"),
)


def demo_users() -> list[User]:
    """The demo accounts (username, password in ``DEMO_USERS``); only for demo mode."""
    return [
        make_user(name, role, district, hash_password(password), display)
        for name, role, district, password, display in DEMO_USERS
    ]


def users_from_file(path) -> list[User]:
    """Read accounts from a JSON list of {username, role, district, password_hash, display_name}.

    Raises
    ------
    ValueError
        Naming the file and the entry that is wrong.
    """
    import json
    from pathlib import Path

    try:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read users: {exc}") from None
    if not isinstance(rows, list):
        raise ValueError(f"{path}: expected a JSON list of users")
    users = []
    for i, row in enumerate(rows):
        try:
            users.append(
                make_user(
                    row["username"],
                    row["role"],
                    row.get("district"),
                    row["password_hash"],
                    row.get("display_name", ""),
                )
            )
            check_policy(users[-1].password_hash)
        except WeakHashError as exc:
            raise ValueError(
                f"{path}: user #{i} {users[-1].username!r}: password hash refused ({exc}); "
                "make a new one with `landun users hash --password-stdin`"
            ) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: user #{i}: {exc!r}") from None
    return users
