"""The one exception type for failures a user can fix, and the full disk turned into one."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class LookoutError(Exception):
    """An expected failure (bad input, missing file, network down).

    The message names the file or setting at fault and says what to do; the app
    shows it with st.error and the commands print it without a traceback.
    """


@contextmanager
def full_disk_as_error(where: Path | None = None) -> Iterator[None]:
    """A full disk is to be expected on a laptop, and nothing Lookout can fix: say so in one line
    naming where it wrote (where, else the file the system names), instead of a traceback."""
    try:
        yield
    except (OSError, sqlite3.OperationalError) as exc:
        if getattr(exc, "errno", None) != errno.ENOSPC and "disk is full" not in str(exc):
            raise
        written = where or (Path(exc.filename).parent if getattr(exc, "filename", None) else None)
        place = f" where Lookout writes {written}" if written else ""
        raise LookoutError(f"The disk is full{place}; free some space on it and try again.") from None
