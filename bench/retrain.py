"""Retraining you can trust, on the shared dataset with the face backbone (it runs offline).

1. Schedule: test-set F1 (Trump, threshold 0.5) with 20, 60, 200 and all training labels,
   for several numbers of gradient steps, mean and spread over 5 seeds: how
   trainer.train.FACE_STEPS was chosen.
2. Same labels and seed, trained twice: the same model; seeds 0-9: the spread of test F1, and
   whether a version trained with another seed would be refused as worse than seed 0's, with the
   head's weights averaged over its last steps (the default) and without.
3. A reviewed 60-second video: Biden.mp4 captured and its frames labeled "no target",
   then a retrain with a warm feature cache. It computes features for the new frames
   only; compared with a retrain that recomputes every frame's features (the tutorial's
   way), estimated from this run's own cost per new frame.
Run: python -m bench.retrain [1|2|3 ...]   (default: all parts; set LOOKOUT_FEATURE_CACHE to reuse
the shared frames' features)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import require_dataset
from data.capture import capture_frames
from data.config import ProjectConfig
from data.importer import import_folder
from data.labels import set_labels
from data.workspace import Workspace
from labeler.frame_features import frame_features
from trainer.backbones import FaceBackbone
from trainer.compare import compare_versions
from trainer.evaluate import evaluate
from trainer.features import ORIGINAL, FeatureCache
from trainer.head import Head
from trainer.testset import split_frames
from trainer.train import DEFAULT_SCHEDULE, FACE_STEPS, train_model

LABELS = (20, 60, 200, None)  # None: every training frame
STEPS = (100, 300, 1000, 3000)
SEEDS = range(5)
SPREAD_SEEDS = range(10)
CLASSES = ("no target", "Trump")


def subsample(y: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """n training frames at random, at least 2 of each class."""
    if n is None or n >= len(y):
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    first = [rng.choice(np.flatnonzero(y == c), 2, replace=False) for c in (0, 1)]
    rest = rng.permutation(np.setdiff1d(np.arange(len(y)), np.concatenate(first)))[: n - 4]
    return np.concatenate([*first, rest])


def f1(head: Head, X: np.ndarray, y: np.ndarray) -> float:
    return evaluate(y, head.predict_proba(X), class_names=CLASSES, thresholds=0.5)["per_class"]["Trump"]["f1"]


def schedule_curve(X_train, y_train, X_test, y_test) -> None:
    print("1. test-set F1 for Trump (mean ± sd over 5 seeds) by training labels and gradient steps")
    print(f"{'labels':>8} " + " ".join(f"{s:>14}" for s in STEPS))
    for n in LABELS:
        cells = []
        for steps in STEPS:
            scores = []
            for seed in SEEDS:
                keep = subsample(y_train, n, seed)
                scores.append(f1(Head(n_classes=2, steps=steps, seed=seed).fit(X_train[keep], y_train[keep]), X_test, y_test))
            cells.append(f"{np.mean(scores):.3f} ± {np.std(scores):.3f}")
        print(f"{n or len(y_train):>8} " + " ".join(f"{c:>14}" for c in cells))


def main() -> None:
    dataset = require_dataset()
    os.environ.setdefault("LOOKOUT_FEATURE_CACHE", str(Path.home() / ".cache" / "lookout-bench" / "features"))
    backbone = FaceBackbone()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "ws", config=ProjectConfig(classes=CLASSES, backbone="face"))
        import_folder(ws, dataset / "Data_deeplearning")
        split = split_frames(ws, FeatureCache(ws.feature_cache_dir, backbone), progress=None)
        X, _ = frame_features(ws, backbone, split.rows)
        test = split.is_test
        print(f"shared dataset: {len(split.rows)} labeled frames, {int(test.sum())} on the test side")
        parts = sys.argv[1:] or ["1", "2", "3"]
        if "1" in parts:
            schedule_curve(X[~test], split.labels[~test], X[test], split.labels[test])
        if "2" in parts:
            seeds_part(ws, backbone)
        if "3" in parts:
            warm_retrain_part(ws, backbone, dataset)


def seeds_part(ws: Workspace, backbone) -> None:
    print(f"2. default schedule ({FACE_STEPS} steps), twice with seed 0, then seeds {SPREAD_SEEDS[0]}-{SPREAD_SEEDS[-1]}, "
          "with the weights averaged over the last steps (the default) and with the last step's weights:")
    twice = [train_model(ws, backbone=backbone, seed=0).card.validation["per_class"]["Trump"] for _ in range(2)]
    print(f"   seed 0 twice: {twice[0]} / {twice[1]} -> {'identical' if twice[0] == twice[1] else 'DIFFERENT'}")
    spreads = {}
    for label, average_steps in (("averaged", DEFAULT_SCHEDULE["face"]["average_steps"]), ("last step", None)):
        schedule = {**DEFAULT_SCHEDULE["face"], "average_steps": average_steps}
        cards = [train_model(ws, backbone=backbone, seed=s, head=Head(n_classes=2, seed=s, **schedule)).card
                 for s in SPREAD_SEEDS]
        by_seed = [card.validation["per_class"]["Trump"]["f1"] for card in cards]
        spreads[label] = max(by_seed) - min(by_seed)
        comparison = compare_versions(ws, [card.version for card in cards], backbones={backbone.identity: backbone})
        refused = [card.seed for card in cards[1:] if comparison.worse(card.version)]
        print(f"   {label}: F1 {' '.join(f'{v:.3f}' for v in by_seed)}; mean {np.mean(by_seed):.3f}, "
              f"spread {spreads[label]:.3f}; worse than seed 0 beyond the interval: {len(refused)} of {len(cards) - 1}")
    print(f"   spread, last step / averaged: {spreads['last step'] / max(spreads['averaged'], 1e-9):.1f}x")


def warm_retrain_part(ws: Workspace, backbone, dataset: Path) -> None:
    print("3. retrain after a reviewed 60-second video (Biden.mp4, frames labeled 'no target'):")
    captured = capture_frames(ws, dataset / "Biden.mp4")
    new = ws.db.execute("SELECT id, sha256 FROM frames WHERE origin = 'capture'").fetchall()
    set_labels(ws, {r["id"]: 0 for r in new}, who="bench")
    cache = FeatureCache(ws.feature_cache_dir, backbone)
    for r in new:  # new to this workspace, so new to its cache too (an earlier run may have kept them)
        cache.path(r["sha256"], ORIGINAL).unlink(missing_ok=True)
    stages: dict[str, float] = {}
    start = time.perf_counter()

    def progress(stage: str, done: int, total: int) -> None:
        stages.setdefault(stage, time.perf_counter())

    result = train_model(ws, backbone=backbone, progress=progress)
    warm = time.perf_counter() - start
    feature_time = stages.get("epochs", time.perf_counter()) - start
    per_frame = feature_time / max(result.features_computed, 1)
    labeled = sum(result.card.label_counts.values())
    recompute = per_frame * labeled + (warm - feature_time)
    print(f"   {captured.summary()}")
    print(f"   warm retrain: {warm:.1f} s, {result.features_computed} features computed "
          f"({feature_time:.1f} s, {per_frame:.2f} s a frame), head {warm - feature_time:.1f} s")
    print(f"   recomputing all {labeled} frames' features at that pace: ~{recompute:.0f} s (estimated); "
          f"warm retrain is {recompute / warm:.1f}x faster")


if __name__ == "__main__":
    main()
