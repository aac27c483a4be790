"""Browse labeled frames by class, video, person, date and the active model's disagreement,
to relabel several at once (one action, so one undo restores them all)."""

from __future__ import annotations

from dataclasses import dataclass

from data.browse_labeled import BrowseFilter, labeled_frames
from data.workspace import Workspace
from trainer.evaluate import decide
from trainer.model_scores import ModelScores


@dataclass
class Browsed:
    frames: list[dict]  # id, file_name, label, video_id, who, at, and the model's call when it was asked
    total: int  # matching the filters before `limit`
    unscored: int = 0  # frames the model could not be asked about (no cached features yet)


def browse(ws: Workspace, chosen: BrowseFilter, *, model=None, backbone=None, limit: int = 60) -> Browsed:
    rows = labeled_frames(ws.db, chosen)
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
