"""Validation metrics for the model card: per-class precision/recall/F1, confusion, PR curves."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
)


def decide(probs: np.ndarray, threshold: float) -> np.ndarray:
    """Class per row: the most likely target when its probability reaches threshold, else 0."""
    probs = np.asarray(probs)
    best_target = probs[:, 1:].argmax(axis=1) + 1
    return np.where(probs[np.arange(len(probs)), best_target] >= threshold, best_target, 0)


def _curve(y_true: np.ndarray, scores: np.ndarray, points: int = 50) -> dict:
    if len(np.unique(y_true)) < 2:
        return {"precision": [], "recall": [], "thresholds": []}
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    keep = np.unique(np.linspace(0, len(thresholds) - 1, min(points, len(thresholds))).astype(int))
    return {
        "precision": [round(float(v), 4) for v in precision[keep]],
        "recall": [round(float(v), 4) for v in recall[keep]],
        "thresholds": [round(float(v), 4) for v in thresholds[keep]],
    }


def evaluate(y_true, probs, *, class_names: tuple[str, ...], threshold: float) -> dict:
    y_true = np.asarray(y_true)
    y_pred = decide(probs, threshold)
    labels = list(range(len(class_names)))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "threshold": threshold,
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
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "pr_curves": {name: _curve(y_true == i, np.asarray(probs)[:, i]) for i, name in enumerate(class_names) if i},
    }


def format_metrics(metrics: dict) -> str:
    lines = [f"Validation: {metrics['frames']} frames, accuracy {metrics['accuracy']:.3f}, threshold {metrics['threshold']}"]
    lines.append(f"{'class':<20} {'precision':>9} {'recall':>7} {'F1':>6} {'frames':>7}")
    for name, m in metrics["per_class"].items():
        lines.append(f"{name:<20} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f} {m['support']:>7}")
    lines.append("Confusion matrix (rows: true class, columns: predicted):")
    lines.extend("  " + " ".join(f"{v:>5}" for v in row) for row in metrics["confusion_matrix"])
    return "\n".join(lines)
