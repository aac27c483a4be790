"""A validation split that does not leak: near-identical frames never fall on both sides.

Groups, merged where they overlap:
- frames captured from one video share that video's group;
- imported frames without provenance are grouped in blocks of consecutive frame
  numbers (the tutorial numbers frames in capture order, and neighbours often come
  from one video);
- frames whose perceptual hashes are close are one group, wherever they came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from data.errors import LookoutError

CAPTURE_BLOCK = 25  # frame numbers per block for imported frames
NEAR_DUPLICATE_BITS = 0  # of 64: chains of merely similar frames grow into one giant group

GROUPING = (
    f"source video; imported frames in blocks of {CAPTURE_BLOCK} consecutive frame numbers (capture order); "
    "frames with identical perceptual hashes merged"
)


@dataclass(frozen=True)
class FrameFacts:
    file_name: str
    video_id: int | None
    phash: str | None


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def leakage_groups(frames: list[FrameFacts]) -> np.ndarray:
    """One group id per frame."""
    uf = _UnionFind(len(frames))
    first_of: dict[tuple, int] = {}
    for i, frame in enumerate(frames):
        if frame.video_id is not None:
            key = ("video", frame.video_id)
        else:
            number = re.findall(r"\d+", frame.file_name)
            key = ("block", int(number[0]) // CAPTURE_BLOCK) if number else ("name", frame.file_name)
        if key in first_of:
            uf.union(i, first_of[key])
        else:
            first_of[key] = i
    index = np.array([i for i, f in enumerate(frames) if f.phash], dtype=np.int64)
    hashes = np.array([int(frames[i].phash, 16) for i in index], dtype=np.uint64)
    for a in range(len(hashes)):  # one vectorised row per frame: 10,000 frames take about a second
        close = np.flatnonzero(np.bitwise_count(hashes[a + 1 :] ^ hashes[a]) <= NEAR_DUPLICATE_BITS)
        for b in close:
            uf.union(int(index[a]), int(index[a + 1 + b]))
    return np.array([uf.find(i) for i in range(len(frames))])


def split_train_validation(labels: np.ndarray, groups: np.ndarray, *, seed: int = 0, folds: int = 5):
    """Indices (train, validation), about 1/folds validation, stratified by class, groups kept whole.

    With fewer groups than folds (frames from two videos), each group is a fold: the validation
    side is one whole group, and its figures say how the model does on that one video.
    """
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise LookoutError(
            "All labeled frames come from one video (or one run of similar frames), so none is left to check "
            "the model on; capture and label frames from at least one more video."
        )
    splitter = StratifiedGroupKFold(n_splits=min(folds, n_groups), shuffle=True, random_state=seed)
    train, validation = next(splitter.split(np.zeros(len(labels)), labels, groups))
    return train, validation


def reliability(groups: np.ndarray, validation: np.ndarray) -> str:
    """How far the validation figures can be trusted, in words."""
    held_out, total = len(np.unique(groups[validation])), len(np.unique(groups))
    if held_out < 5:
        return (f"rough: checked on {len(validation)} frames from only {held_out} of {total} videos or frame runs; "
                "label frames from more videos for figures you can rely on")
    return f"checked on {len(validation)} frames from {held_out} of {total} videos or frame runs the model did not learn from"
