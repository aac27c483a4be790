"""Recording labels: append-only history in SQLite, mirrored to the mapping CSV atomically.

Every change is one *action* (a key press, a bulk review decision, an import)
holding one history row per frame. The database commit and the CSV rewrite happen
under the workspace's write lock, so when a call returns the label is on disk in
both, and a crash at any moment leaves the CSV parseable and complete up to the
last returned call.
"""

from __future__ import annotations

import getpass
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from data.errors import LookoutError
from data.mapping_csv import write_mapping_csv
from data.rows import ConflictRow, all_rows
from data.schema import now, transaction
from data.workspace import Workspace

SOURCES = ("import", "label", "review")


@dataclass(frozen=True)
class UndoneAction:
    action_id: int
    source: str
    frames: int
    file_names: tuple[str, ...] = ()  # the frames it restored
    kept: tuple[tuple[str, str], ...] = ()  # (file name, who) of frames someone else labeled since: left as theirs


def set_label(
    ws: Workspace, frame_id: int, label: int | None, *, source: str = "label", who: str | None = None,
    reason: str | None = None, session: str | None = None,
) -> int:
    """Label one frame (None makes it unlabeled again); returns the action id."""
    return set_labels(ws, {frame_id: label}, source=source, who=who, reason=reason, session=session)


def set_labels(
    ws: Workspace,
    labels: Mapping[int, int | None],
    *,
    source: str = "label",
    who: str | None = None,
    reason: str | None = None,
    session: str | None = None,
) -> int:
    """Label several frames as one action (undone together).

    source: "label" (a person on the Label page), "review" (the review queue) or "import".
    reason: why the frame was shown, e.g. the review queue's strategy ("audit" for random audits).
    session: the browser that made it (the app's); only that browser can undo it. None: a script or command.
    """
    if source not in SOURCES:
        raise LookoutError(f"Label source {source!r} is not one of {', '.join(SOURCES)}.")
    n_classes = len(ws.config.classes)
    for label in labels.values():
        if label is not None and not 0 <= label < n_classes:
            raise LookoutError(f"Class {label} is not a class of this project (0 to {n_classes - 1}; see project.toml).")
    with ws.write_lock():
        with transaction(ws.db):
            action_id = record_labels(ws.db, labels, source=source, who=who, reason=reason, session=session)
        write_mapping_csv(ws)
    return action_id


def record_labels(
    conn: sqlite3.Connection,
    labels: Mapping[int, int | None],
    *,
    source: str,
    who: str | None = None,
    undoes: int | None = None,
    reason: str | None = None,
    session: str | None = None,
    owners: Mapping[int, int | None] | None = None,
) -> int:
    """Write one action and its history rows inside the caller's transaction.

    who: default "import" for imports (no person gave those labels), else this computer's user.
    owners: the action each frame's label now belongs to (an undo's); default this one.
    """
    cur = conn.execute(
        "INSERT INTO label_actions (source, who, at, undoes, reason, session) VALUES (?, ?, ?, ?, ?, ?)",
        (source, who or ("import" if source == "import" else current_user()), now(), undoes, reason, session),
    )
    action_id = cur.lastrowid
    for frame_id, label in labels.items():
        row = conn.execute("SELECT label FROM frames WHERE id = ?", (frame_id,)).fetchone()
        if row is None:
            raise LookoutError(f"Frame {frame_id} is not in this workspace; re-open the page to refresh it.")
        conn.execute(
            "INSERT INTO label_history (action_id, frame_id, class, previous_class) VALUES (?, ?, ?, ?)",
            (action_id, frame_id, label, row["label"]),
        )
        owner = action_id if owners is None else owners[frame_id]
        conn.execute("UPDATE frames SET label = ?, label_action = ? WHERE id = ?", (label, owner, frame_id))
    return action_id


# The newest standing label of a frame before a history row: not an undo, and not undone.
_STANDING_BEFORE = """SELECT h.class, h.action_id FROM label_history h JOIN label_actions a ON a.id = h.action_id
    WHERE h.frame_id = ? AND h.id < ? AND a.source != 'undo'
      AND NOT EXISTS (SELECT 1 FROM label_actions u WHERE u.undoes = a.id)
    ORDER BY h.id DESC LIMIT 1"""


def undo(ws: Workspace, *, steps: int = 1, who: str | None = None, session: str | None = None) -> list[UndoneAction]:
    """Undo the last `steps` label or review actions that `who` made from `session` (the browser; None:
    scripts and commands). Another person's labels are theirs to undo: a frame someone labeled since
    keeps their label, and the result names it. Imports are not undone this way."""
    who = who or current_user()
    undone = []
    with ws.write_lock():
        with transaction(ws.db):
            for _ in range(steps):
                last = ws.db.execute(
                    """SELECT a.id, a.source FROM label_actions a
                       WHERE a.source IN ('label', 'review') AND a.who = ? AND a.session IS ?
                         AND NOT EXISTS (SELECT 1 FROM label_actions u WHERE u.undoes = a.id)
                       ORDER BY a.id DESC LIMIT 1""",
                    (who, session),
                ).fetchone()
                if last is None:
                    break
                undone.append(_undo_action(ws.db, last["id"], last["source"], who=who, session=session))
        write_mapping_csv(ws)
    return undone


def _undo_action(conn: sqlite3.Connection, action_id: int, source: str, *, who: str, session: str | None) -> UndoneAction:
    rows = conn.execute(
        """SELECT h.id, h.frame_id, f.file_name, f.label_action, o.who AS owner FROM label_history h
           JOIN frames f ON f.id = h.frame_id LEFT JOIN label_actions o ON o.id = f.label_action
           WHERE h.action_id = ? ORDER BY f.id""",
        (action_id,),
    ).fetchall()
    restore, owners, names, kept = {}, {}, [], []
    for r in rows:
        if r["label_action"] != action_id:  # labeled since by someone (or by this person, in another action)
            kept.append((r["file_name"], r["owner"] or "nobody"))
            continue
        before = conn.execute(_STANDING_BEFORE, (r["frame_id"], r["id"])).fetchone()
        restore[r["frame_id"]] = before["class"] if before else None
        owners[r["frame_id"]] = before["action_id"] if before else None
        names.append(r["file_name"])
    record_labels(conn, restore, source="undo", who=who, undoes=action_id, session=session, owners=owners)
    return UndoneAction(action_id, source, len(restore), tuple(names), tuple(kept))


def label_counts(ws: Workspace) -> dict[str, int]:
    """Frames per class name, plus "unlabeled"."""
    counts = {name: 0 for name in ws.config.classes}
    counts["unlabeled"] = 0
    for r in ws.db.execute("SELECT label, COUNT(*) AS n FROM frames GROUP BY label"):
        if r["label"] is None:
            counts["unlabeled"] = r["n"]
        elif r["label"] < len(ws.config.classes):
            counts[ws.config.classes[r["label"]]] = r["n"]
    return counts


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def open_conflicts(ws: Workspace) -> list[ConflictRow]:
    """Images whose imported rows disagreed, waiting for a person's decision."""
    return all_rows(ws.db.execute(
        """SELECT r.id, r.detail, f.id AS frame_id, f.file_name FROM review_flags r JOIN frames f ON f.id = r.frame_id
           WHERE r.resolved_at IS NULL ORDER BY r.id"""
    ))


def resolve_conflict(ws: Workspace, flag_id: int, label: int, *, who: str | None = None, session: str | None = None) -> None:
    """Label the flagged frame and close the flag."""
    row = ws.db.execute("SELECT frame_id FROM review_flags WHERE id = ?", (flag_id,)).fetchone()
    if row is None:
        raise LookoutError(f"No conflict {flag_id}; refresh the page.")
    set_label(ws, row["frame_id"], label, source="review", who=who, session=session, reason="conflict resolved")
    with transaction(ws.db):
        ws.db.execute("UPDATE review_flags SET resolved_at = ? WHERE id = ?", (now(), flag_id))


def label_timeline(ws: Workspace) -> list[dict]:
    """Frames per class after each day's labeling: [{"day": ..., class name: count, ...}]."""
    names = ws.config.classes
    current: dict[int, int | None] = {}
    counts = [0] * len(names)
    by_day: dict[str, dict] = {}
    for r in ws.db.execute(
        """SELECT h.frame_id, h.class, substr(a.at, 1, 10) AS day FROM label_history h
           JOIN label_actions a ON a.id = h.action_id ORDER BY h.id"""
    ):
        for label, change in ((current.get(r["frame_id"]), -1), (r["class"], 1)):  # running counts: linear
            if label is not None and label < len(names):
                counts[label] += change
        current[r["frame_id"]] = r["class"]
        by_day[r["day"]] = {"day": r["day"], **dict(zip(names, counts))}
    return list(by_day.values())


def labels_by_person(ws: Workspace) -> dict[str, dict[str, int]]:
    """Current labels per person and class: who gave each frame the label it has now."""
    names = ws.config.classes
    table: dict[str, dict[str, int]] = {}
    for r in ws.db.execute(
        """SELECT a.who, f.label, COUNT(*) AS n FROM frames f JOIN label_actions a ON a.id = f.label_action
           WHERE f.label IS NOT NULL GROUP BY a.who, f.label"""
    ):
        if r["label"] < len(names):
            table.setdefault(r["who"], dict.fromkeys(names, 0))[names[r["label"]]] = r["n"]
    return table


def last_action_id(conn) -> int:
    """The newest label action's id (0 before any): changes whenever any label does."""
    return conn.execute("SELECT COALESCE(MAX(id), 0) FROM label_actions").fetchone()[0]
