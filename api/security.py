"""Who may do what: password hashes, access tokens, websocket tickets, roles and district scope.

Access tokens and websocket tickets are HS256 JWTs carrying the user, role and district scope.
Tickets live ``ws_ticket_ttl_s`` seconds and are single-use within a process (their ``jti`` is
remembered until they expire), so a ticket seen in a log is worthless a moment later.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

import jwt

# scrypt cost: 2**14 x 8 = 16 MiB and some tens of milliseconds per hash (RFC 7914 interactive).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
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


def hash_password(password: str) -> str:
    """Hash a password with scrypt and a random salt: ``scrypt$n$r$p$salt$hash`` (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


@functools.cache
def decoy_hash() -> str:
    """A hash no password matches, verified against when a login names an unknown user so
    that it costs the same scrypt time as a real one (no timing oracle for usernames)."""
    return hash_password(secrets.token_urlsafe(32))


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


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

    def issue(self, who: Principal, kind: str = "access") -> str:
        """Sign a token of ``kind`` ("access" or "ws") for ``who``."""
        now = int(self._clock())
        claims = {
            "iss": ISSUER,
            "sub": who.username,
            "role": who.role.value,
            "district": who.district,
            "typ": kind,
            "iat": now,
            "exp": now + self._ttl[kind],
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def check(self, token: str, kinds: Iterable[str] = ("access",)) -> Principal:
        """Verify a token and return its principal; ws tickets are consumed.

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
                options={"require": ["exp", "iat", "sub", "typ", "jti"], "verify_exp": False},
            )
            who = Principal(claims["sub"], Role(claims["role"]), claims.get("district") or None)
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        # Expiry against the injected clock, so tests need no sleeping.
        if claims["exp"] <= self._clock():
            raise AuthError("token expired")
        if claims["typ"] not in kinds:
            raise AuthError(f"token of type {claims['typ']!r} not accepted here")
        if claims["typ"] == "ws":
            self._consume(claims["jti"], claims["exp"])
        return who

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
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: user #{i}: {exc!r}") from None
    return users
