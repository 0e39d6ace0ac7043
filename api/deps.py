"""Dependencies shared by the routes, as ``Annotated`` aliases (``who: CurrentUser``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from api.feed import Feed
from api.ports import Ports, Record
from api.security import AuthError, Grant, Principal, Role, TokenIssuer
from api.sessions import account_problem
from api.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_ports(request: Request) -> Ports:
    return request.app.state.ports


def get_feed(request: Request) -> Feed:
    return request.app.state.feed


def get_issuer(request: Request) -> TokenIssuer:
    return request.app.state.issuer


SettingsDep = Annotated[Settings, Depends(get_settings)]
PortsDep = Annotated[Ports, Depends(get_ports)]
FeedDep = Annotated[Feed, Depends(get_feed)]
IssuerDep = Annotated[TokenIssuer, Depends(get_issuer)]

UNAUTHORIZED = HTTPException(
    status.HTTP_401_UNAUTHORIZED, "not authenticated", headers={"WWW-Authenticate": "Bearer"}
)


def authenticate(token: str, ports: Ports, issuer: TokenIssuer, kinds=("access",)) -> Grant:
    """Check a token and that its account still holds it: present, enabled, with the same role
    and district, at the generation the token was issued under (:func:`account_problem`).

    Raises
    ------
    AuthError
        Bad token, or the account was removed, disabled or changed since the token was issued.
    """
    grant = issuer.verify(token, kinds)
    problem = account_problem(ports.users.get(grant.who.username), grant)
    if problem is not None:
        raise AuthError(f"{problem}; log in again")
    return grant


def current_grant(request: Request, ports: PortsDep, issuer: IssuerDep) -> Grant:
    """The caller's verified bearer token (401 otherwise)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise UNAUTHORIZED
    try:
        return authenticate(token.strip(), ports, issuer)
    except AuthError:
        raise UNAUTHORIZED from None


CurrentGrant = Annotated[Grant, Depends(current_grant)]


def current_principal(grant: CurrentGrant) -> Principal:
    return grant.who


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting only ``roles``; others get 403."""
    allowed = frozenset(roles)

    def check(who: CurrentUser) -> Principal:
        if who.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {who.role} may not do this")
        return who

    return check


AdminUser = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


def scope_district(who: Principal, requested: str | None) -> str | None:
    """The district filter to apply: the caller's own, or the requested one if city-wide.

    Raises
    ------
    HTTPException
        403 when a district-scoped caller asks for another district.
    """
    if who.district is None:
        return requested or None
    if requested and requested != who.district:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "outside your district")
    return who.district


def vehicle_district(ports: Ports, vehicle_id: str) -> str | None:
    """The district a vehicle belongs to, by registry (policy), else by its latest position."""
    record = ports.vehicles.get(vehicle_id)
    if record is not None:
        return record.get("district")
    latest = ports.live.get(vehicle_id)
    return latest.get("district") if latest else None


def not_found(what: str, ident: str) -> HTTPException:
    """The same 404 for 'absent' and 'outside your scope', so ids leak nothing."""
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} {ident!r} not found")


def visible_or_404(who: Principal, record: Record | None, district: str | None, what: str, ident):
    """Return ``record`` if it exists and ``district`` is in the caller's scope, else 404."""
    if record is None or not who.sees(district):
        raise not_found(what, ident)
    return record
