"""Validation metrics for the model card: per-class precision/recall/F1, confusion, PR curves."""

from __future__ import annotations

import numpy as np


def decide(probs: np.ndarray, thresholds) -> np.ndarray:
    """Class per row: of the targets whose probability reaches their threshold, the most likely; else 0.

    thresholds: one number for every target, or one per target (classes[1:]).
    """
    probs = np.asarray(probs)
    reached = probs[:, 1:] >= np.broadcast_to(np.asarray(thresholds, float), (probs.shape[1] - 1,))
    scored = np.where(reached, probs[:, 1:], -1.0)
    return np.where(reached.any(axis=1), scored.argmax(axis=1) + 1, 0)


def _curve(y_true: np.ndarray, scores: np.ndarray, points: int = 50) -> dict:
    from sklearn.metrics import precision_recall_curve  # see evaluate()

    if len(np.unique(y_true)) < 2:
        return {"precision": [], "recall": [], "thresholds": []}
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    keep = np.unique(np.linspace(0, len(thresholds) - 1, min(points, len(thresholds))).astype(int))
    return {
        "precision": [round(float(v), 4) for v in precision[keep]],
        "recall": [round(float(v), 4) for v in recall[keep]],
        "thresholds": [round(float(v), 4) for v in thresholds[keep]],
    }


def evaluate(y_true, probs, *, class_names: tuple[str, ...], thresholds) -> dict:
    """thresholds: one number, or one per target."""
    # scikit-learn is imported here, not at the top: the Map page imports decide() and opens 0.8 s sooner without it
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y_true = np.asarray(y_true)
    per_target = np.broadcast_to(np.asarray(thresholds, float), (len(class_names) - 1,))
    y_pred = decide(probs, per_target)
    labels = list(range(len(class_names)))
    if len(y_true):
        precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
        confusion = confusion_matrix(y_true, y_pred, labels=labels).tolist()
    else:  # too few videos to set any aside: no figures, and the card says why (split.reliability)
        precision = recall = f1 = support = np.zeros(len(labels))
        confusion = [[0] * len(labels) for _ in labels]
    return {
        "thresholds": {name: round(float(t), 4) for name, t in zip(class_names[1:], per_target)},
        "frames": int(len(y_true)),
        "accuracy": round(float((y_true == y_pred).mean()), 4) if len(y_true) else 0.0,
        "per_class": {
            name: {
                "precision": round(float(precision[i]), 4),
                "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": confusion,
        "pr_curves": {name: _curve(y_true == i, np.asarray(probs)[:, i]) for i, name in enumerate(class_names) if i},
    }


def format_metrics(metrics: dict) -> str:
    if not metrics["frames"]:
        return "Test set: no frames yet, so no test figures (label frames from more videos)."
    thresholds = metrics.get("thresholds") or {"every target": metrics["threshold"]}  # cards before 2026-12: one
    lines = [f"Test set: {metrics['frames']} frames, accuracy {metrics['accuracy']:.3f}, thresholds "
             + ", ".join(f"{name} {t}" for name, t in thresholds.items())]
    lines.append(f"{'class':<20} {'precision':>9} {'recall':>7} {'F1':>6} {'frames':>7}")
    for name, m in metrics["per_class"].items():
        lines.append(f"{name:<20} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f} {m['support']:>7}")
    lines.append("Confusion matrix (rows: true class, columns: predicted):")
    lines.extend("  " + " ".join(f"{v:>5}" for v in row) for row in metrics["confusion_matrix"])
    return "\n".join(lines)


def calibration_error(is_target: np.ndarray, scores: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of target scores: how far, on average over frames, a score is from the
    share of frames scored alike that do show the target (0: a score of 0.8 is right 80% of the time)."""
    is_target, scores = np.asarray(is_target, float), np.asarray(scores, float)
    which = np.minimum((scores * bins).astype(int), bins - 1)
    return float(sum(abs(is_target[which == b].mean() - scores[which == b].mean()) * (which == b).sum()
                     for b in range(bins) if (which == b).any()) / max(len(scores), 1))
