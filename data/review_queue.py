"""The review queue as last built, kept so that it stays put across the app's reruns."""

from __future__ import annotations

import json
import sqlite3

from data.rows import QueuedRow, all_rows
from data.schema import transaction


def replace_queue(conn: sqlite3.Connection, items: list[dict], model_version: str | None) -> None:
    """items: frame_id, strategy, score, reason, probability, duplicates (frame ids), in queue order."""
    with transaction(conn):
        conn.execute("DELETE FROM review_queue")
        _insert(conn, items, model_version, first=0)


def append_queue(conn: sqlite3.Connection, items: list[dict], model_version: str | None) -> None:
    """Add items after the stored ones (a queue of another model goes first), dropping those answered."""
    with transaction(conn):
        conn.execute(
            """DELETE FROM review_queue WHERE model_version IS NOT ? OR position IN (
                   SELECT q.position FROM review_queue q JOIN frames f ON f.id = q.frame_id
                   WHERE f.label_action IS NOT q.label_action_then)""", (model_version,))
        first = conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM review_queue").fetchone()[0]
        _insert(conn, items, model_version, first=first)


def _insert(conn: sqlite3.Connection, items: list[dict], model_version: str | None, *, first: int) -> None:
    conn.executemany(
        """INSERT INTO review_queue (position, frame_id, strategy, score, reason, probability,
                                     duplicates_json, model_version, label_action_then)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT label_action FROM frames WHERE id = ?))""",
        [(first + k, i["frame_id"], i["strategy"], i["score"], i["reason"], i["probability"],
          json.dumps(i["duplicates"]), model_version, i["frame_id"]) for k, i in enumerate(items)],
    )


def queued(conn: sqlite3.Connection) -> list[QueuedRow]:
    """The stored items with their frame's file_name, video_id, timestamp_s and current label, and whether
    anyone labeled it since it was queued; skipped ones last."""
    return all_rows(conn.execute(
        """SELECT q.*, f.file_name, f.video_id, f.timestamp_s, f.label,
                  f.label_action IS NOT q.label_action_then AS answered
           FROM review_queue q JOIN frames f ON f.id = q.frame_id ORDER BY q.skipped, q.position"""
    ))


def skip(conn: sqlite3.Connection, frame_id: int) -> None:
    """Move an item to the end; skipped items come back after the rest."""
    with transaction(conn):
        conn.execute(
            """UPDATE review_queue SET skipped = skipped + 1, position = (SELECT MAX(position) + 1 FROM review_queue)
               WHERE frame_id = ?""",
            (frame_id,),
        )
