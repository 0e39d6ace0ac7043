"""Login, the caller's identity and websocket tickets."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentUser, IssuerDep, PortsDep, SettingsDep
from api.security import decoy_hash, verify_password

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


@router.post("/login")
def login(body: Login, ports: PortsDep, issuer: IssuerDep, settings: SettingsDep) -> TokenOut:
    """Exchange username and password for a bearer token."""
    user = ports.users.get(body.username)
    # One message and the same scrypt work for both failures, so neither the response nor its
    # timing reveals which usernames exist.
    stored = user.password_hash if user is not None else decoy_hash()
    if not verify_password(body.password, stored) or user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    who = user.principal
    return TokenOut(
        access_token=issuer.issue(who),
        expires_in=settings.token_ttl_s,
        user=Identity(
            username=who.username,
            role=who.role.value,
            district=who.district,
            display_name=user.display_name,
        ),
    )


@router.get("/me")
def me(who: CurrentUser, ports: PortsDep) -> Identity:
    """The authenticated caller."""
    user = ports.users.get(who.username)
    name = user.display_name if user else ""
    return Identity(
        username=who.username, role=who.role.value, district=who.district, display_name=name
    )


@router.post("/ws-ticket")
def ws_ticket(who: CurrentUser, issuer: IssuerDep, settings: SettingsDep) -> TicketOut:
    """A single-use websocket ticket, valid ``ws_ticket_ttl_s`` seconds."""
    return TicketOut(ticket=issuer.issue(who, "ws"), expires_in=settings.ws_ticket_ttl_s)
