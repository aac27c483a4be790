"""A video judged free of the target labels its frames "no target": those kept then, and those captured later."""

from __future__ import annotations

from data.frames import frames_of_video
from data.labels import set_labels
from data.workspace import Workspace


def label_frames_of_absent_video(ws: Workspace, video_id: int, *, who: str | None = None,
                                 session: str | None = None) -> int:
    """Label 0 every frame of the video not labeled so yet, if its latest judgement for a target says absent
    (as one action, credited to `who`, else to the person who judged). Returns how many frames were labeled."""
    judged = ws.db.execute(
        """SELECT j.present, j.who FROM video_judgements j WHERE j.video_id = ?
           AND j.id = (SELECT MAX(id) FROM video_judgements WHERE video_id = j.video_id AND target = j.target)
           ORDER BY j.present LIMIT 1""", (video_id,)).fetchone()
    if judged is None or judged["present"]:
        return 0
    frames = [r["id"] for r in frames_of_video(ws.db, video_id) if r["label"] != 0]
    if frames:
        set_labels(ws, dict.fromkeys(frames, 0), source="review", who=who or judged["who"], session=session,
                   reason="video judged absent")
    return len(frames)
