"""The review queue: which frames a journalist sees next, each with the reason in words.

Strategies (labeler.strategies) are mixed by shares into one queue, stored in the
database so it stays put across app reruns, and rebuilt when the active model
changes. Near-identical frames from one video come as one item with their count.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from data import review_queue
from data.errors import LookoutError
from data.frames import frames_labeled_for, labeled_frames_by_id, unlabeled_frames
from data.images import hash_distance
from data.labels import set_labels
from data.workspace import Workspace
from labeler.frame_features import compact_features, frame_features
from labeler.label_check import out_of_fold_probabilities
from labeler.strategies import (
    confident_positive_sampling,
    label_issue_sampling,
    random_sampling,
    representative_sampling,
    uncertainty_sampling,
)
from trainer.backbones import is_face_features
from trainer.model_scores import ModelScores

STRATEGIES = ("uncertain", "false_positive", "mislabeled", "audit", "cold_start")
DEFAULT_SHARES = {"uncertain": 0.5, "false_positive": 0.2, "mislabeled": 0.1, "audit": 0.2}
DUPLICATE_BITS = 4
UNCERTAIN_CANDIDATES = 200  # frames nearest the decision whose dropout draws are compared
COLD_START_SAMPLE = 5000  # frames clustered for the first batch, at most


AUDIT_REASON = "A random check of the monitor's frames, so that its accuracy figures stay honest."
STRATEGY_NAMES = {  # what the review page calls each strategy, in a journalist's words
    "uncertain": "the model cannot decide",
    "false_positive": "check before it alerts",
    "mislabeled": "a label that may be wrong",
    "audit": "random check",
    "cold_start": "typical frame",
}


@dataclass
class QueueItem:
    frame_id: int
    file_name: str
    strategy: str
    score: float
    reason: str
    probability: float | None = None  # the model's probability for the most likely target
    duplicates: list[int] = field(default_factory=list)  # near-identical frames this item stands for
    video_id: int | None = None
    timestamp_s: float | None = None

    def to_json(self) -> dict:
        return self.__dict__.copy()


def collapse_duplicates(rows: list) -> list[tuple[object, list[int]]]:
    """(representative row, ids of its near-identical frames from the same video)."""
    clusters: list[tuple[object, list[int]]] = []
    last_by_video: dict[int, tuple[object, list[int]]] = {}
    for row in rows:
        video, phash = row["video_id"], row["phash"]
        previous = last_by_video.get(video) if video is not None else None
        before = previous[0]["phash"] if previous else None
        if phash and before and hash_distance(int(phash, 16), int(before, 16)) <= DUPLICATE_BITS:
            previous[1].append(row["id"])
            continue
        cluster = (row, [])
        clusters.append(cluster)
        if video is not None:
            last_by_video[video] = cluster
    return clusters


def _interleave(ranked: dict[str, list[QueueItem]], shares: dict[str, float], limit: int) -> list[QueueItem]:
    """Deterministic weighted round-robin: each place goes to the strategy furthest behind its share."""
    taken = {name: 0 for name in ranked}
    cursors = {name: 0 for name in ranked}
    seen: set[int] = set()
    out: list[QueueItem] = []
    while len(out) < limit:
        open_ = [n for n in ranked if cursors[n] < len(ranked[n]) and shares.get(n, 0) > 0]
        if not open_:
            break
        name = max(open_, key=lambda n: shares[n] * (len(out) + 1) - taken[n])
        item = ranked[name][cursors[name]]
        cursors[name] += 1
        if item.frame_id in seen:
            continue
        seen.add(item.frame_id)
        taken[name] += 1
        out.append(item)
    return out


def build_queue(
    ws: Workspace, *, strategy: str = "mixed", limit: int = 50, model=None, backbone=None,
    shares: dict[str, float] | None = None, progress=None,
) -> list[QueueItem]:
    """Rank frames for review. strategy: "mixed" or one of STRATEGIES.

    model/backbone: the active model and its backbone (None: no model yet, so cold start).
    progress(stage, done, total): called as the slow parts go (features, the label check).
    """
    progress = progress or (lambda stage, done, total: None)
    if strategy != "mixed" and strategy not in STRATEGIES:
        raise LookoutError(f"Queue strategy {strategy!r} is not one of mixed, {', '.join(STRATEGIES)}.")
    classes = ws.config.classes
    unlabeled = unlabeled_frames(ws.db)
    clusters = collapse_duplicates(unlabeled)
    if model is None and not clusters:
        return []  # no model and nothing unlabeled: nothing to rank, no backbone to load
    if model is None:
        from trainer.predict import project_backbone

        backbone = backbone or project_backbone(ws)
    dup = {row["id"]: d for row, d in clusters}
    representatives = [row for row, _ in clusters]
    if model is None or strategy == "cold_start":
        if len(representatives) > COLD_START_SAMPLE:  # clusters of a random sample are the typical frames too
            chosen = np.random.default_rng(0).choice(len(representatives), COLD_START_SAMPLE, replace=False)
            representatives = [representatives[i] for i in sorted(chosen)]
        X, kept = compact_features(ws, backbone, representatives, progress=progress)
        progress("ranking frames", 0, 1)
        picks = representative_sampling(X, n=min(limit, len(X))) if len(X) else []
        why = "A typical frame of a group of similar ones" + (": there is no model yet." if model is None else ".")
        return [_item(kept[i], "cold_start", 1.0, why, None, dup) for i in picks]

    ranked: dict[str, list[QueueItem]] = {}
    probs, kept = ModelScores(ws, model, backbone).probabilities(representatives, progress=progress)
    progress("ranking frames", 0, 1)
    best = probs[:, 1:].max(axis=1) if len(probs) else np.zeros(0)
    threshold = model.thresholds(ws.config.frame_rule)[probs[:, 1:].argmax(axis=1)] if len(probs) else np.zeros(0)
    best_name = [classes[int(i) + 1] for i in probs[:, 1:].argmax(axis=1)] if len(probs) else []

    if strategy in ("mixed", "uncertain") and len(probs):
        ranked["uncertain"] = _uncertain(ws, model, backbone, kept, probs, best, threshold, best_name, limit, dup)
    if strategy in ("mixed", "false_positive") and len(probs):
        order = confident_positive_sampling(probs, n=len(probs))
        alerted = {r[0] for r in ws.db.execute("SELECT DISTINCT video_id FROM alerts")}
        ranked["false_positive"] = [
            _item(kept[i], "false_positive", float(best[i]), _positive_reason(kept[i], best_name[i], best[i], alerted),
                  float(best[i]), dup)
            for i in order if best[i] >= threshold[i]
        ]
    if strategy in ("mixed", "audit") and len(probs):
        monitor = [i for i, r in enumerate(kept) if r["origin"] == "monitor"]
        order = random_sampling(len(monitor), n=len(monitor), seed=len(kept))
        ranked["audit"] = [
            _item(kept[monitor[j]], "audit", 0.0, AUDIT_REASON, float(best[monitor[j]]), dup)
            for j in order
        ]
    if strategy in ("mixed", "mislabeled"):
        ranked["mislabeled"] = _mislabeled(ws, backbone, limit, progress, model)
    if strategy != "mixed":
        return ranked.get(strategy, [])[:limit]
    return _interleave(ranked, shares or DEFAULT_SHARES, limit)


def _uncertain(ws, model, backbone, kept, probs, best, threshold, best_name, limit, dup) -> list[QueueItem]:
    """Frames the model's dropout draws disagree on. Only the frames nearest the decision are drawn
    (drawing 20 times over 100,000 vgg16 frames would take the tutorial head ten minutes)."""
    near = np.argsort(np.abs(best - threshold), kind="stable")[: max(UNCERTAIN_CANDIDATES, 10 * limit)]
    X, rows = frame_features(ws, backbone, [kept[i] for i in near])
    position = {r["id"]: i for i, r in enumerate(kept)}
    near = np.array([position[r["id"]] for r in rows], dtype=int)
    if not len(near):
        return []
    samples = model.head.sample_proba(X)
    order = uncertainty_sampling(X, probs=probs[near], samples=samples, n=min(limit, len(X)))
    low, high = np.percentile(samples[..., 1:].max(axis=2), [10, 90], axis=0)
    return [
        _item(kept[i], "uncertain", float(1 - abs(best[i] - threshold[i])),
              _uncertain_reason(best[i], best_name[i], low[j], high[j], threshold[i]), float(best[i]), dup)
        for j, i in ((j, near[j]) for j in order)
        if low[j] < threshold[i] < high[j] or abs(best[i] - threshold[i]) < 0.35
    ]


def _uncertain_reason(best: float, name: str, low: float, high: float, threshold: float) -> str:
    if low < threshold < high:
        return (f"The active version cannot decide whether this is {name}: its guesses run from {low:.2f} to "
                f"{high:.2f}, because few frames like this are labeled.")
    return f"The active version cannot decide whether this is {name} ({best:.2f})."


def _positive_reason(row, name: str, probability: float, alerted: set[int]) -> str:
    """"Confirm before it alerts" was said of frames whose video had alerted already, and of imported frames,
    which never alert."""
    says = f"The active version says {name} ({probability:.2f})"
    if row["video_id"] in alerted:
        return f"{says}, and this video was alerted: was the alert right?"
    if row["origin"] == "monitor":
        return f"{says}: if it is wrong, videos like this one alert falsely. Confirm it."
    return f"{says}: if it is wrong, the monitor would alert on frames like this. Confirm it."


def _mislabeled(ws: Workspace, backbone, limit: int, progress, model=None) -> list[QueueItem]:
    classes = ws.config.classes
    rows = labeled_frames_by_id(ws.db)
    X, kept = compact_features(ws, backbone, rows, progress=progress)
    labels = np.array([r["label"] for r in kept], dtype=int)
    if len(kept) < 20 or len(set(labels)) < 2 or min(np.bincount(labels)[np.bincount(labels) > 0]) < 4:
        return []
    oof = out_of_fold_probabilities(X, labels, kept, n_classes=len(classes), progress=progress)
    answered = {r["id"] for r in frames_labeled_for(ws.db, "mislabeled")}  # a person confirmed or fixed it
    # With the face backbone a frame where no face was found says nothing about its label (a Trump frame
    # from behind): 16 of the first 27 "check the label" items were such frames.
    faceless = ~X[:, :, -1].any(axis=1) if is_face_features(X.shape[1:]) else np.zeros(len(kept), bool)
    chosen = [i for i in label_issue_sampling(oof, labels, n=limit + len(answered) + int(faceless.sum()))
              if kept[i]["id"] not in answered and not faceless[i]][:limit]
    active = _active_says(ws, model, backbone, [kept[i] for i in chosen])
    items = []
    for i in chosen:
        guess = int(oof[i].argmax())
        items.append(_item(
            kept[i], "mislabeled", float(oof[i, guess]),
            f"Labeled {classes[labels[i]]}, but a check model trained without this frame says {classes[guess]} "
            f"({oof[i, guess]:.2f}){active.get(kept[i]['id'], '')}. Check the label.",
            float(oof[i, 1:].max()), {},
        ))
    return items


def _active_says(ws: Workspace, model, backbone, rows: list) -> dict[int, str]:
    """'; the active version ... says X (0.95)' per frame id: "Which face?" shows the active version's scores,
    and a reason that quoted only the check model (0.91 no target beside Trump 0.95 there) read as a contradiction."""
    if model is None or not rows:
        return {}
    probs, scored = ModelScores(ws, model, backbone).probabilities(rows, compute=False)
    names = ws.config.classes
    return {row["id"]: f"; the active version, which learned from this label, says {names[int(p.argmax())]} ({p.max():.2f})"
            for row, p in zip(scored, probs)}


def _item(row, strategy, score, reason, probability, duplicates) -> QueueItem:
    return QueueItem(row["id"], row["file_name"], strategy, score, reason, probability,
                     list(duplicates.get(row["id"], [])), row["video_id"], row["timestamp_s"])


def save_queue(ws: Workspace, items: list[QueueItem], model_version: str | None) -> None:
    review_queue.replace_queue(ws.db, [item.to_json() for item in items], model_version)


def stored_queue(ws: Workspace) -> tuple[str | None, list[QueueItem]]:
    """(model version it was built with, items still to review, skipped ones last): unlabeled frames, and
    labels that may be wrong until someone answers them (confirming the label answers it too)."""
    rows = review_queue.queued(ws.db)
    version = rows[0]["model_version"] if rows else None
    items = [
        QueueItem(r["frame_id"], r["file_name"], r["strategy"], r["score"], r["reason"], r["probability"],
                  json.loads(r["duplicates_json"]), r["video_id"], r["timestamp_s"])
        for r in rows if not r["answered"] and (r["label"] is None or r["strategy"] == "mislabeled")
    ]
    return version, items


def skip(ws: Workspace, frame_id: int) -> None:
    """Move an item to the end; skipped items come back after the rest."""
    review_queue.skip(ws.db, frame_id)


def wilson_interval(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    if total == 0:
        return 0.0, 1.0
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def kept_queue(ws: Workspace, version: str | None) -> list[QueueItem] | None:
    """The stored queue if it still has items and was built with model `version`, else None."""
    stored_version, items = stored_queue(ws)
    return items if items and stored_version == version else None


def current_queue(ws: Workspace, *, model=None, backbone=None, limit: int = 50, progress=None) -> list[QueueItem]:
    """The stored queue while it still has items and the active model is the one it was built with;
    otherwise (first use, queue used up, or after a retrain) a new one."""
    version = model.version if model is not None else None
    if (items := kept_queue(ws, version)) is not None:
        return items
    items = build_queue(ws, limit=limit, model=model, backbone=backbone, progress=progress)
    save_queue(ws, items, version)
    return items


def rank_more(ws: Workspace, *, model=None, backbone=None, limit: int = 50, progress=None) -> int:
    """Rank the next items while the stored queue is still worked on, and add them after it (an item still
    queued is not repeated): the queue no longer runs out and makes a reviewer wait a minute for the next.
    Returns how many were added (0: nothing more needs a person, with this model and these frames)."""
    version = model.version if model is not None else None
    stored_version, left = stored_queue(ws)
    queued = {item.frame_id for item in left} if stored_version == version else set()
    ranked = build_queue(ws, limit=limit + len(queued), model=model, backbone=backbone, progress=progress)
    items = [item for item in ranked if item.frame_id not in queued][:limit]
    review_queue.append_queue(ws.db, [item.to_json() for item in items], version)
    return len(items)


def label_item(
    ws: Workspace, item: QueueItem, label: int, *, with_duplicates: bool = True, who: str | None = None,
    session: str | None = None,
) -> int:
    """Label a queue item (and, by default, the near-identical frames it stands for) as one action."""
    frames = [item.frame_id, *(item.duplicates if with_duplicates else [])]
    return set_labels(ws, {f: label for f in frames}, source="review", who=who, session=session, reason=item.strategy)


@dataclass(frozen=True)
class AuditEstimate:
    audited: int
    precision: tuple[float, float, float]  # estimate, low, high (95% Wilson interval)
    recall: tuple[float, float, float]


def audit_estimate(ws: Workspace, *, model, backbone, target: int = 1) -> AuditEstimate:
    """Precision and recall of the model on frames labeled through the random audit only,
    the one sample the other strategies do not bias."""
    rows = frames_labeled_for(ws.db, "audit")
    probs, kept = ModelScores(ws, model, backbone).probabilities(rows)
    threshold = model.thresholds(ws.config.frame_rule)[target - 1]
    predicted = probs[:, target] >= threshold
    actual = np.array([r["label"] == target for r in kept], dtype=bool)
    tp, fp, fn = int((predicted & actual).sum()), int((predicted & ~actual).sum()), int((~predicted & actual).sum())

    def estimate(hits: int, total: int) -> tuple[float, float, float]:
        return (hits / total if total else 0.0, *wilson_interval(hits, total))

    return AuditEstimate(len(kept), estimate(tp, tp + fp), estimate(tp, tp + fn))
