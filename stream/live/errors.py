"""The one error every adapter raises when its backing service cannot be reached."""

from __future__ import annotations


class ServiceUnavailable(RuntimeError):
    """A backing service (``postgresql``, ``redis``, ``kafka``) did not answer.

    The API turns it into a 503 naming the service instead of a 500 with a traceback. Operator
    action: check that the named service is up and reachable from this process (``/readyz``
    lists each one's state).
    """

    def __init__(self, service: str, detail: str = ""):
        super().__init__(f"{service} is unavailable" + (f": {detail}" if detail else ""))
        self.service = service
        self.detail = detail
