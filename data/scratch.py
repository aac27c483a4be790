"""Scratch space for work in progress, named after the process that owns it.

A process killed mid-work (an unzip, a scoring, a training, a model being saved)
leaves its scratch folder behind; the next run removes the ones whose owner is
gone and leaves a running process's alone.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

KINDS = ("unzip", "score", "capture", "train", "saving", "export", "removing", "import")
_SCRATCH = re.compile(rf"^\.({'|'.join(KINDS)})-(\d+)-")
_HALF_WRITTEN = re.compile(r"\.(\d+)-\w+\.tmp$")  # data/atomic.py's temp files: .<name>.<pid>-<random>.tmp
STALE_TMP_S = 600  # a half-written file from an atomic write is this old only if its writer died


def scratch_dir(parent: Path, kind: str) -> tempfile.TemporaryDirectory:
    """A folder in `parent` for `kind` of work, removed when the work ends (or by the next run)."""
    if kind not in KINDS:
        raise ValueError(f"scratch kind {kind!r} is not one of {KINDS}")
    return tempfile.TemporaryDirectory(dir=parent, prefix=f".{kind}-{os.getpid()}-", ignore_cleanup_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _writer_gone(name: str) -> bool:
    match = _HALF_WRITTEN.search(name)
    return bool(match) and not _alive(int(match[1]))


def remove_leftovers(folders: list[Path]) -> list[Path]:
    """Remove scratch folders of dead processes and stale half-written files; returns what went."""
    removed = []
    now = time.time()
    for folder in folders:
        if not folder.is_dir():
            continue
        with os.scandir(folder) as listing:  # names first: frames/ may hold 100,000 files
            for entry in listing:
                if not entry.name.startswith("."):  # every leftover's name does; most of frames/ does not
                    continue
                match = _SCRATCH.match(entry.name)
                if match and entry.is_dir() and not _alive(int(match[2])):
                    shutil.rmtree(entry.path, ignore_errors=True)
                    removed.append(Path(entry.path))
                elif entry.name.endswith(".tmp") and (_writer_gone(entry.name) or now - entry.stat().st_mtime > STALE_TMP_S):
                    Path(entry.path).unlink(missing_ok=True)
                    removed.append(Path(entry.path))
    return removed
