"""The tutorial's rule, per target: a video shows a target when at least min_ratio of its
sampled frames do (and at least min_frames of them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.config import FrameRule


@dataclass(frozen=True)
class Verdict:
    target: int
    name: str
    positive_frames: int  # sampled frames predicted as this target
    sampled_frames: int
    ratio: float
    positive: bool
    best_index: int  # the row with the highest probability for this target


def video_verdicts(probs: np.ndarray, represents: np.ndarray, *, classes: tuple[str, ...], rule: FrameRule,
                   thresholds: np.ndarray) -> list[Verdict]:
    """probs: one row per distinct frame; represents: how many sampled frames each row stands for;
    thresholds: what a frame's probability must reach, per target (Model.thresholds)."""
    probs = np.asarray(probs, dtype=float)
    weights = np.asarray(represents, dtype=int)
    sampled = int(weights.sum())
    verdicts = []
    for target in range(1, len(classes)):
        hits = probs[:, target] >= thresholds[target - 1] if len(probs) else np.zeros(0, bool)
        positive = int(weights[hits].sum())
        ratio = positive / sampled if sampled else 0.0
        verdicts.append(
            Verdict(
                target, classes[target], positive, sampled, ratio,
                positive >= rule.min_frames and ratio >= rule.min_ratio - 1e-9,
                int(probs[:, target].argmax()) if len(probs) else -1,
            )
        )
    return verdicts
