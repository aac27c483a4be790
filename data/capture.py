"""Capture frames from videos into the workspace as unlabeled frames with provenance."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from data.frames import FrameStore, NewFrame
from data.images import encode_jpeg, sha256_bytes
from data.judged_videos import label_frames_of_absent_video
from data.schema import now, transaction
from data.scratch import scratch_dir
from data.video import open_video, sample_video
from data.workspace import Workspace


@dataclass(frozen=True)
class CaptureReport:
    video: str
    video_id: int
    duration_s: float
    sampled: int  # frames sampled at the project's rate
    kept: int  # after collapsing near-identical runs
    new_frames: int  # not in the workspace before
    judged_absent: int = 0  # labeled "no target" now: the video was judged free of the target before

    def summary(self) -> str:
        judged = f", {self.judged_absent} labeled no target as the video was judged" if self.judged_absent else ""
        return (
            f"{self.video}: {self.duration_s:.1f} s, {self.sampled} frames sampled, "
            f"{self.kept} distinct after collapsing near-duplicates, {self.new_frames} new{judged}"
        )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_video(ws: Workspace, path: Path, **facts) -> int:
    """The video's id, adding it (by content) if new; facts fill url, author, caption and so on."""
    sha = file_sha256(path)
    row = ws.db.execute("SELECT id FROM videos WHERE sha256 = ?", (sha,)).fetchone()
    if row:
        return row["id"]
    columns = ["sha256", "path", "added_at", *facts]
    values = [sha, str(Path(path).resolve()), now(), *facts.values()]
    with transaction(ws.db):
        cur = ws.db.execute(
            f"INSERT INTO videos ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", values
        )
    return cur.lastrowid


def frame_file_name(video: Path, timestamp_s: float) -> str:
    stem = re.sub(r"[^\w.-]+", "_", Path(video).stem)[:60] or "video"
    return f"{stem}_{round(timestamp_s * 1000):08d}ms.jpg"


def capture_frames(
    ws: Workspace,
    video: Path,
    *,
    fps: float | None = None,
    origin: str = "capture",
    progress: Callable[[float, float], None] | None = None,
) -> CaptureReport:
    """Sample `video` at the project's rate (or `fps`) and store the distinct frames, unlabeled.

    All or nothing: a video that turns out corrupt or truncated stores no frame.
    """
    video = Path(video)
    _, info = open_video(video)  # fail before hashing a file that is no video
    # Kept frames are spooled to disk as JPEGs as they come, so memory stays flat however long the video.
    with scratch_dir(ws.root, "capture") as spool:
        samples = []  # (frame without its pixels, size, JPEG file)
        for frame in sample_video(video, fps=fps or ws.config.fps, progress=progress):
            jpeg = Path(spool) / f"{len(samples)}.jpg"
            jpeg.write_bytes(encode_jpeg(frame.rgb))
            samples.append((frame, frame.rgb.shape[:2], jpeg))
            frame.rgb = None
        video_id = record_video(ws, video, duration_s=info.duration_s, source=origin)
        new = 0
        with ws.write_lock(), FrameStore(ws.db, ws.frames_dir) as store, transaction(ws.db):
            for frame, (height, width), jpeg in samples:
                content = jpeg.read_bytes()
                _, is_new = store.add(
                    NewFrame(
                        content, sha256_bytes(content), frame_file_name(video, frame.timestamp_s), width, height,
                        origin=origin, video_id=video_id, timestamp_s=frame.timestamp_s,
                        represents=frame.represents, phash=f"{frame.phash:016x}",
                    )
                )
                new += is_new
    judged = label_frames_of_absent_video(ws, video_id)  # judged before its frames were kept
    return CaptureReport(
        str(video), video_id, info.duration_s, sum(f.represents for f, _, _ in samples), len(samples), new, judged
    )
