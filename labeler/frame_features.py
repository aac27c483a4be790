"""Workspace frames' backbone features, read (and computed once) in batches."""

from __future__ import annotations

import numpy as np

from data.workspace import Workspace
from trainer.backbones import Backbone, pooled
from trainer.features import FeatureCache
from trainer.testset import original_request

BATCH = 1024


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
    cache = FeatureCache(ws.feature_cache_dir, backbone)
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
