"""One-click retraining: labeled frames -> cached features -> head -> evaluated, exported model."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data.config import ProjectConfig
from data.errors import LookoutError
from data.frames import frames_after, labeled_frames_by_id
from data.images import load_rgb
from data.model_card import ModelCard
from data.scratch import scratch_dir
from data.workspace import Workspace
from trainer.augment import Augmenter
from trainer.backbones import Backbone
from trainer.evaluate import calibration_error, evaluate
from trainer.features import FeatureCache, FeatureRequest
from trainer.head import Head
from trainer.model_scores import ModelScores
from trainer.operating_point import operating_points
from trainer.predict import active_backbone, project_backbone
from trainer.progress import Progress, ShouldStop
from trainer.registry import Model, new_version, save_model
from trainer.split import GROUPING, reliability
from trainer.testset import original_request, split_frames
from trainer.tiktok_edits import FormatAugmenter

MIN_PER_CLASS = 5
# Face descriptors are built to ignore brightness and mirroring, so copies add cost, not information.
DEFAULT_AUGMENT_COPIES = {"vgg16": 1, "face": 0}
# The tutorial's vgg16 head has 25M weights and an epoch costs about a second: its 10 epochs.
# The face head is tiny; what it needs is enough gradient steps however few frames are labeled
# (bench/retrain.py measures the curve).
FACE_STEPS = 1000  # bench/retrain.py: F1 rises to 1,000 steps at every label count, then is flat
# Weights averaged over the last 100 steps: retrains of the same labels with another seed differ by
# a frame at most (Head). The vgg16 head's 10 epochs may be a few dozen steps, too few to average.
DEFAULT_SCHEDULE = {"vgg16": {"epochs": 10}, "face": {"steps": FACE_STEPS, "average_steps": 100}}


@dataclass
class TrainResult:
    version: str
    card: ModelCard
    skipped: list[list[str]] = field(default_factory=list)  # [file, reason] for unreadable images
    features_computed: int = 0


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


def augmenter_for(ws: Workspace, backbone: Backbone, no_target_rows: list, seed: int):
    """Face features: copies as TikTok shows a frame (a small window in another video, dark, mirrored,
    re-encoded; bench/robustness.py), with training frames without a target as the other videos.
    vgg16: the tutorial's augmentation."""
    if backbone.name != "face":
        return Augmenter(seed=seed)
    hosts = [(r["sha256"], lambda path=ws.frames_dir / r["file_name"]: load_rgb(path)) for r in no_target_rows]
    return FormatAugmenter(hosts, seed=seed)


@dataclass
class TrainingSet:
    """The labeled frames that could be read, split for good into train and test (trainer/testset.py),
    with the feature requests for the training copies and the test frames."""
    rows: list
    labels: np.ndarray
    groups: list
    train_idx: np.ndarray
    test_idx: np.ndarray
    train_requests: list[FeatureRequest]
    train_labels: np.ndarray
    test_requests: list[FeatureRequest]
    computed: int
    skipped: list
    label_action: int


def training_set(ws: Workspace, cache: FeatureCache, backbone: Backbone, *, augment_copies: int, seed: int,
                 progress: Progress | None = None, should_stop: ShouldStop | None = None) -> TrainingSet:
    """Split the labeled frames and cache the features of every training copy and test frame."""
    split = split_frames(ws, cache, progress=progress, should_stop=should_stop)
    rows, labels = split.rows, split.labels
    check_labels(labels, ws.config.classes)
    train_idx, test_idx = np.flatnonzero(~split.is_test), np.flatnonzero(split.is_test)
    augmenter = augmenter_for(ws, backbone, [rows[i] for i in train_idx if labels[i] == 0], seed)

    def request(row, copy: int) -> FeatureRequest:
        if copy == 0:
            return original_request(ws, row)
        path = ws.frames_dir / row["file_name"]
        return FeatureRequest(row["sha256"], augmenter.variant(row["sha256"], copy),
                              lambda: augmenter(load_rgb(path), sha256=row["sha256"], copy=copy))

    copies = [(i, c) for i in train_idx for c in range(augment_copies + 1)]
    train_requests = [request(rows[i], c) for i, c in copies]
    test_requests = [request(rows[i], 0) for i in test_idx]
    more, _ = cache.ensure(train_requests + test_requests, progress=progress, should_stop=should_stop)
    return TrainingSet(rows, labels, split.groups, train_idx, test_idx, train_requests,
                       np.array([labels[i] for i, _ in copies], dtype=np.int64), test_requests,
                       split.computed + more, split.skipped, split.label_action)


def fit_and_test(head: Head, cache: FeatureCache, data: TrainingSet, scratch_parent: Path, *,
                 progress: Progress | None = None, should_stop: ShouldStop | None = None) -> np.ndarray:
    """Fit the head on the training copies; its probabilities for the test frames. Features are
    stacked into memory-mapped files, so a large workspace is never all in memory."""
    with scratch_dir(scratch_parent, "train") as tmp:
        X_train = cache.stack([(r.sha256, r.variant) for r in data.train_requests], Path(tmp) / "train.npy")
        X_test = cache.stack([(r.sha256, r.variant) for r in data.test_requests], Path(tmp) / "test.npy")
        head.fit(X_train, data.train_labels, progress=progress, should_stop=should_stop)
        test_probs = head.predict_proba(X_test)
        del X_train, X_test  # release the memory maps before the folder goes
    return test_probs


def model_card(version: str, backbone: Backbone, config: ProjectConfig, data: TrainingSet, head: Head,
               test_probs: np.ndarray, *, augment_copies: int, schedule: dict, seed: int) -> ModelCard:
    """What the new version is and how it did on the test frames, at the thresholds the project's
    precision goal chooses."""
    rule, classes, labels = config.frame_rule, config.classes, data.labels
    y_test = labels[data.test_idx]
    points = operating_points(y_test, test_probs, classes, goal=rule.precision_goal, floor=rule.threshold)
    thresholds = {name: point["threshold"] for name, point in points.items()}
    return ModelCard(
        version=version,
        created_at=version,
        backbone=backbone.name,
        backbone_identity=backbone.identity,
        input_shape=tuple(backbone.feature_shape),
        classes=tuple(classes),
        threshold=rule.threshold,
        thresholds=thresholds,
        precision_goal=rule.precision_goal,
        operating_points=points,
        frame_rule={"min_ratio": rule.min_ratio, "threshold": rule.threshold, "min_frames": rule.min_frames},
        training_data_hash=hashlib.sha256(
            "\n".join(f"{r['sha256']},{r['label']}" for r in data.rows).encode()).hexdigest(),
        label_action=data.label_action,
        label_counts={name: int((labels == i).sum()) for i, name in enumerate(classes)},
        split={"grouping": GROUPING, "train_frames": int(len(data.train_idx)), "test_frames": int(len(data.test_idx)),
               "reliability": reliability(data.groups, data.test_idx)},
        augment_copies=augment_copies,
        epochs_run=int(head.epochs_run_),
        schedule=schedule,
        seed=seed,
        validation=evaluate(y_test, test_probs, class_names=classes, thresholds=list(thresholds.values())),
        # bench/robustness.py: a temperature fitted out of fold made it worse (0.085 -> 0.143); kept as measured
        calibration_error=round(calibration_error(y_test > 0, 1 - test_probs[:, 0]), 4) if len(y_test) else None,
        skipped_frames=len(data.skipped),
    )


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
    epochs: passes over the training frames (None: DEFAULT_SCHEDULE for the backbone).
    augment_copies: augmented copies per training frame (None: 1 for vgg16, 0 for face);
    test frames are never augmented. The test set is the workspace's (trainer/testset.py):
    frames once tested are never trained on, so versions compare on the same frames.
    """
    config = ws.config
    if not isinstance(backbone, Backbone):
        backbone = project_backbone(ws, backbone)
    if augment_copies is None:
        augment_copies = DEFAULT_AUGMENT_COPIES.get(backbone.name, 1)
    labeled = labeled_frames_by_id(ws.db)
    check_labels(np.array([r["label"] for r in labeled], dtype=int), config.classes)  # before any slow work
    cache = FeatureCache(ws.feature_cache_dir, backbone)
    data = training_set(ws, cache, backbone, augment_copies=augment_copies, seed=seed,
                        progress=progress, should_stop=should_stop)
    schedule = {"epochs": epochs} if epochs else DEFAULT_SCHEDULE.get(backbone.name, {"epochs": 50})
    head = head or Head(n_classes=len(config.classes), seed=seed, **schedule)
    test_probs = fit_and_test(head, cache, data, ws.features_dir, progress=progress, should_stop=should_stop)
    card = model_card(new_version(ws), backbone, config, data, head, test_probs,
                      augment_copies=augment_copies, schedule=schedule, seed=seed)
    path = save_model(ws, head, card)
    # Scored now, while the job shows progress, so that review after activating this version starts warm.
    ModelScores(ws, Model(head, card, path / "model.h5"), backbone).probabilities(
        frames_after(ws.db, 0), compute=False, progress=progress, should_stop=should_stop, stage="scoring frames for review")
    return TrainResult(card.version, card, data.skipped, data.computed)


def extract_features(ws: Workspace, backbone: str | None = None, *, progress: Progress | None = None,
                     should_stop: ShouldStop | None = None) -> tuple[int, list[tuple[str, str]]]:
    """Cache every frame's features (labeled or not) with `backbone` (default: the active model's, else
    the project's), ahead of training, review and the map. Returns how many were computed, and
    (file, reason) for images that could not be read."""
    chosen = project_backbone(ws, backbone) if backbone else active_backbone(ws) or project_backbone(ws)
    rows = frames_after(ws.db, 0)
    computed, failed = FeatureCache(ws.feature_cache_dir, chosen).ensure(
        [original_request(ws, row) for row in rows], progress=progress, should_stop=should_stop)
    names = {row["sha256"]: row["file_name"] for row in rows}
    return computed, [(names[sha], reason) for sha, reason in failed.items()]
