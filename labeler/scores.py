"""The active model's view of workspace frames: features read in batches, out-of-fold predictions."""

from __future__ import annotations

import numpy as np

from data.workspace import Workspace
from trainer.backbones import Backbone, pooled
from trainer.features import FeatureCache
from trainer.split import FrameFacts, leakage_groups
from trainer.testset import feature_cache_dir, original_request

BATCH = 1024
CHECK_STEPS = 300  # gradient steps per fold of the label check, however many frames are labeled
CHECK_LAYERS = (128,)


def frame_features(ws: Workspace, backbone: Backbone, rows: list, *, progress=None) -> tuple[np.ndarray, list]:
    """Backbone features of frames (computed once, then cached); rows whose image is unreadable are dropped.
    All of them are in memory: for a few thousand frames at most (compact_features scales).
    progress(stage, done, total) is called as features are read or computed."""
    return _batched(ws, backbone, rows, lambda features: features, progress)


def compact_features(ws: Workspace, backbone: Backbone, rows: list, *, progress=None) -> tuple[np.ndarray, list]:
    """Features small enough to hold for 100,000 frames: a vgg16 map averaged over its 49 cells
    (512 numbers, 2 KB), face features as they are (4 faces x 129, 2 KB). Read in batches."""
    return _batched(ws, backbone, rows, pooled, progress)


def _batched(ws: Workspace, backbone: Backbone, rows: list, reduce, progress) -> tuple[np.ndarray, list]:
    cache = FeatureCache(feature_cache_dir(ws), backbone)
    by_sha = {r["sha256"]: r for r in rows}
    parts, kept = [], []
    for start in range(0, len(rows), BATCH):
        if progress:
            progress("features", start, len(rows))
        # a batch of frames never seen takes minutes with the face model: its count moves as each is computed
        features, requests, _ = cache.load([original_request(ws, r) for r in rows[start : start + BATCH]], progress=(
            progress and (lambda stage, done, total, start=start: progress("features", start + done, len(rows)))))
        parts.append(reduce(features))
        kept += [by_sha[r.sha256] for r in requests]
    if progress and rows:
        progress("features", len(rows), len(rows))
    if not parts:
        return reduce(np.zeros((0, *backbone.feature_shape), "float32")), []
    return np.concatenate(parts), kept


def out_of_fold_probabilities(
    X: np.ndarray, labels: np.ndarray, rows: list, *, n_classes: int, folds: int = 4, progress=None
) -> np.ndarray:
    """Each labeled frame scored by a head that never saw it (nor its near-copies).

    The heads are small (one layer of 128 over compact features) and get a fixed number of
    steps, so the check costs about as much for 100,000 labeled frames as for 500.
    """
    # Keras and scikit-learn load when the check runs, not when a page imports the queue
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedGroupKFold

    from trainer.head import Head

    groups = leakage_groups([FrameFacts(r["file_name"], r["video_id"], r["phash"]) for r in rows])
    probs = np.zeros((len(X), n_classes), "float32")
    steps = min(30 * int(np.ceil(len(X) / 128)), CHECK_STEPS)  # 30 passes over a few hundred frames
    template = Head(n_classes=n_classes, hidden=CHECK_LAYERS, steps=steps)
    splitter = StratifiedGroupKFold(n_splits=min(folds, len(set(groups))), shuffle=True, random_state=0)
    splits = list(splitter.split(X, labels, groups))
    for done, (train, test) in enumerate(splits):
        if progress:
            progress("checking labels for mistakes", done, len(splits))
        probs[test] = clone(template).fit(X[train], labels[train]).predict_proba(X[test])
    return probs
