"""Frames stored by content: one file under frames/ and one row per distinct image."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from data.images import CheckedImage
from data.rows import FrameRow, all_rows, one_row, tuples
from data.schema import now


@dataclass(frozen=True)
class NewFrame:
    content: bytes | Path  # a Path: a copy of ours, in a scratch folder beside frames/, moved in
    sha256: str
    name: str  # preferred file name; made unique if another image has it
    width: int
    height: int
    origin: str  # import | capture | monitor
    video_id: int | None = None
    timestamp_s: float | None = None
    represents: int = 1
    phash: str | None = None


class FrameStore:
    """Adds frames inside the caller's transaction; forgets its files if that transaction fails.

    Use as a context manager around the transaction, so that an import that fails
    halfway leaves frames/ as it was.
    """

    def __init__(self, conn: sqlite3.Connection, frames_dir: Path):
        self.conn = conn
        self.frames_dir = frames_dir
        self._written: list[Path] = []

    def __enter__(self) -> "FrameStore":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            for path in self._written:
                path.unlink(missing_ok=True)

    def find(self, sha256: str) -> FrameRow | None:
        return one_row(self.conn.execute("SELECT * FROM frames WHERE sha256 = ?", (sha256,)))

    def add(self, frame: NewFrame) -> tuple[int, bool]:
        """The frame's id, and whether it is new (an image already stored is not added again)."""
        existing = self.find(frame.sha256)
        if existing is not None:
            return existing["id"], False
        name = self._free_name(frame.name, frame.sha256)
        path = self.frames_dir / name
        if isinstance(frame.content, Path):
            size = frame.content.stat().st_size
            frame.content.replace(path)
        else:
            size = len(frame.content)
            tmp = path.with_name(f".{name}.tmp")
            try:
                tmp.write_bytes(frame.content)
                tmp.replace(path)
            except OSError:
                tmp.unlink(missing_ok=True)  # a full disk leaves no half-written frame behind
                raise
        self._written.append(path)
        cur = self.conn.execute(
            """INSERT INTO frames (sha256, file_name, width, height, size_bytes, origin, video_id,
                                   timestamp_s, represents, phash, added_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                frame.sha256, name, frame.width, frame.height, size, frame.origin,
                frame.video_id, frame.timestamp_s, frame.represents, frame.phash, now(),
            ),
        )
        return cur.lastrowid, True

    def _free_name(self, preferred: str, sha256: str) -> str:
        taken = self.conn.execute("SELECT 1 FROM frames WHERE file_name = ?", (preferred,)).fetchone()
        if not taken and not preferred.startswith("."):
            return preferred
        stem, dot, suffix = preferred.lstrip(".").rpartition(".")
        return f"{stem or suffix}-{sha256[:10]}{dot}{suffix if stem else ''}"


# Queries other packages ask about frames (SQL stays in data/).


def frame_by_id_or_name(conn: sqlite3.Connection, frame: str | int) -> FrameRow | None:
    """A frame by its id (a number) or its file name (a path's last part)."""
    row = None
    if isinstance(frame, int) or str(frame).isdigit():
        row = one_row(conn.execute("SELECT * FROM frames WHERE id = ?", (int(frame),)))
    return row or one_row(conn.execute("SELECT * FROM frames WHERE file_name = ?", (Path(str(frame)).name,)))


def _in_chunks(conn: sqlite3.Connection, query: str, values: list, chunk: int = 500) -> list[FrameRow]:
    """Rows of `query` (with one `{}` for the placeholders) for values, a few hundred at a time (SQLite's limit)."""
    return [row for start in range(0, len(values), chunk)
            for row in all_rows(conn.execute(query.format(",".join("?" * len(values[start : start + chunk]))),
                                             values[start : start + chunk]))]


def frames_by_sha(conn: sqlite3.Connection, shas: list[str]) -> list[FrameRow]:
    return _in_chunks(conn, "SELECT * FROM frames WHERE sha256 IN ({})", shas)


def frames_by_id(conn: sqlite3.Connection, ids: list[int]) -> list[FrameRow]:
    return _in_chunks(conn, "SELECT * FROM frames WHERE id IN ({}) ORDER BY id", ids)


def frames_after(conn: sqlite3.Connection, last_id: int) -> list[FrameRow]:
    """Frames added after frame `last_id` (ids only grow)."""
    return all_rows(conn.execute("SELECT * FROM frames WHERE id > ? ORDER BY id", (last_id,)))


def frame_table(conn: sqlite3.Connection):
    """Every frame's id, sha256, file_name, label, video_id and timestamp_s as a pandas DataFrame
    (one query, for tables and maps of all frames)."""
    import pandas as pd

    columns = ["id", "sha256", "file_name", "label", "video_id", "timestamp_s"]
    rows = tuples(conn, f"SELECT {', '.join(columns)} FROM frames ORDER BY id")  # half the time of pandas' reader
    return pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)


def stored_images(conn: sqlite3.Connection) -> dict[str, CheckedImage]:
    """file name -> what import read of each frame under frames/, so a check need not read it again."""
    return {
        name: CheckedImage(sha256, size_bytes, width, height, int(phash or "0", 16))
        for name, sha256, size_bytes, width, height, phash in tuples(
            conn, "SELECT file_name, sha256, size_bytes, width, height, phash FROM frames")
    }


def frame_count(conn: sqlite3.Connection, *, after_id: int = 0) -> int:
    """Frames in the workspace; with after_id, those added after that frame (ids only grow)."""
    return conn.execute("SELECT COUNT(*) FROM frames WHERE id > ?", (after_id,)).fetchone()[0]


def unlabeled_frames(conn: sqlite3.Connection) -> list[FrameRow]:
    """Every unlabeled frame, each video's in time order (near-duplicates come one after another)."""
    return all_rows(conn.execute("SELECT * FROM frames WHERE label IS NULL ORDER BY video_id, timestamp_s, id"))


def labeled_frames_by_id(conn: sqlite3.Connection) -> list[FrameRow]:
    return all_rows(conn.execute("SELECT * FROM frames WHERE label IS NOT NULL ORDER BY id"))


def frames_labeled_for(conn: sqlite3.Connection, reason: str) -> list[FrameRow]:
    """Labeled frames that were once labeled for `reason` (a queue strategy, e.g. "audit")."""
    return all_rows(conn.execute(
        """SELECT DISTINCT f.* FROM frames f JOIN label_history h ON h.frame_id = f.id
           JOIN label_actions a ON a.id = h.action_id
           WHERE a.reason = ? AND f.label IS NOT NULL""", (reason,)
    ))


def frames_in_time_order(conn: sqlite3.Connection, ids: list[int]) -> list[FrameRow]:
    return sorted(_in_chunks(conn, "SELECT * FROM frames WHERE id IN ({})", ids),
                  key=lambda r: (r["timestamp_s"] is not None, r["timestamp_s"] or 0, r["id"]))


def frames_of_video(conn: sqlite3.Connection, video_id: int, *, limit: int = -1) -> list[FrameRow]:
    """A video's frames in time order (limit -1: all)."""
    return all_rows(conn.execute("SELECT * FROM frames WHERE video_id = ? ORDER BY timestamp_s, id LIMIT ?",
                                 (video_id, limit)))
