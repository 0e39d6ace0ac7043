"""Connection limits and timeouts of the gateway (issue 14).

A terminal fleet is a few thousand long-lived connections; what the gateway must not allow is
one client (or one address) taking them all, or a client holding a connection open without
ever completing a frame (slowloris). :class:`Limits` holds the numbers, :class:`Admission`
counts connections by address.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """The gateway's connection limits and timeouts.

    Attributes
    ----------
    max_connections : int
        Connections open at once, all addresses together; more are closed at once.
    max_per_address : int
        Connections open at once from one IP address (terminals behind a carrier's NAT share
        addresses, so this is far above one).
    idle_timeout_s : float
        A connection without a complete frame for this long is closed (terminals send a
        heartbeat every minute or so by default).
    frame_timeout_s : float
        A frame begun and not finished within this long closes the connection: a client
        trickling bytes (slowloris) cannot hold a connection by sending one now and then.
    write_timeout_s : float
        A reply the client does not read within this long closes the connection.
    reassembly_timeout_ms : int
        A subpackaged message not complete this long after its first packet is dropped and
        its missing packets are requested (0x8003).
    """

    max_connections: int = 20_000
    max_per_address: int = 1_000
    idle_timeout_s: float = 300.0
    frame_timeout_s: float = 30.0
    write_timeout_s: float = 30.0
    reassembly_timeout_ms: int = 60_000


class Admission:
    """Counts open connections, overall and per address, against :class:`Limits`."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.open = 0
        self._by_address: dict[str, int] = {}

    def admit(self, address: str) -> str | None:
        """Take a slot for a connection from ``address``; None, or why it is refused
        (``global`` or ``per_address``)."""
        if self.open >= self.limits.max_connections:
            return "global"
        n = self._by_address.get(address, 0)
        if n >= self.limits.max_per_address:
            return "per_address"
        self._by_address[address] = n + 1
        self.open += 1
        return None

    def release(self, address: str) -> None:
        """Give back the slot of a closed connection from ``address``."""
        n = self._by_address.get(address, 0) - 1
        if n > 0:
            self._by_address[address] = n
        else:
            self._by_address.pop(address, None)
        self.open -= 1
