"""Downloading videos with yt-dlp used as a library: an archive so nothing is fetched twice,
H.264 preferred (OpenCV decodes it everywhere), a duration cap, and the info JSON kept."""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yt_dlp

from data.capture import record_video
from data.errors import LookoutError
from data.workspace import Workspace

VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".m4v")


@dataclass
class FetchedVideo:
    path: Path
    url: str | None = None
    author: str | None = None
    caption: str | None = None
    uploaded_at: str | None = None
    info_json: str | None = None


class _Quiet:
    """yt-dlp's messages go nowhere; its errors come back as DownloadError."""

    def debug(self, msg):
        pass

    info = warning = error = debug


def _uploaded_at(info: dict) -> str | None:
    if info.get("timestamp"):
        return datetime.fromtimestamp(info["timestamp"], timezone.utc).isoformat()
    if info.get("upload_date"):
        d = info["upload_date"]
        return f"{d[:4]}-{d[4:6]}-{d[6:]}"
    return None


def _downloaded_file(entry: dict, planned: str) -> Path | None:
    """The entry's video file: just downloaded, or from an earlier run that the archive remembers
    (that run may have been stopped before the video was scored)."""
    for d in entry.get("requested_downloads") or []:
        if d.get("filepath") and Path(d["filepath"]).is_file():
            return Path(d["filepath"])
    planned = Path(planned)
    earlier = [p for p in planned.parent.glob(f"{glob.escape(planned.stem)}.*") if p.suffix.lower() in VIDEO_SUFFIXES]
    return earlier[0] if earlier else None


def download(url: str, folder: Path, *, max_duration_s: int = 600, timeout_s: int = 30, newest: int | None = None):
    """Fetch `url` (a video, or the newest N of an account) into `folder`.

    Returns (videos, error): what arrived, and None or why the rest did not.
    """
    folder.mkdir(parents=True, exist_ok=True)
    options = {
        "paths": {"home": str(folder)},
        "outtmpl": "%(extractor)s-%(id)s.%(ext)s",
        "download_archive": str(folder / "downloaded.txt"),
        "format_sort": ["vcodec:h264", "res:1080"],
        "match_filter": yt_dlp.utils.match_filter_func(f"duration <=? {max_duration_s}"),
        "writeinfojson": True,
        "socket_timeout": timeout_s,
        "retries": 1,
        "fragment_retries": 1,
        "extractor_retries": 0,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": _Quiet(),
    }
    if newest:
        options["playlistend"] = newest
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            info = ydl.extract_info(url, download=True)
    except yt_dlp.utils.DownloadError as exc:
        return [], str(exc).removeprefix("ERROR: ")
    except Exception as exc:  # an extractor bug must not stop the monitor
        return [], f"{type(exc).__name__}: {exc}"
    videos = []
    for entry in (info or {}).get("entries") or ([info] if info else []):
        if not entry:
            continue
        path = _downloaded_file(entry, ydl.prepare_filename(entry))
        if path is None:
            continue  # filtered out by the duration cap
        videos.append(
            FetchedVideo(
                path,
                url=entry.get("webpage_url") or entry.get("original_url") or url,
                author=entry.get("uploader") or entry.get("channel"),
                caption=entry.get("description") or entry.get("title"),
                uploaded_at=_uploaded_at(entry),
                info_json=json.dumps({k: entry.get(k) for k in ("id", "title", "uploader", "duration", "webpage_url")}),
            )
        )
    return videos, None


def record_fetched(ws: Workspace, video: FetchedVideo, *, source: str) -> int:
    """The video's id in the workspace, with what yt-dlp told about it."""
    return record_video(
        ws, video.path, url=video.url, author=video.author, caption=video.caption,
        uploaded_at=video.uploaded_at, info_json=video.info_json, source=source,
    )


def fetch_url(ws: Workspace, url: str, *, source: str) -> list[tuple[Path, int]]:
    """Download `url` into the workspace's videos folder: (file, video id) for each video it holds."""
    videos, error = download(url, ws.videos_dir / "fetched")
    if not videos:
        why = error or "no video there, or it is longer than the 10-minute cap"
        raise LookoutError(f"Could not fetch {url}: {why}. Check the address, or download the video and upload the file.")
    return [(video.path, record_fetched(ws, video, source=source)) for video in videos]
