"""The workspace's test set: labeled frames kept out of training for good.

Each frame's side is chosen once (trainer/split.py) and recorded by content, so new labels
only add to each side and every model version can be scored on the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.frames import labeled_frames_by_id
from data.images import load_rgb
from data.labels import last_action_id
from data.model_records import record_test_sides, test_sides
from data.schema import transaction
from data.workspace import Workspace
from trainer.features import ORIGINAL, FeatureCache, FeatureRequest
from trainer.progress import Progress, ShouldStop
from trainer.split import FrameFacts, choose_test_groups, leakage_groups


def original_request(ws: Workspace, row) -> FeatureRequest:
    path = ws.frames_dir / row["file_name"]
    return FeatureRequest(row["sha256"], ORIGINAL, lambda: load_rgb(path))


@dataclass
class SplitFrames:
    rows: list  # labeled frames whose image could be read, in id order
    labels: np.ndarray
    is_test: np.ndarray
    groups: np.ndarray
    skipped: list[list[str]]  # [file, reason] for unreadable images
    computed: int  # features computed now
    label_action: int  # the newest label action when the labels were read

    @property
    def test_rows(self) -> list:
        return [r for r, test in zip(self.rows, self.is_test) if test]


def facts(rows) -> list[FrameFacts]:
    return [FrameFacts(r["file_name"], r["video_id"], r["phash"]) for r in rows]


def assign_sides(ws: Workspace, rows) -> tuple[np.ndarray, np.ndarray]:
    """(True per row on the test side, leakage group per row), recording the sides of new frames.

    rows: labeled frames (sha256, file_name, video_id, phash, label).
    """
    frames = facts(rows)
    groups = leakage_groups(frames)
    recorded = test_sides(ws.db)
    known = {i: recorded[r["sha256"]] for i, r in enumerate(rows) if r["sha256"] in recorded}
    labels = np.array([r["label"] for r in rows], dtype=np.int64)
    is_test = choose_test_groups(frames, labels, groups, known)
    new = {r["sha256"]: bool(is_test[i]) for i, r in enumerate(rows) if i not in known}
    if new:
        with ws.write_lock():
            record_test_sides(ws.db, new)
    return is_test, groups



def split_frames(ws: Workspace, cache: FeatureCache, *, progress: Progress | None = None,
                 should_stop: ShouldStop | None = None) -> SplitFrames:
    """Every labeled frame with its side, after computing the features it lacks in `cache`
    (frames whose image cannot be read are left out before sides are chosen)."""
    with transaction(ws.db):  # one snapshot: the labels and the action they stand at
        rows, label_action = labeled_frames_by_id(ws.db), last_action_id(ws.db)
    computed, failed = cache.ensure([original_request(ws, r) for r in rows], progress=progress, should_stop=should_stop)
    readable = [r for r in rows if r["sha256"] not in failed]
    is_test, groups = assign_sides(ws, readable) if readable else (np.zeros(0, bool), np.zeros(0, int))
    return SplitFrames(readable, np.array([r["label"] for r in readable], dtype=np.int64), is_test, groups,
                       [[r["file_name"], failed[r["sha256"]]] for r in rows if r["sha256"] in failed], computed,
                       label_action)
