"""Scoring a video: frames sampled at the project's rate, near-identical ones (anywhere in
the video) scored once, in batches through the model's backbone and head; probabilities
stored per model version.

Frames stream through in batches, so memory does not grow with the clip's length.
The distinct frames of videos that were positive or uncertain are kept in the
workspace, unlabeled and with provenance, for the review queue. Frames go through
the feature cache like imported ones (keyed by their stored JPEG), so scoring a video
again with a new model, or training on its frames once labeled, computes nothing twice.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np

from data.capture import frame_file_name, record_video
from data.errors import LookoutError
from data.frames import FrameStore, NewFrame, frames_by_id
from data.images import decode_image, encode_jpeg, hash_distance, sha256_bytes
from data.monitor_records import predictions_of, record_video_score, replace_predictions, stored_score, video_row
from data.schema import transaction
from data.scratch import scratch_dir
from data.video import NEAR_DUPLICATE_BITS, SampledFrame, open_video, sample_video
from data.workspace import Workspace
from monitor.alerts import detection_alert, record_alert
from monitor.verdict import Verdict, video_verdicts
from trainer.backbones import Backbone
from trainer.features import ORIGINAL, FeatureCache, FeatureRequest
from trainer.registry import Model

T, R = TypeVar("T"), TypeVar("R")
BATCH = 16
MAX_WAITING = 64
UNCERTAIN_MARGIN = 0.2  # a frame this close to the threshold makes the video worth a human look


@dataclass
class VideoScore:
    video_id: int
    path: str
    model_version: str
    times: list[float]  # one per distinct frame
    represents: list[int]
    probs: list[list[float]]
    verdicts: list[Verdict]
    kept_frames: list[int] = field(default_factory=list)  # frame ids stored for review
    forward_passes: int = 0  # distinct looks run through the model

    @property
    def sampled_frames(self) -> int:
        return sum(self.represents)

    def frame_calls(self, target: int, threshold: float) -> list[int]:
        """The tutorial's per-frame 0/1 list, one entry per sampled frame."""
        return [int(p[target] >= threshold) for p, n in zip(self.probs, self.represents) for _ in range(n)]

    def to_json(self) -> dict:
        return {
            "video": self.path,
            "video_id": self.video_id,
            "model_version": self.model_version,
            "frames": [
                {"time_s": t, "represents": n, "probabilities": [round(v, 4) for v in p]}
                for t, n, p in zip(self.times, self.represents, self.probs)
            ],
            "verdicts": [asdict(v) for v in self.verdicts],
        }


class OncePerLook:
    """Scores a video's distinct frames in batches; a frame that looks like one already seen
    anywhere in the video (the shot it cuts back to) reuses that score instead of a forward pass.

    Frames come back in order with their probabilities as soon as their look is scored;
    at most MAX_WAITING frames are held, so memory stays flat however long the clip.
    """

    def __init__(self, model: Model, features: Callable[[list[SampledFrame]], np.ndarray]):
        self.model, self.features = model, features
        self.looks: list[int] = []  # perceptual hash of each distinct look
        self.probs: list[list[float] | None] = []  # per look, once scored
        self.batch: list[SampledFrame] = []  # the newest looks, not scored yet
        self.waiting: deque[tuple[SampledFrame, int]] = deque()  # frames in order, with their look

    @property
    def forward_passes(self) -> int:
        return len(self.looks) - len(self.batch)

    def add(self, frame: SampledFrame) -> list[tuple[SampledFrame, list[float]]]:
        look = next((i for i, h in enumerate(self.looks) if hash_distance(h, frame.phash) < NEAR_DUPLICATE_BITS), None)
        if look is None:
            look = len(self.looks)
            self.looks.append(frame.phash)
            self.probs.append(None)
            self.batch.append(frame)
        self.waiting.append((frame, look))
        if len(self.batch) == BATCH or len(self.waiting) >= MAX_WAITING:
            self._score_batch()
        return self._ready()

    def finish(self) -> list[tuple[SampledFrame, list[float]]]:
        self._score_batch()
        return self._ready()

    def _score_batch(self) -> None:
        if not self.batch:
            return
        rows = self.model.head.predict_proba(self.features(self.batch))
        first = len(self.looks) - len(self.batch)  # the batch holds the newest looks
        for i, row in enumerate(rows):
            self.probs[first + i] = [float(v) for v in row]
        self.batch.clear()

    def _ready(self) -> list[tuple[SampledFrame, list[float]]]:
        ready = []
        while self.waiting and self.probs[self.waiting[0][1]] is not None:
            frame, look = self.waiting.popleft()
            ready.append((frame, self.probs[look]))
        return ready


def cached_features(ws: Workspace, backbone: Backbone) -> Callable[[list[SampledFrame]], np.ndarray]:
    """Features of sampled frames as they will be stored (JPEG), through the workspace's feature cache."""
    cache = FeatureCache(ws.feature_cache_dir, backbone)

    def features(frames: list[SampledFrame]) -> np.ndarray:
        jpegs = [encode_jpeg(frame.rgb) for frame in frames]
        requests = [FeatureRequest(sha256_bytes(jpeg), ORIGINAL, partial(_decoded, jpeg)) for jpeg in jpegs]
        features, kept, failed = cache.load(requests)
        if len(kept) != len(requests):  # never score a shorter stack: each probability would land on the wrong frame
            raise LookoutError(f"A sampled frame could not be read back for scoring: {next(iter(failed.values()))}")
        return features

    return features


def _decoded(jpeg: bytes) -> np.ndarray:
    return np.asarray(decode_image(jpeg, name="a sampled frame"))


def in_order(backbone: Backbone, work: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
    """work(item) for each item, results in order. On a cluster (backbone.lanes > 1) several run at once,
    so that every worker has frames to embed while this process decodes the next video."""
    if backbone.lanes == 1:
        yield from map(work, items)
        return
    with ThreadPoolExecutor(backbone.lanes, thread_name_prefix="score") as pool:
        yield from pool.map(work, items)


def is_uncertain(score: VideoScore, thresholds: np.ndarray) -> bool:
    probs = np.asarray(score.probs)
    return bool(len(probs)) and bool((np.abs(probs[:, 1:] - thresholds) <= UNCERTAIN_MARGIN).any())


def score_video(
    ws: Workspace, model: Model, backbone: Backbone, path: Path, *, video_id: int | None = None, keep_frames: bool = True,
    alert: bool = False,
) -> VideoScore:
    """Score every sampled frame of `path` and store the result under the model's version.

    alert: queue one alert per detection in the same transaction as the score (the monitor does),
    so that no crash can keep the one and lose the other.
    """
    path = Path(path)
    model.check_backbone(backbone)
    open_video(path)  # a missing or unreadable file fails here, before anything is recorded
    rule = ws.config.frame_rule
    times, represents, probs, sizes, phashes = [], [], [], [], []
    scorer = OncePerLook(model, cached_features(ws, backbone))
    with scratch_dir(ws.root, "score") as spool:

        def collect(scored):
            for frame, row in scored:
                (Path(spool) / f"{len(times)}.jpg").write_bytes(encode_jpeg(frame.rgb))
                times.append(frame.timestamp_s)
                phashes.append(frame.phash)
                represents.append(frame.represents)
                probs.append(row)
                sizes.append(frame.rgb.shape[:2])

        for frame in sample_video(path, fps=ws.config.fps):
            collect(scorer.add(frame))
        collect(scorer.finish())
        if video_id is None:  # recorded only once the whole video was read
            video_id = record_video(ws, path, source="score")
        thresholds = model.thresholds(rule)
        verdicts = video_verdicts(np.array(probs).reshape(-1, len(model.classes)), np.array(represents, int),
                                  classes=model.classes, rule=rule, thresholds=thresholds)
        score = VideoScore(video_id, str(path), model.version, times, represents, probs, verdicts,
                           forward_passes=scorer.forward_passes)
        keep = keep_frames and (any(v.positive for v in verdicts) or is_uncertain(score, thresholds))
        _store(ws, score, Path(spool) if keep else None, path, sizes, phashes, alert=alert)
    return score


def alert_on_stored_score(ws: Workspace, video_id: int, model: Model) -> int:
    """Queue the alerts a score stored without them calls for (a video scored by hand, then met by the
    monitor); returns how many are new. The monitor alerts once per detection, whoever scored first."""
    with ws.write_lock(), transaction(ws.db):
        stored = stored_score(ws.db, video_id, model.version)
        rows = predictions_of(ws.db, video_id, model.version)
        probs = [json.loads(r["probs_json"]) for r in rows]
        return _queue_alerts(ws, video_id, model.version, [Verdict(**v) for v in stored["verdicts"]],
                             probs, [r["frame_id"] for r in rows])


def _queue_alerts(ws: Workspace, video_id: int, model_version: str, verdicts: list[Verdict], probs: list[list[float]],
                  frame_ids: list[int | None]) -> int:
    video = video_row(ws.db, video_id)
    queued = 0
    for verdict in verdicts:
        if verdict.positive:
            best = _best_frame(ws, probs, frame_ids, verdict.target)
            queued += record_alert(ws.db, video_id, verdict.target, model_version, detection_alert(video, verdict, best))
    return queued


def _best_frame(ws: Workspace, probs: list[list[float]], frame_ids: list[int | None], target: int) -> Path | None:
    kept = [(p[target], frame_id) for p, frame_id in zip(probs, frame_ids) if frame_id is not None]
    if not kept:
        return None
    frame_id = max(kept)[1]
    return ws.frames_dir / frames_by_id(ws.db, [frame_id])[0]["file_name"]


def _store(ws: Workspace, score: VideoScore, spool: Path | None, video: Path, sizes: list, phashes: list, *,
           alert: bool) -> None:
    with ws.write_lock(), FrameStore(ws.db, ws.frames_dir) as store, transaction(ws.db):
        predictions = []
        for i, (t, n, p) in enumerate(zip(score.times, score.represents, score.probs)):
            frame_id = None
            if spool is not None:
                jpeg = (spool / f"{i}.jpg").read_bytes()
                h, w = sizes[i]
                frame_id, _ = store.add(
                    NewFrame(jpeg, sha256_bytes(jpeg), frame_file_name(video, t), w, h, origin="monitor",
                             video_id=score.video_id, timestamp_s=t, represents=n, phash=f"{phashes[i]:016x}")
                )
                score.kept_frames.append(frame_id)
            predictions.append((t, n, frame_id, p))
        replace_predictions(ws.db, score.video_id, score.model_version, predictions)
        record_video_score(ws.db, score.video_id, score.model_version, score.sampled_frames,
                           [asdict(v) for v in score.verdicts])
        if alert:
            _queue_alerts(ws, score.video_id, score.model_version, score.verdicts, score.probs, score.kept_frames)

