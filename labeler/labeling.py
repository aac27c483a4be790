"""The Label page's logic: which frame comes next, for several people labeling at once.

Each session leases the frame it shows, so no other session is shown it; a lease ends
when the session asks for its next frame, or after LEASE_S if the tab was left open.
A second opinion is a blind label of a frame someone else labeled: it is stored apart
and never changes the frame's label; agreement() compares the two.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.metrics import cohen_kappa_score

from data.schema import now, transaction
from data.workspace import Workspace

LEASE_S = 300

# A frame's labeler: who made the newest history row of its current label.
_LABELED_BY = """(SELECT a.who FROM label_history h JOIN label_actions a ON a.id = h.action_id
                  WHERE h.frame_id = f.id ORDER BY h.id DESC LIMIT 1)"""


def _lease_next(ws: Workspace, session: str, who: str, candidates: str, params: tuple, skipped: tuple[int, ...]):
    """Lease the first frame of `candidates` (SQL over frames f) that no other session shows;
    this session's skipped frames come last, in the order skipped."""
    at = time.time()
    with transaction(ws.db):
        ws.db.execute("DELETE FROM frame_leases WHERE session = ? OR expires_at < ?", (session, at))
        free = f"{candidates} AND f.id NOT IN (SELECT frame_id FROM frame_leases)"
        marks = ",".join("?" * len(skipped))
        row = ws.db.execute(f"SELECT f.* FROM frames f WHERE {free} AND f.id NOT IN ({marks}) ORDER BY f.id LIMIT 1",
                            (*params, *skipped)).fetchone()
        if row is None and skipped:
            rows = {r["id"]: r for r in ws.db.execute(f"SELECT f.* FROM frames f WHERE {free} AND f.id IN ({marks})",
                                                        (*params, *skipped))}
            row = next((rows[s] for s in skipped if s in rows), None)
        if row is not None:
            ws.db.execute("INSERT INTO frame_leases VALUES (?, ?, ?, ?)", (row["id"], session, who, at + LEASE_S))
    return row


def next_to_label(ws: Workspace, *, session: str = "", who: str = "", skipped: tuple[int, ...] = ()):
    """The first unlabeled frame no other session is showing, leased to this one (None: none left)."""
    return _lease_next(ws, session, who, "f.label IS NULL", (), skipped)


def next_for_second_opinion(ws: Workspace, *, session: str, who: str, skipped: tuple[int, ...] = ()):
    """A frame someone else labeled that `who` has not given an opinion on, leased to this session."""
    return _lease_next(
        ws, session, who,
        f"f.label IS NOT NULL AND {_LABELED_BY} != ? "
        "AND NOT EXISTS (SELECT 1 FROM second_opinions o WHERE o.frame_id = f.id AND o.who = ?)",
        (who, who), skipped,
    )


def release(ws: Workspace, session: str) -> None:
    with transaction(ws.db):
        ws.db.execute("DELETE FROM frame_leases WHERE session = ?", (session,))


def give_second_opinion(ws: Workspace, frame_id: int, label: int, *, who: str) -> None:
    with transaction(ws.db):
        ws.db.execute("INSERT OR REPLACE INTO second_opinions VALUES (?, ?, ?, ?)", (frame_id, who, label, now()))


def withdraw_second_opinion(ws: Workspace, frame_id: int, *, who: str) -> None:
    with transaction(ws.db):
        ws.db.execute("DELETE FROM second_opinions WHERE frame_id = ? AND who = ?", (frame_id, who))


def opinions(ws: Workspace) -> list:
    """Each second opinion beside the frame's label and its labeler."""
    return ws.db.execute(
        f"""SELECT f.id, f.file_name, f.label, {_LABELED_BY} AS labeled_by, o.who AS second, o.class AS opinion
            FROM second_opinions o JOIN frames f ON f.id = o.frame_id WHERE f.label IS NOT NULL ORDER BY f.id"""
    ).fetchall()


def agreement(ws: Workspace) -> dict[str, dict]:
    """Per target: Cohen's kappa between labels and second opinions (is it this target or not),
    over how many frames, and how many they disagree on."""
    rows = opinions(ws)
    first = np.array([r["label"] for r in rows], dtype=int)
    second = np.array([r["opinion"] for r in rows], dtype=int)
    result = {}
    for t, name in ws.config.targets.items():
        a, b = first == t, second == t
        same = bool((a == b).all())
        kappa = 1.0 if same else float(cohen_kappa_score(a, b))
        result[name] = {"kappa": round(kappa, 3), "frames": len(rows), "disagree": int((a != b).sum())}
    return result
