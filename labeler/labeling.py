"""The Label page's logic: which frame comes next."""

from __future__ import annotations

from data.workspace import Workspace


def next_to_label(ws: Workspace, *, skipped: tuple[int, ...] = ()):
    """The first unlabeled frame not skipped in this session (skipped ones come back at the end)."""
    rows = ws.db.execute("SELECT * FROM frames WHERE label IS NULL ORDER BY id").fetchall()
    fresh = [r for r in rows if r["id"] not in skipped]
    if fresh:
        return fresh[0]
    by_id = {r["id"]: r for r in rows}
    return next((by_id[s] for s in skipped if s in by_id), None)
