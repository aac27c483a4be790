"""A test set that does not leak and stays put: near-identical frames never fall on both
sides, and a frame once on one side stays there (trainer/testset.py records it).

Groups, merged where they overlap:
- frames captured from one video share that video's group;
- imported frames without provenance are grouped in blocks of consecutive frame
  numbers (the tutorial numbers frames in capture order, and neighbours often come
  from one video);
- frames whose perceptual hashes are close are one group, wherever they came from.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

CAPTURE_BLOCK = 25  # frame numbers per block for imported frames
TEST_SHARE = 0.2  # of leakage groups
NEAR_DUPLICATE_BITS = 0  # of 64: chains of merely similar frames grow into one giant group

GROUPING = (
    f"source video; imported frames in blocks of {CAPTURE_BLOCK} consecutive frame numbers (capture order); "
    "frames that look the same kept together"
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


def provenance_key(frame: FrameFacts) -> str:
    """What ties a frame to its neighbours: its video, else its capture block, else its name."""
    if frame.video_id is not None:
        return f"video {frame.video_id}"
    number = re.findall(r"\d+", frame.file_name)
    return f"block {int(number[0]) // CAPTURE_BLOCK}" if number else f"name {frame.file_name}"


def leakage_groups(frames: list[FrameFacts]) -> np.ndarray:
    """One group id per frame."""
    uf = _UnionFind(len(frames))
    first_of: dict[str, int] = {}
    for i, frame in enumerate(frames):
        key = provenance_key(frame)
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


def stable_draw(key: str) -> float:
    """A number in [0, 1) fixed by the key alone: the same on every run and every machine."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:15], 16) / 16**15


def choose_test_groups(frames: list[FrameFacts], labels: np.ndarray, groups: np.ndarray,
                       known: dict[int, bool] | None = None) -> np.ndarray:
    """True per frame on the test side.

    known: sides already fixed, by frame index (they never change); a new frame in a group
    with known frames joins their side. Other groups are taken in the order of the stable
    draw of their smallest provenance key (so the choice does not depend on the order frames
    were labeled in) and go to test while their main class has under TEST_SHARE of its frames
    there: each class is tested on about a fifth of its frames, however its frames cluster
    in videos. A class left with no test frame gets its first group that training can spare;
    a class left with no training frame gets its test groups back.
    """
    known = known or {}
    members: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(int(g), []).append(i)
    is_test = np.zeros(len(frames), bool)
    new = []
    for g, rows in members.items():
        sides = [known[i] for i in rows if i in known]
        if sides:
            joined = sum(sides) * 2 > len(sides)
            is_test[rows] = [known.get(i, joined) for i in rows]
        else:
            new.append((stable_draw(min(provenance_key(frames[i]) for i in rows)), g))
    new.sort()
    classes, totals = np.unique(labels, return_counts=True)
    share = dict(zip(classes.tolist(), (totals * TEST_SHARE).tolist()))
    for _, g in new:
        rows = members[g]
        main = int(np.bincount(labels[rows]).argmax())
        if (labels[is_test] == main).sum() + len(rows) <= share[main] + 0.5 * len(rows):
            is_test[rows] = True
    movable = [g for _, g in new]
    for c in classes:
        has = labels == c
        if not (has & is_test).any():
            for g in movable:
                rows = members[g]
                if (labels[rows] == c).any() and (has & ~is_test).sum() > (labels[rows] == c).sum():
                    is_test[rows] = True
                    break
        if not (has & ~is_test).any():
            for g in reversed(movable):
                if (labels[members[g]] == c).any():
                    is_test[members[g]] = False
                    break
    return is_test


def reliability(groups: np.ndarray, test: np.ndarray) -> str:
    """How far the test figures can be trusted, in words."""
    held_out, total = len(np.unique(groups[test])), len(np.unique(groups))
    if held_out == 0:
        return (f"no test figures: the {total} videos or frame runs labeled so far all went to training, too few to "
                "set any aside; label frames from more videos and train again")
    if held_out < 5:
        return (f"rough: tested on {len(test)} frames from only {held_out} of {total} videos or frame runs; "
                "label frames from more videos for figures you can rely on")
    return f"tested on {len(test)} frames from {held_out} of {total} videos or frame runs the model did not learn from"
