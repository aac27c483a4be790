"""The alert threshold per target, chosen on the test set for a precision goal.

A newsroom says "alert only when we are 95% sure", not "when the probability passes
0.5": per target, the lowest threshold whose test-set precision reaches the goal
(lower keeps more recall). It never goes below the project's frame_rule.threshold
(the tutorial's 0.5), so a goal never makes alerts looser than the tutorial's rule.
"""

from __future__ import annotations

import numpy as np


def choose_threshold(is_target: np.ndarray, scores: np.ndarray, *, goal: float, floor: float) -> dict:
    """{threshold, precision, recall, goal_met, precision_at_floor, recall_at_floor} for one target.

    goal 0 turns the choice off: the threshold is the floor. When no threshold reaches the
    goal on these frames, the one with the best precision is taken and goal_met is False.
    """
    is_target, scores = np.asarray(is_target, bool), np.asarray(scores, float)
    candidates = np.unique(np.concatenate([[floor], scores[scores >= floor]]))

    def at(threshold: float) -> tuple[float, float]:
        called = scores >= threshold
        hits = int((called & is_target).sum())
        precision = hits / called.sum() if called.any() else 1.0
        recall = hits / is_target.sum() if is_target.any() else 0.0
        return float(precision), float(recall)

    points = [(t, *at(t)) for t in candidates]
    if goal > 0 and is_target.any():
        catching = [p for p in points if p[2] > 0] or points[:1]
        reaching = [p for p in catching if p[1] >= goal]
        best = reaching[0] if reaching else max(catching, key=lambda p: (p[1], p[2]))
        met = bool(reaching)
    else:
        best, met = points[0], goal <= 0
    return {
        "threshold": round(float(best[0]), 4),
        "precision": round(best[1], 4),
        "recall": round(best[2], 4),
        "goal_met": met,
        "precision_at_floor": round(points[0][1], 4),
        "recall_at_floor": round(points[0][2], 4),
    }


def operating_points(y_true: np.ndarray, probs: np.ndarray, class_names: tuple[str, ...], *, goal: float,
                     floor: float) -> dict[str, dict]:
    y_true, probs = np.asarray(y_true), np.asarray(probs)
    return {name: choose_threshold(y_true == i, probs[:, i], goal=goal, floor=floor)
            for i, name in enumerate(class_names) if i}
