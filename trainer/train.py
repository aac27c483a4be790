"""One-click retraining: labeled frames -> cached features -> head -> evaluated, exported model."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data.errors import LookoutError
from data.images import load_rgb
from data.scratch import scratch_dir
from data.workspace import Workspace
from trainer.augment import Augmenter
from trainer.backbones import Backbone, load_backbone
from trainer.evaluate import evaluate
from trainer.features import ORIGINAL, FeatureCache, FeatureRequest
from trainer.head import Head
from trainer.progress import Progress, ShouldStop
from trainer.registry import new_version, save_model
from trainer.split import GROUPING, FrameFacts, leakage_groups, reliability, split_train_validation

MIN_PER_CLASS = 5
# Face descriptors are built to ignore brightness and mirroring, so copies add cost, not information.
DEFAULT_AUGMENT_COPIES = {"vgg16": 1, "face": 0}
# The tutorial's vgg16 head has 25M weights and an epoch costs about a second; the face head is tiny.
DEFAULT_EPOCHS = {"vgg16": (10, 3), "face": (100, 10)}  # (at most, patience)


@dataclass
class TrainResult:
    version: str
    card: dict
    skipped: list[list[str]] = field(default_factory=list)  # [file, reason] for unreadable images
    features_computed: int = 0


def feature_cache_dir(ws: Workspace) -> Path:
    """$LOOKOUT_FEATURE_CACHE lets several workspaces share features (entries are keyed by content)."""
    return Path(os.environ.get("LOOKOUT_FEATURE_CACHE") or ws.features_dir)


def labeled_frames(ws: Workspace) -> list:
    return ws.db.execute(
        "SELECT id, sha256, file_name, video_id, phash, label FROM frames WHERE label IS NOT NULL ORDER BY id"
    ).fetchall()


def check_labels(labels: np.ndarray, class_names: tuple[str, ...]) -> None:
    if len(labels) == 0:
        raise LookoutError("No frame is labeled yet; import a mapping CSV or label frames first.")
    counts = np.bincount(labels, minlength=len(class_names))
    if (counts > 0).sum() < 2:
        raise LookoutError(
            f"Every labeled frame is {class_names[int(labels[0])]!r}; label frames of at least one other class."
        )
    few = [f"{name} ({counts[i]})" for i, name in enumerate(class_names) if 0 < counts[i] < MIN_PER_CLASS]
    if few:
        raise LookoutError(f"Too few labeled frames for {', '.join(few)}; label at least {MIN_PER_CLASS} of each class.")


def train_model(
    ws: Workspace,
    *,
    backbone: Backbone | str | None = None,
    epochs: int | None = None,
    augment_copies: int | None = None,
    seed: int = 0,
    head: Head | None = None,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> TrainResult:
    """Train a head on every labeled frame and export it as a new version (not yet active).

    backbone: a Backbone, "vgg16", "face", or None for the project's setting.
    epochs: at most this many, stopping early when validation loss stops improving
    (None: 10 for vgg16, whose epochs cost a second each, 100 for face).
    augment_copies: augmented copies per training frame (None: 1 for vgg16, 0 for face);
    validation frames are never augmented.
    """
    config = ws.config
    if not isinstance(backbone, Backbone):
        backbone = load_backbone(backbone or config.backbone, configured=config.vgg16_weights)
    if augment_copies is None:
        augment_copies = DEFAULT_AUGMENT_COPIES.get(backbone.name, 1)
    rows = labeled_frames(ws)
    check_labels(np.array([r["label"] for r in rows], dtype=int), config.classes)

    cache = FeatureCache(feature_cache_dir(ws), backbone)
    augmenter = Augmenter(seed=seed)

    def request(row, copy: int) -> FeatureRequest:
        path = ws.frames_dir / row["file_name"]
        if copy == 0:
            return FeatureRequest(row["sha256"], ORIGINAL, lambda: load_rgb(path))
        return FeatureRequest(
            row["sha256"], augmenter.variant(copy), lambda: augmenter(load_rgb(path), sha256=row["sha256"], copy=copy)
        )

    # Originals first: frames whose image cannot be read are skipped before the split.
    computed, failed = cache.ensure([request(r, 0) for r in rows], progress=progress, should_stop=should_stop)
    skipped = [[r["file_name"], failed[r["sha256"]]] for r in rows if r["sha256"] in failed]
    readable = [r for r in rows if r["sha256"] not in failed]
    labels = np.array([r["label"] for r in readable], dtype=np.int64)
    check_labels(labels, config.classes)

    groups = leakage_groups([FrameFacts(r["file_name"], r["video_id"], r["phash"]) for r in readable])
    train_idx, val_idx = split_train_validation(labels, groups, seed=seed)
    train_keys = [(readable[i], c) for i in train_idx for c in range(augment_copies + 1)]
    requests = [request(row, c) for row, c in train_keys] + [request(readable[i], 0) for i in val_idx]
    more, _ = cache.ensure(requests, progress=progress, should_stop=should_stop)
    computed += more

    most, patience = DEFAULT_EPOCHS.get(backbone.name, (50, 10))
    head = head or Head(n_classes=len(config.classes), epochs=epochs or most, patience=patience, seed=seed)
    with scratch_dir(ws.features_dir, "train") as tmp:
        X_train = cache.stack([(r.sha256, r.variant) for r in requests[: len(train_keys)]], Path(tmp) / "train.npy")
        X_val = cache.stack([(r.sha256, r.variant) for r in requests[len(train_keys) :]], Path(tmp) / "val.npy")
        y_train = np.array([row["label"] for row, _ in train_keys], dtype=np.int64)
        y_val = labels[val_idx]
        head.fit(X_train, y_train, validation=(X_val, y_val), progress=progress, should_stop=should_stop)
        metrics = evaluate(y_val, head.predict_proba(X_val), class_names=config.classes, threshold=config.frame_rule.threshold)
        del X_train, X_val  # release the memory maps before the folder goes

    version = new_version(ws)
    card = {
        "version": version,
        "created_at": version,
        "backbone": backbone.name,
        "backbone_identity": backbone.identity,
        "input_shape": list(backbone.feature_shape),
        "classes": list(config.classes),
        "threshold": config.frame_rule.threshold,
        "frame_rule": {
            "min_ratio": config.frame_rule.min_ratio,
            "threshold": config.frame_rule.threshold,
            "min_frames": config.frame_rule.min_frames,
        },
        "training_data_hash": hashlib.sha256(
            "\n".join(f"{r['sha256']},{r['label']}" for r in readable).encode()
        ).hexdigest(),
        "label_counts": {name: int((labels == i).sum()) for i, name in enumerate(config.classes)},
        "split": {"grouping": GROUPING, "train_frames": int(len(train_idx)), "validation_frames": int(len(val_idx)),
                  "reliability": reliability(groups, val_idx)},
        "augment_copies": augment_copies,
        "epochs_run": int(head.epochs_run_),
        "seed": seed,
        "validation": metrics,
        "skipped_frames": len(skipped),
    }
    save_model(ws, head, card)
    return TrainResult(version, card, skipped, computed)
