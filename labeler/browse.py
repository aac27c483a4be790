"""Browse labeled frames by class, video, person, date and the active model's disagreement,
to relabel several at once (one action, so one undo restores them all)."""

from __future__ import annotations

from dataclasses import dataclass

from data.workspace import Workspace
from labeler.model_scores import ModelScores
from trainer.evaluate import decide


@dataclass(frozen=True)
class BrowseFilter:
    classes: tuple[int, ...] = ()  # empty: any
    videos: tuple[int | None, ...] = ()  # video ids; None stands for imported frames
    people: tuple[str, ...] = ()
    since: str | None = None  # ISO dates, inclusive
    until: str | None = None
    model_disagrees: bool = False


@dataclass
class Browsed:
    frames: list[dict]  # id, file_name, label, video_id, who, at, and the model's call when it was asked
    total: int  # matching the filters before `limit`
    unscored: int = 0  # frames the model could not be asked about (no cached features yet)


def browse(ws: Workspace, chosen: BrowseFilter, *, model=None, backbone=None, limit: int = 60) -> Browsed:
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
    rows = [dict(r) for r in ws.db.execute(
        f"""SELECT f.id, f.file_name, f.sha256, f.label, f.video_id, a.who, a.at FROM frames f
            JOIN label_history h ON h.id = (SELECT MAX(id) FROM label_history WHERE frame_id = f.id)
            JOIN label_actions a ON a.id = h.action_id
            WHERE {' AND '.join(where)} ORDER BY a.at DESC, f.id""", params)]
    unscored = 0
    if chosen.model_disagrees:
        rows, unscored = _disagreements(ws, rows, model, backbone)
    return Browsed(rows[:limit], len(rows), unscored)


def _disagreements(ws: Workspace, rows: list[dict], model, backbone) -> tuple[list[dict], int]:
    """The rows whose label the model does not give, with its call; features are only read from the cache."""
    if model is None:
        return [], len(rows)
    probs, scored = ModelScores(ws, model, backbone).probabilities(rows, compute=False)
    if not scored:
        return [], len(rows)
    calls = decide(probs, model.thresholds(ws.config.frame_rule))
    disagree = [{**row, "model_says": model.classes[int(call)]} for row, call in zip(scored, calls) if int(call) != row["label"]]
    return disagree, len(rows) - len(scored)


def labelers(ws: Workspace) -> list[str]:
    return [r[0] for r in ws.db.execute("SELECT DISTINCT who FROM label_actions ORDER BY who")]


def labeled_videos(ws: Workspace) -> list[tuple[int | None, str]]:
    """(video id or None, name) of the videos labeled frames come from; None: imported frames."""
    found = [(r["id"], r["name"]) for r in ws.db.execute(
        """SELECT DISTINCT v.id, COALESCE(v.url, v.path) AS name FROM videos v
           JOIN frames f ON f.video_id = v.id WHERE f.label IS NOT NULL ORDER BY v.id""")]
    imported = ws.db.execute("SELECT 1 FROM frames WHERE label IS NOT NULL AND video_id IS NULL LIMIT 1").fetchone()
    return ([(None, "imported frames")] if imported else []) + found
