"""The archive settings, read when a command runs, never while the CLI is being built (issue 12).

``LANDUN_ARCHIVE_RETENTION_DAYS=abc`` once crashed every landun command, even ``landun sim
--help``, with a pydantic traceback: commands built ``ArchiveSettings()`` to show a default while
registering their arguments. Now ``--archive`` defaults to None and the command that needs the
directory calls :func:`archive_dir` (or :func:`archive_settings`) in its ``run``: an invalid
variable is one line naming it (:class:`ArchiveSettingError`), the command exits 2, the others
never read it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from replay.settings import ArchiveSettings

PREFIX = "LANDUN_ARCHIVE_"


class ArchiveSettingError(ValueError):
    """A ``LANDUN_ARCHIVE_*`` variable that is invalid; the message names it, in one line."""


def archive_settings() -> ArchiveSettings:
    """The archive settings from the environment.

    Raises
    ------
    ArchiveSettingError
        A variable is invalid: ``LANDUN_ARCHIVE_RETENTION_DAYS='abc': Input should be a valid
        integer ...`` (every bad one, separated by ``;``).
    """
    try:
        return ArchiveSettings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = PREFIX + "_".join(str(part) for part in error["loc"]).upper()
            problems.append(f"{name}={error.get('input')!r}: {error['msg']}")
        raise ArchiveSettingError("; ".join(problems) or str(exc).splitlines()[0]) from None


def archive_dir(given: str | None) -> str:
    """``given`` (the ``--archive`` flag) or, when it was not given, ``LANDUN_ARCHIVE_DIR``.

    Raises
    ------
    ArchiveSettingError
        The flag was not given and a ``LANDUN_ARCHIVE_*`` variable is invalid.
    """
    if given:
        return given
    return str(Path(archive_settings().dir))
