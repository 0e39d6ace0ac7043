"""Login, the caller's identity and websocket tickets.

A login is throttled per username and per client address (``api.throttle``: 429 with
``Retry-After``) before its password is checked, and counts against both from that moment (so
concurrent guesses cannot all pass the throttle); the check runs on the bounded password pool
(``api.passwords.PasswordPool``: 503 with ``Retry-After`` when it is full), never on the event
loop or in the thread pool the other routes share.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentGrant, CurrentUser, IssuerDep, PortsDep, SettingsDep
from api.passwords import PasswordPoolBusy
from api.security import decoy_hash

router = APIRouter(prefix="/api/auth", tags=["auth"])


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class Identity(BaseModel):
    username: str
    role: str
    district: str | None
    display_name: str = ""


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    user: Identity


class TicketOut(BaseModel):
    ticket: str
    expires_in: int


WRONG = "wrong username or password"


@router.post(
    "/login",
    responses={429: {"description": "Too many failed logins"}, 503: {"description": "Busy"}},
)
async def login(
    body: Login, request: Request, ports: PortsDep, issuer: IssuerDep, settings: SettingsDep
) -> TokenOut:
    """Exchange username and password for a bearer token."""
    state = request.app.state
    address = request.client.host if request.client else "unknown"
    # Counted from here, before the slow check: concurrent guesses cannot all pass the throttle.
    waiting = state.logins.begin(body.username, address)
    if waiting is not None:
        by, seconds = waiting
        state.metrics.login_throttled.labels(by).inc()
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed logins; retry in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
    try:
        user = await _verified(body, ports, state)
    except BaseException:  # busy, an outage, a cancelled request: not a failed guess
        state.logins.end(body.username, address, None)
        raise
    if user is None:
        state.logins.end(body.username, address, "failed")
        state.metrics.login_failures.inc()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, WRONG)
    state.logins.end(body.username, address, "succeeded")
    who = user.principal
    return TokenOut(
        access_token=issuer.issue(who, generation=user.generation),
        expires_in=settings.token_ttl_s,
        user=Identity(
            username=who.username,
            role=who.role.value,
            district=who.district,
            display_name=user.display_name,
        ),
    )


async def _verified(body: Login, ports, state):
    """The enabled user whose password ``body`` has, else None; 503 when the pool is full."""
    user = await asyncio.to_thread(ports.users.get, body.username)  # a database in production
    # One message and the same hashing work for every failure (unknown user, disabled account,
    # refused hash, wrong password), so neither the response nor its timing reveals which.
    stored = user.password_hash if user is not None else decoy_hash()
    try:
        matches = await state.passwords.verify(body.password, stored, body.username)
    except PasswordPoolBusy:
        state.metrics.login_busy.inc()
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "too many logins at once; retry shortly",
            headers={"Retry-After": "1"},
        ) from None
    return user if matches and user is not None and not user.disabled else None


@router.get("/me")
def me(who: CurrentUser, ports: PortsDep) -> Identity:
    """The authenticated caller."""
    user = ports.users.get(who.username)
    name = user.display_name if user else ""
    return Identity(
        username=who.username, role=who.role.value, district=who.district, display_name=name
    )


@router.post("/ws-ticket")
def ws_ticket(grant: CurrentGrant, issuer: IssuerDep, settings: SettingsDep) -> TicketOut:
    """A single-use websocket ticket, valid ``ws_ticket_ttl_s`` seconds; the socket it opens
    lives until the access token it was issued under expires or is revoked."""
    ticket = issuer.issue(grant.who, "ws", grant.generation, grant.expires)
    return TicketOut(ticket=ticket, expires_in=settings.ws_ticket_ttl_s)
