"""Downloading videos with yt-dlp, run in a child process (monitor/fetch_worker.py) with an
overall deadline, a size cap and a duration cap; an archive so nothing is fetched twice,
H.264 preferred (OpenCV decodes it everywhere), and the info JSON kept."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from data.capture import record_video
from data.errors import LookoutError
from data.untrusted_input import check_public_url
from data.video import open_video
from data.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]

ARCHIVE = "downloaded.txt"  # yt-dlp's record of what it fetched, so nothing is fetched twice
VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".m4v")


@dataclass
class FetchedVideo:
    path: Path
    url: str | None = None
    author: str | None = None
    caption: str | None = None
    uploaded_at: str | None = None
    info_json: str | None = None


@dataclass(frozen=True)
class Limits:
    """Bounds on one fetch, so that no server can stall the monitor or fill the disk."""

    deadline_s: float = 300.0  # the whole fetch, however the server behaves
    max_bytes: int = 500 << 20  # per video; a minute of 1080p TikTok is ~30 MB
    max_duration_s: int = 600
    socket_timeout_s: int = 30


def _uploaded_at(entry: dict) -> str | None:
    if entry.get("timestamp"):
        return datetime.fromtimestamp(entry["timestamp"], UTC).isoformat()
    if entry.get("upload_date"):
        d = entry["upload_date"]
        return f"{d[:4]}-{d[4:6]}-{d[6:]}"
    return None


def _downloaded_file(entry: dict) -> Path | None:
    """The entry's video file: just downloaded, or from an earlier run that the archive remembers
    (that run may have been stopped before the video was scored)."""
    for name in entry["files"]:
        if Path(name).is_file():
            return Path(name)
    planned = Path(entry["planned"])
    earlier = [p for p in planned.parent.glob(f"{glob.escape(planned.stem)}.*") if p.suffix.lower() in VIDEO_SUFFIXES]
    return earlier[0] if earlier else None


def _run_worker(job: dict, deadline_s: float) -> dict:
    """Run monitor/fetch_worker.py on `job`; stop it and everything it started at the deadline."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.fetch_worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, env=env, start_new_session=True, text=True,
    )
    try:
        out, _ = proc.communicate(json.dumps(job), timeout=deadline_s)
    except subprocess.TimeoutExpired:
        return {"entries": [], "error": f"gave up after {deadline_s:.0f} s (the server is too slow or stalled)"}
    finally:
        stop_process_group(proc)
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        return {"entries": [], "error": f"the downloader stopped unexpectedly (exit status {proc.returncode})"}


def stop_process_group(proc: subprocess.Popen) -> None:
    """Kill a process started with start_new_session=True and everything it started."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _remove_leftovers(folder: Path, before: set[Path], kept: list[FetchedVideo]) -> None:
    """What a stopped or refused download left: yt-dlp's partial files, and info JSON of videos
    not kept. Only yt-dlp's own kinds of file: the folder may also hold videos a journalist
    uploaded meanwhile."""
    keep = {v.path.stem for v in kept}
    for path in set(folder.iterdir()) - before:
        partial = path.suffix in (".part", ".ytdl", ".temp") or ".part-Frag" in path.name
        orphan_info = path.name.endswith(".info.json") and path.name.removesuffix(".info.json") not in keep
        if path.is_file() and (partial or orphan_info):
            path.unlink(missing_ok=True)


def download(url: str, folder: Path, *, limits: Limits = Limits(), newest: int | None = None,
             allowed_hosts: tuple[str, ...] | None = None):
    """Fetch `url` (a video, or the newest N of an account) into `folder`, within `limits`.

    allowed_hosts: None trusts the URL (the operator's own sources); a tuple means the URL
    came from a page user, and every connection must go to a public host or one of these.
    Returns (videos, error): what arrived, and None or why the rest did not.
    """
    folder.mkdir(parents=True, exist_ok=True)
    before = set(folder.iterdir())
    job = {"url": url, "folder": str(folder), "archive": ARCHIVE, "newest": newest, "limits": asdict(limits),
           "allowed_hosts": list(allowed_hosts) if allowed_hosts is not None else None}
    result = _run_worker(job, limits.deadline_s)
    videos, errors = [], [result["error"]] if result["error"] else []
    for entry in result["entries"]:
        path = _downloaded_file(entry)
        if path is None:
            continue  # filtered out by the duration cap
        if too_long := _longer_than(path, limits.max_duration_s):
            path.unlink(missing_ok=True)  # its length was not known until it arrived
            errors.append(too_long)
            continue
        videos.append(
            FetchedVideo(
                path, url=entry["url"] or url, author=entry["author"], caption=entry["caption"],
                uploaded_at=_uploaded_at(entry), info_json=json.dumps(entry["info"]),
            )
        )
    _remove_leftovers(folder, before, videos)
    return videos, "; ".join(errors) or None


def _longer_than(path: Path, max_duration_s: int) -> str | None:
    try:
        _, info = open_video(path)
    except LookoutError:
        return None  # not a readable video: scoring says so
    if info.duration_s > max_duration_s:
        return f"{path.name} is {info.duration_s:.0f} s long, over the {max_duration_s} s cap; not kept"
    return None


def record_fetched(ws: Workspace, video: FetchedVideo, *, source: str) -> int:
    """The video's id in the workspace, with what yt-dlp told about it."""
    return record_video(
        ws, video.path, url=video.url, author=video.author, caption=video.caption,
        uploaded_at=video.uploaded_at, info_json=video.info_json, source=source,
    )


def fetch_url(ws: Workspace, url: str, *, source: str, from_page: bool = False) -> list[tuple[Path, int]]:
    """Download `url` into the workspace's videos folder: (file, video id) for each video it holds.

    from_page: a page user typed it, so it must be a public http(s) URL (data/untrusted_input.py).
    """
    allowed = ws.config.allowed_hosts if from_page else None
    if from_page:
        url = check_public_url(url, allowed_hosts=allowed)
    videos, error = download(url, ws.videos_dir / "fetched", allowed_hosts=allowed)
    if not videos:
        why = error or "no video there, or it is longer than the 10-minute cap"
        raise LookoutError(f"Could not fetch {url}: {why}. Check the address, or download the video and upload the file.")
    return [(video.path, record_fetched(ws, video, source=source)) for video in videos]
