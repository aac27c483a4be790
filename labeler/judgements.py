"""Video-level judgements: "the target is in this video" or "it is not"."""

from __future__ import annotations

from pathlib import Path

from data.capture import file_sha256
from data.errors import LookoutError
from data.judged_videos import label_frames_of_absent_video
from data.labels import current_user
from data.monitor_records import find_video_id, latest_judgement, record_judgement
from data.schema import transaction
from data.workspace import Workspace


def find_video(ws: Workspace, ref: str) -> int:
    """A video by its id, its URL, or its file (matched by content)."""
    video_id = find_video_id(ws.db, ref, sha256=file_sha256(Path(ref)) if Path(ref).is_file() else None)
    if video_id is None:
        raise LookoutError(f"No video {ref!r} in this workspace; give its id, URL or file (capture or score it first).")
    return video_id


def judge_video(ws: Workspace, video_id: int, *, present: bool, target: int = 1, who: str | None = None,
                session: str | None = None) -> int:
    """Record the judgement; "absent" labels every frame of the video 0 (one undoable action), and frames
    captured from it later too (data/judged_videos.py).

    "present" labels nothing: not every frame shows the target, so its frames stay in the queue.
    Returns how many frames were labeled.
    """
    if not 1 <= target < len(ws.config.classes):
        raise LookoutError(f"Target {target} is not one of this project's targets (1 to {len(ws.config.classes) - 1}).")
    with transaction(ws.db):
        record_judgement(ws.db, video_id, target, present=present, who=who or current_user())
    return 0 if present else label_frames_of_absent_video(ws, video_id, who=who, session=session)


def judgement(ws: Workspace, video_id: int, target: int = 1) -> bool | None:
    return latest_judgement(ws.db, video_id, target)
