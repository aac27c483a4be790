"""Labeled frames by class, video, person and date: what the Dataset page browses."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from data.rows import LabeledFrameRow, all_rows


@dataclass(frozen=True)
class BrowseFilter:
    classes: tuple[int, ...] = ()  # empty: any
    videos: tuple[int | None, ...] = ()  # video ids; None stands for imported frames
    people: tuple[str, ...] = ()
    since: str | None = None  # ISO dates, inclusive
    until: str | None = None
    model_disagrees: bool = False  # applied by labeler/browse.py, which asks the model


def labeled_frames(conn: sqlite3.Connection, chosen: BrowseFilter) -> list[LabeledFrameRow]:
    """Labeled frames matching the filter, newest label first."""
    where, params = ["f.label IS NOT NULL"], []
    if chosen.classes:
        where.append(f"f.label IN ({','.join('?' * len(chosen.classes))})")
        params += chosen.classes
    if chosen.videos:
        ids = [v for v in chosen.videos if v is not None]
        parts = [f"f.video_id IN ({','.join('?' * len(ids))})"] if ids else []
        parts += ["f.video_id IS NULL"] if None in chosen.videos else []
        where.append("(" + " OR ".join(parts) + ")")
        params += ids
    if chosen.people:
        where.append(f"a.who IN ({','.join('?' * len(chosen.people))})")
        params += chosen.people
    if chosen.since:
        where.append("substr(a.at, 1, 10) >= ?")
        params.append(chosen.since)
    if chosen.until:
        where.append("substr(a.at, 1, 10) <= ?")
        params.append(chosen.until)
    return all_rows(conn.execute(
        f"""SELECT f.id, f.file_name, f.sha256, f.label, f.video_id, a.who, a.at FROM frames f
            JOIN label_actions a ON a.id = f.label_action
            WHERE {' AND '.join(where)} ORDER BY a.at DESC, f.id""", params))


def labelers(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT who FROM label_actions ORDER BY who")]


def labeled_videos(conn: sqlite3.Connection) -> list[tuple[int | None, str]]:
    """(video id or None, name) of the videos labeled frames come from; None: imported frames."""
    found = [(r["id"], r["name"]) for r in conn.execute(
        """SELECT DISTINCT v.id, COALESCE(v.url, v.path) AS name FROM videos v
           JOIN frames f ON f.video_id = v.id WHERE f.label IS NOT NULL ORDER BY v.id""")]
    imported = conn.execute("SELECT 1 FROM frames WHERE label IS NOT NULL AND video_id IS NULL LIMIT 1").fetchone()
    return ([(None, "imported frames")] if imported else []) + found
