"""Video-level judgements: "the target is in this video" or "it is not"."""

from __future__ import annotations

from pathlib import Path

from data.capture import file_sha256
from data.errors import LookoutError
from data.labels import current_user, set_labels
from data.schema import now, transaction
from data.workspace import Workspace


def find_video(ws: Workspace, ref: str) -> int:
    """A video by its id, its URL, or its file (matched by content)."""
    if ref.isdigit() and ws.db.execute("SELECT 1 FROM videos WHERE id = ?", (int(ref),)).fetchone():
        return int(ref)
    row = ws.db.execute("SELECT id FROM videos WHERE url = ? OR path = ?", (ref, ref)).fetchone()
    if row is None and Path(ref).is_file():
        row = ws.db.execute("SELECT id FROM videos WHERE sha256 = ?", (file_sha256(Path(ref)),)).fetchone()
    if row is None:
        raise LookoutError(f"No video {ref!r} in this workspace; give its id, URL or file (capture or score it first).")
    return row["id"]


def judge_video(ws: Workspace, video_id: int, *, present: bool, target: int = 1, who: str | None = None) -> int:
    """Record the judgement; "absent" labels every frame of the video 0 (one undoable action).

    "present" labels nothing: not every frame shows the target, so its frames stay in the queue.
    Returns how many frames were labeled.
    """
    if not 1 <= target < len(ws.config.classes):
        raise LookoutError(f"Target {target} is not one of this project's targets (1 to {len(ws.config.classes) - 1}).")
    with transaction(ws.db):
        ws.db.execute(
            "INSERT INTO video_judgements (video_id, target, present, who, at) VALUES (?, ?, ?, ?, ?)",
            (video_id, target, int(present), who or current_user(), now()),
        )
    if present:
        return 0
    frames = [r["id"] for r in ws.db.execute(
        "SELECT id FROM frames WHERE video_id = ? AND (label IS NULL OR label != 0)", (video_id,)
    )]
    if frames:
        set_labels(ws, {f: 0 for f in frames}, source="review", who=who, reason="video judged absent")
    return len(frames)


def judgement(ws: Workspace, video_id: int, target: int = 1) -> bool | None:
    row = ws.db.execute(
        "SELECT present FROM video_judgements WHERE video_id = ? AND target = ? ORDER BY id DESC LIMIT 1",
        (video_id, target),
    ).fetchone()
    return None if row is None else bool(row["present"])
