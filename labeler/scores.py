"""The active model's view of workspace frames: probabilities and out-of-fold predictions."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedGroupKFold

from data.workspace import Workspace
from trainer.backbones import Backbone
from trainer.features import FeatureCache
from trainer.head import Head
from trainer.split import FrameFacts, leakage_groups
from trainer.testset import feature_cache_dir, original_request


def frame_features(ws: Workspace, backbone: Backbone, rows: list, *, progress=None) -> tuple[np.ndarray, list]:
    """Backbone features of frames (computed once, then cached); rows whose image is unreadable are dropped.
    progress(stage, done, total) is called as features are computed."""
    cache = FeatureCache(feature_cache_dir(ws), backbone)
    _, failed = cache.ensure([original_request(ws, r) for r in rows], progress=progress)
    kept = [r for r in rows if r["sha256"] not in failed]
    features = np.zeros((len(kept), *backbone.feature_shape), "float32")
    for i, r in enumerate(kept):
        features[i] = cache.get(r["sha256"])
    return features, kept


def out_of_fold_probabilities(
    X: np.ndarray, labels: np.ndarray, rows: list, *, n_classes: int, folds: int = 4, progress=None
) -> np.ndarray:
    """Each labeled frame scored by a head that never saw it (nor its near-copies)."""
    groups = leakage_groups([FrameFacts(r["file_name"], r["video_id"], r["phash"]) for r in rows])
    probs = np.zeros((len(X), n_classes), "float32")
    template = Head(n_classes=n_classes, epochs=30)
    splitter = StratifiedGroupKFold(n_splits=min(folds, len(set(groups))), shuffle=True, random_state=0)
    splits = list(splitter.split(X, labels, groups))
    for done, (train, test) in enumerate(splits):
        if progress:
            progress("checking labels for mistakes", done, len(splits))
        probs[test] = clone(template).fit(X[train], labels[train]).predict_proba(X[test])
    return probs
