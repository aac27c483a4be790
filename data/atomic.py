"""Replace a file so that a crash at any moment leaves either the old or the new one."""

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, content: bytes, *, durable: bool = True) -> None:
    """Write to a temp file beside `path`, rename it over `path`.

    durable: fsync the file and the folder, so the new content survives a power cut
    (caches that can be recomputed skip it).
    """
    path = Path(path)
    # the writer's pid in the name: a later run removes what a killed writer left (data/scratch.py)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable and hasattr(os, "O_DIRECTORY"):  # POSIX: make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
