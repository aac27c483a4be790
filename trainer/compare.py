"""Model versions scored on the same test frames, with bootstrap intervals, and a guard
against activating a version that is worse than the active one.

The bootstrap resamples whole leakage groups (a video's frames rise and fall together),
and the same resamples score every version, so the interval of a difference is paired.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from data.errors import LookoutError
from data.workspace import Workspace
from trainer.backbones import Backbone
from trainer.evaluate import decide
from trainer.features import FeatureCache
from trainer.predict import backbone_for
from trainer.progress import Progress
from trainer.registry import activate, active_version, list_models, load_model
from trainer.testset import split_frames

RESAMPLES = 1000
METRICS = ("precision", "recall", "f1")
METRIC_NAMES = {"precision": "precision", "recall": "recall", "f1": "F1"}  # as people write them


@dataclass
class ChangedFrame:
    frame_id: int
    file_name: str
    label: str
    predicted: dict[str, str]  # version -> class


@dataclass
class Comparison:
    versions: list[str]  # the first is the reference (the active version, when there is one)
    frames: int
    targets: list[str]
    # version -> target -> metric -> (value, low, high) over the 95% bootstrap interval
    scores: dict[str, dict[str, dict[str, tuple[float, float, float]]]]
    # version -> target -> metric -> (low, high) of (this version - the reference)
    differences: dict[str, dict[str, dict[str, tuple[float, float]]]]
    changed: list[ChangedFrame] = field(default_factory=list)

    def worse(self, version: str) -> list[str]:
        """What got worse in `version` than in the reference, beyond the interval, in words."""
        reference = self.versions[0]
        sentences = []
        for target in self.targets:
            for metric in METRICS:
                low, high = self.differences[version][target][metric]
                if high < 0:
                    before, after = self.scores[reference][target][metric][0], self.scores[version][target][metric][0]
                    sentences.append(
                        f"{target} {METRIC_NAMES[metric]} fell from {before:.2f} to {after:.2f} "
                        f"on the same {self.frames} test frames "
                        f"(95% sure it fell by {-high:.2f} to {-low:.2f})"
                    )
        return sentences

    def table(self) -> list[dict]:
        return [
            {"version": v, "target": t,
             **{METRIC_NAMES[m]: f"{s[0]:.2f} ({s[1]:.2f}–{s[2]:.2f})" for m, s in self.scores[v][t].items()}}
            for v in self.versions for t in self.targets
        ]


def _rates(weights: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 for each row of weights (one resample a row)."""
    tp = weights @ (predicted & actual)
    fp = weights @ (predicted & ~actual)
    fn = weights @ (~predicted & actual)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {"precision": precision, "recall": recall, "f1": f1}


def compare_versions(ws: Workspace, versions: list[str], *, backbones: dict[str, Backbone] | None = None,
                     progress: Progress | None = None) -> Comparison:
    """Score `versions` on the workspace's current test set. backbones: loaded ones to reuse, by identity."""
    backbones = dict(backbones or {})
    rule, classes = ws.config.frame_rule, ws.config.classes
    decisions, splits = {}, {}  # one split per backbone identity: versions on one backbone share its features
    for done, version in enumerate(versions):
        if progress:
            progress("versions scored", done, len(versions))
        model = load_model(ws, version)
        if model.classes != classes:
            raise LookoutError(f"Model {version} knows {list(model.classes)}, this project {list(classes)}; "
                               "only versions of this project's classes can be compared.")
        features_of = model.card.backbone_identity or model.card.backbone  # a tutorial head's card names no identity
        if features_of not in backbones:
            backbones[features_of] = backbone_for(ws, model)
        cache = FeatureCache(ws.feature_cache_dir, backbones[features_of])
        if features_of not in splits:
            splits[features_of] = split_frames(ws, cache, progress=progress)
        split = splits[features_of]
        rows = split.test_rows
        if not rows:
            raise LookoutError("No labeled frame is on the test side yet; label frames from more videos, then train.")
        X = np.stack([cache.get(r["sha256"]) for r in rows])
        decisions[version] = decide(model.head.predict_proba(X), model.thresholds(rule))
    rows = split.test_rows
    actual = split.labels[split.is_test]
    groups = split.groups[split.is_test]
    unique, index = np.unique(groups, return_inverse=True)
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(unique), size=(RESAMPLES, len(unique)))
    group_weights = np.stack([np.bincount(p, minlength=len(unique)) for p in picks])
    weights = np.vstack([np.ones(len(unique)), group_weights])[:, index].astype(float)  # row 0: the test set as is
    targets = list(classes[1:])
    scores, samples = {}, {}
    for version, predicted in decisions.items():
        scores[version], samples[version] = {}, {}
        for t, target in enumerate(targets, start=1):
            rates = _rates(weights, predicted == t, actual == t)
            samples[version][target] = rates
            scores[version][target] = {
                m: (float(r[0]), float(np.percentile(r[1:], 2.5)), float(np.percentile(r[1:], 97.5))) for m, r in rates.items()
            }
    reference = versions[0]
    differences = {
        v: {t: {m: (float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5)))
                for m in METRICS for d in [samples[v][t][m][1:] - samples[reference][t][m][1:]]} for t in targets}
        for v in versions
    }
    changed = [
        ChangedFrame(r["id"], r["file_name"], classes[int(actual[i])], {v: classes[int(decisions[v][i])] for v in versions})
        for i, r in enumerate(rows) if len({int(decisions[v][i]) for v in versions}) > 1
    ]
    return Comparison(list(versions), len(rows), targets, scores, differences, changed)


def default_versions(ws: Workspace) -> list[str]:
    """The active version and the newest other one (or the two newest when none is active)."""
    newest = [card.version for card in list_models(ws)]
    active = active_version(ws)
    if active in newest:
        others = [v for v in newest if v != active]
        return [active, *others[:1]]
    return list(reversed(newest[:2]))


def check_not_worse(ws: Workspace, version: str, *, backbones: dict[str, Backbone] | None = None) -> Comparison | None:
    """Raise when `version` is worse than the active one on the same test frames; None when
    there is nothing to compare with (no active version, or it is `version`)."""
    active = active_version(ws)
    if active is None or active == version:
        return None
    try:
        comparable = load_model(ws, active).classes == ws.config.classes
    except LookoutError:
        comparable = False  # a broken active model: replacing it is the fix
    if not comparable:
        return None
    comparison = compare_versions(ws, [active, version], backbones=backbones)
    if worse := comparison.worse(version):
        raise LookoutError(
            f"Model {version} is worse than the active {active}: " + "; ".join(worse)
            + ". Activate it anyway with --force (on the Train page: 'Activate anyway')."
        )
    return comparison


def activate_checked(ws: Workspace, version: str, *, force: bool = False,
                     backbones: dict[str, Backbone] | None = None) -> None:
    """Activate `version` unless it is worse than the active one (force: activate all the same)."""
    if not force:
        check_not_worse(ws, version, backbones=backbones)
    activate(ws, version)


def format_comparison(comparison: Comparison) -> str:
    lines = [f"Scored on the same {comparison.frames} test frames (95% bootstrap intervals in brackets):",
             f"{'version':<20} {'target':<16} {'precision':>18} {'recall':>18} {'F1':>18}"]
    for row in comparison.table():  # keyed as people write the metrics: "F1"
        lines.append(f"{row['version']:<20} {row['target']:<16} {row['precision']:>18} {row['recall']:>18} {row['F1']:>18}")
    for version in comparison.versions[1:]:
        worse = comparison.worse(version)
        lines.append(f"{version}: " + ("worse: " + "; ".join(worse) if worse else
                                       f"not worse than {comparison.versions[0]} beyond the intervals"))
    lines.append(f"{len(comparison.changed)} test frames are called differently:")
    lines.extend(f"  {c.file_name} (labeled {c.label}): " + ", ".join(f"{v} says {p}" for v, p in c.predicted.items())
                 for c in comparison.changed)
    return "\n".join(lines)
