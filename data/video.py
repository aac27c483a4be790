"""Sampling frames from a video at a fixed rate, collapsing runs of near-identical frames.

Timestamps come from the decoder (presentation times), so variable-frame-rate
clips sample at the right moments; OpenCV applies rotation metadata. Frames that
are not kept are grabbed (decoded) but never retrieved (converted to RGB).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from data.errors import LookoutError
from data.images import hash_distance, perceptual_hash

NEAR_DUPLICATE_BITS = 4  # of 64: below this two sampled frames look the same


@dataclass
class SampledFrame:
    timestamp_s: float
    rgb: np.ndarray
    phash: int
    represents: int = 1  # how many consecutive sampled frames this one stands for
    times: tuple[float, ...] = ()  # the timestamps of those frames

    def absorb(self, other: "SampledFrame") -> None:
        self.represents += other.represents
        self.times += other.times


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    fps: float
    frame_count: int
    duration_s: float


def open_video(path: Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    path = Path(path)
    if not path.is_file():
        raise LookoutError(f"{path} does not exist; check the video's path.")
    if path.stat().st_size == 0:
        raise LookoutError(f"{path} is empty (0 bytes); download it again.")
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        raise LookoutError(f"{path} is not a video Lookout can read (corrupt, truncated or not a video); download it again.")
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    duration = count / fps if fps > 0 and count > 0 else 0.0
    return cap, VideoInfo(path, fps, count, duration)


def sample_video(
    path: Path,
    *,
    fps: float = 1.0,
    collapse: bool = True,
    progress: Callable[[float, float], None] | None = None,
) -> Iterator[SampledFrame]:
    """Yield one frame per 1/fps seconds; with collapse, runs of near-identical frames come as one.

    progress(seconds_decoded, duration_s) is called for every kept frame.
    Raises LookoutError for a file that is not a video, has no frames, or ends
    long before its stated duration (truncated).
    """
    if fps <= 0:
        raise LookoutError(f"Sampling rate {fps} must be above 0 frames per second (sampling.fps in project.toml).")
    cap, info = open_video(path)
    step = 1.0 / fps
    next_time = 0.0
    pending: SampledFrame | None = None
    decoded = 0
    last_time = 0.0
    try:
        while cap.grab():
            decoded += 1
            t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            last_time = t
            if t + 1e-6 < next_time:
                continue
            ok, bgr = cap.retrieve()
            if not ok:
                break
            # A gap in a variable-rate clip may cover several sample times: this frame stands for the first.
            next_time = (np.floor(t / step + 1e-6) + 1) * step
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            frame = SampledFrame(round(t, 3), rgb, perceptual_hash(rgb), times=(round(t, 3),))
            if progress:
                progress(t, info.duration_s)
            if pending is not None and collapse and hash_distance(pending.phash, frame.phash) < NEAR_DUPLICATE_BITS:
                pending.absorb(frame)
                continue
            if pending is not None:
                yield pending
            pending = frame
    finally:
        cap.release()
    if decoded == 0:
        raise LookoutError(f"{path} has no video frames; check that it is a video and download it again.")
    if info.duration_s > 2 and last_time < 0.8 * info.duration_s - 1:
        raise LookoutError(
            f"{path} is truncated: it stops at {last_time:.1f} s of {info.duration_s:.1f} s; download it again."
        )
    if pending is not None:
        yield pending
