"""Frames shown to a labeling session (leases) and blind second opinions: the Label page's tables.

Each session leases the frame it shows, so no other session is shown it; a lease ends
when the session asks for its next frame, or after LEASE_S if the tab was left open.
"""

from __future__ import annotations

import sqlite3
import time

from data.rows import FrameRow, OpinionRow, all_rows, one_row
from data.schema import now, transaction

LEASE_S = 300

# A frame's labeler: who gave it the label it has now (an undo hands it back to the label before).
_LABELED_BY = "(SELECT a.who FROM label_actions a WHERE a.id = f.label_action)"
UNLABELED = ("f.label IS NULL", 0)
# labeled by someone else, and not yet given a second opinion by this person (both parameters: who)
OTHERS_LABELED = (f"f.label IS NOT NULL AND {_LABELED_BY} != ? "
                  "AND NOT EXISTS (SELECT 1 FROM second_opinions o WHERE o.frame_id = f.id AND o.who = ?)", 2)


def lease_next(conn: sqlite3.Connection, candidates: tuple[str, int], *, session: str, who: str,
               skipped: tuple[int, ...] = ()) -> FrameRow | None:
    """Lease the first frame of `candidates` (UNLABELED or OTHERS_LABELED) that no other session shows;
    this session's skipped frames come last, in the order skipped."""
    where, n_params = candidates
    params = (who,) * n_params
    at = time.time()
    with transaction(conn):
        conn.execute("DELETE FROM frame_leases WHERE session = ? OR expires_at < ?", (session, at))
        free = f"{where} AND f.id NOT IN (SELECT frame_id FROM frame_leases)"
        marks = ",".join("?" * len(skipped))
        row = one_row(conn.execute(f"SELECT f.* FROM frames f WHERE {free} AND f.id NOT IN ({marks}) ORDER BY f.id LIMIT 1",
                                   (*params, *skipped)))
        if row is None and skipped:
            rows = {r["id"]: r for r in all_rows(conn.execute(f"SELECT f.* FROM frames f WHERE {free} AND f.id IN ({marks})",
                                                                (*params, *skipped)))}
            row = next((rows[s] for s in skipped if s in rows), None)
        if row is not None:
            conn.execute("INSERT INTO frame_leases VALUES (?, ?, ?, ?)", (row["id"], session, who, at + LEASE_S))
    return row


def release(conn: sqlite3.Connection, session: str) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM frame_leases WHERE session = ?", (session,))


def record_second_opinion(conn: sqlite3.Connection, frame_id: int, label: int, *, who: str) -> None:
    with transaction(conn):
        conn.execute("INSERT OR REPLACE INTO second_opinions VALUES (?, ?, ?, ?)", (frame_id, who, label, now()))


def withdraw_second_opinion(conn: sqlite3.Connection, frame_id: int, *, who: str) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM second_opinions WHERE frame_id = ? AND who = ?", (frame_id, who))


def opinions(conn: sqlite3.Connection) -> list[OpinionRow]:
    """Each second opinion beside the frame's label."""
    return all_rows(conn.execute(
        f"""SELECT f.id, f.file_name, f.label, {_LABELED_BY} AS labeled_by, o.who AS second, o.class AS opinion
            FROM second_opinions o JOIN frames f ON f.id = o.frame_id WHERE f.label IS NOT NULL ORDER BY f.id"""
    ))
