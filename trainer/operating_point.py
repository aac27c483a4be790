"""The alert threshold per target, chosen on the test set for a precision goal.

A newsroom says "alert only when we are 95% sure", not "when the probability passes
0.5": per target, the lowest threshold whose test-set precision reaches the goal
(lower keeps more recall). It never goes below the project's frame_rule.threshold
(the tutorial's 0.5), so a goal never makes alerts looser than the tutorial's rule.

"Reaches" means the precision's lower 95% bound (exact binomial, one-sided) does: two right
alerts out of two are precision 1.00 but promise nothing. A 95% goal needs at least 59 test
alerts without a false one; until the test set holds that many, the goal is not met and the
page says how many are needed.
"""

from __future__ import annotations

import math

import numpy as np

CONFIDENCE = 0.95


def precision_lower_bound(right: int, alerts: int) -> float:
    """The precision we can promise at CONFIDENCE from `right` of `alerts` test alerts (Clopper-Pearson)."""
    if right == 0:
        return 0.0
    from scipy.stats import beta

    return float(beta.ppf(1 - CONFIDENCE, right, alerts - right + 1))


def alerts_needed(goal: float) -> int:
    """Test alerts, none false, for the lower bound to reach the goal: 59 for 95%."""
    return math.ceil(math.log(1 - CONFIDENCE) / math.log(goal)) if 0 < goal < 1 else 0


def choose_threshold(is_target: np.ndarray, scores: np.ndarray, *, goal: float, floor: float) -> dict:
    """{threshold, precision, precision_lower, alerts, false_alerts, recall, goal_met, alerts_needed,
    precision_at_floor, recall_at_floor} for one target.

    goal 0 turns the choice off: the threshold is the floor. When no threshold's lower bound
    reaches the goal on these frames, the one with the highest bound is taken and goal_met is False.
    """
    is_target, scores = np.asarray(is_target, bool), np.asarray(scores, float)
    candidates = np.unique(np.concatenate([[floor], scores[scores >= floor]]))

    def at(threshold: float) -> dict:
        called = scores >= threshold
        right, alerts = int((called & is_target).sum()), int(called.sum())
        return {"threshold": round(float(threshold), 4), "precision": round(right / alerts if alerts else 1.0, 4),
                "precision_lower": round(precision_lower_bound(right, alerts), 4), "alerts": alerts,
                "false_alerts": alerts - right, "recall": round(float(right / is_target.sum()) if is_target.any() else 0.0, 4)}

    points = [at(t) for t in candidates]
    if goal > 0 and is_target.any():
        catching = [p for p in points if p["recall"] > 0] or points[:1]
        reaching = [p for p in catching if p["precision_lower"] >= goal]
        best = reaching[0] if reaching else max(catching, key=lambda p: (p["precision_lower"], p["recall"]))
        met = bool(reaching)
    else:
        best, met = points[0], goal <= 0
    return {**best, "goal_met": met, "alerts_needed": alerts_needed(goal),
            "precision_at_floor": points[0]["precision"], "recall_at_floor": points[0]["recall"]}


def operating_points(y_true: np.ndarray, probs: np.ndarray, class_names: tuple[str, ...], *, goal: float,
                     floor: float) -> dict[str, dict]:
    y_true, probs = np.asarray(y_true), np.asarray(probs)
    return {name: choose_threshold(y_true == i, probs[:, i], goal=goal, floor=floor)
            for i, name in enumerate(class_names) if i}
