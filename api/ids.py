"""The pattern every record id follows (fences, vehicles, permits, contracts), in URL paths and
in bodies (docs/formats.md, "Ids").

One ASCII letter or digit, then up to 127 letters, digits, ``.``, ``_``, ``:`` or ``-``. So an id
never holds a ``/`` (it is a path segment), a NUL, CR/LF (log and header injection), a space, a
bidi control or a look-alike letter (what an officer reads is what the engine matches).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path
from pydantic import StringConstraints

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
ID_RULE = f"must match {ID_PATTERN} (ASCII letters, digits and . _ : -, at most 128 characters)"
_ID = re.compile(ID_PATTERN)

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
"""A body field holding an id (pydantic refuses others with 422 naming the pattern)."""


def id_path(what: str):
    """A path parameter holding the id of a ``what``."""
    return Path(pattern=ID_PATTERN, description=f"The {what}'s id; it {ID_RULE}.")


def is_id(value: object) -> bool:
    """True when ``value`` is a string following :data:`ID_PATTERN`.

    Examples
    --------
    >>> is_id("site-007"), is_id("V0001"), is_id("a/b"), is_id("x\\n"), is_id("-x")
    (True, True, False, False, False)
    """
    return isinstance(value, str) and _ID.fullmatch(value) is not None
