"""Scoring a video: frames sampled at the project's rate, near-identical ones scored once,
in batches through the model's backbone and head; probabilities stored per model version.

Frames stream through in batches, so memory does not grow with the clip's length.
The distinct frames of videos that were positive or uncertain are kept in the
workspace, unlabeled and with provenance, for the review queue.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from data.capture import frame_file_name, record_video
from data.frames import FrameStore, NewFrame
from data.images import encode_jpeg, sha256_bytes
from data.schema import now, transaction
from data.video import sample_video
from data.workspace import Workspace
from monitor.verdict import Verdict, video_verdicts
from trainer.backbones import Backbone
from trainer.registry import Model

BATCH = 16
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


def is_uncertain(score: VideoScore, threshold: float) -> bool:
    probs = np.asarray(score.probs)
    return bool(len(probs)) and bool((np.abs(probs[:, 1:] - threshold) <= UNCERTAIN_MARGIN).any())


def score_video(
    ws: Workspace, model: Model, backbone: Backbone, path: Path, *, video_id: int | None = None, keep_frames: bool = True
) -> VideoScore:
    """Score every sampled frame of `path` and store the result under the model's version."""
    path = Path(path)
    model.check_backbone(backbone)
    if video_id is None:
        video_id = record_video(ws, path, source="score")
    rule = ws.config.frame_rule
    times, represents, probs, sizes = [], [], [], []
    with tempfile.TemporaryDirectory(dir=ws.root, prefix=".score-") as spool:
        batch = []

        def flush():
            scores = model.head.predict_proba(backbone.embed([f.rgb for f in batch]))
            for frame, row in zip(batch, scores):
                (Path(spool) / f"{len(times)}.jpg").write_bytes(encode_jpeg(frame.rgb))
                times.append(frame.timestamp_s)
                represents.append(frame.represents)
                probs.append([float(v) for v in row])
                sizes.append(frame.rgb.shape[:2])
            batch.clear()

        for frame in sample_video(path, fps=ws.config.fps):
            batch.append(frame)
            if len(batch) == BATCH:
                flush()
        if batch:
            flush()
        verdicts = video_verdicts(np.array(probs).reshape(-1, len(model.classes)), np.array(represents, int),
                                  classes=model.classes, rule=rule)
        score = VideoScore(video_id, str(path), model.version, times, represents, probs, verdicts)
        keep = keep_frames and (any(v.positive for v in verdicts) or is_uncertain(score, rule.threshold))
        _store(ws, score, Path(spool) if keep else None, path, sizes)
    return score


def _store(ws: Workspace, score: VideoScore, spool: Path | None, video: Path, sizes: list) -> None:
    with ws.write_lock(), FrameStore(ws.db, ws.frames_dir) as store, transaction(ws.db):
        ws.db.execute("DELETE FROM predictions WHERE video_id = ? AND model_version = ?", (score.video_id, score.model_version))
        for i, (t, n, p) in enumerate(zip(score.times, score.represents, score.probs)):
            frame_id = None
            if spool is not None:
                jpeg = (spool / f"{i}.jpg").read_bytes()
                h, w = sizes[i]
                frame_id, _ = store.add(
                    NewFrame(jpeg, sha256_bytes(jpeg), frame_file_name(video, t), w, h, origin="monitor",
                             video_id=score.video_id, timestamp_s=t, represents=n)
                )
                score.kept_frames.append(frame_id)
            ws.db.execute(
                """INSERT INTO predictions (video_id, model_version, timestamp_s, represents, frame_id, probs_json)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (score.video_id, score.model_version, t, n, frame_id, json.dumps(p)),
            )
        ws.db.execute(
            "INSERT OR REPLACE INTO video_scores VALUES (?, ?, ?, ?, ?)",
            (score.video_id, score.model_version, now(), score.sampled_frames,
             json.dumps([asdict(v) for v in score.verdicts])),
        )

