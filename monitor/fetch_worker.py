"""The child process that runs yt-dlp for one fetch (see monitor/download.py).

It runs in its own process group so that the parent can stop it, and whatever it
started, at the deadline however it is stuck (a server that drips one byte a
second defeats every socket timeout). It stops by itself at the deadline too, and
when its parent dies. With `allowed_hosts` set, every connection it makes, through
redirects included, must go to a public address or a host the operator allowed: every
HTTP client yt-dlp has is sent through a checking proxy (monitor/checking_proxy.py),
and Python's own name lookup refuses any other host besides.

Input: one JSON object on stdin. Output: one JSON object on stdout.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time

import yt_dlp

from data.untrusted_input import host_allowed
from monitor.checking_proxy import CheckingProxy

INFO_FIELDS = ("id", "title", "uploader", "channel_id", "duration", "webpage_url")


class _Quiet:
    """yt-dlp's messages go nowhere but the ones that say why a video was skipped;
    its errors come back as DownloadError."""

    def __init__(self):
        self.skipped: list[str] = []

    def debug(self, msg):
        if "larger than max-filesize" in msg:
            self.skipped.append("larger than the size cap")
        elif "does not pass filter" in msg:
            self.skipped.append("longer than the duration cap")

    info = warning = error = debug


class TooLarge(Exception):
    pass


def guard_connections(allowed_hosts: list[str], *, proxy: tuple[str, int] | None = None) -> None:
    """Refuse to resolve (so to connect to) anything but public addresses, allowed hosts and the proxy."""
    resolve = socket.getaddrinfo

    def guarded(host, port, *args, **kwargs):
        infos = resolve(host, port, *args, **kwargs)
        name = host.decode() if isinstance(host, bytes) else str(host)
        if (name, port) == proxy:
            return infos
        if not host_allowed(name, [info[4][0] for info in infos], tuple(allowed_hosts)):
            raise socket.gaierror(socket.EAI_NONAME, f"{name} is not a public web host; not fetched")
        return infos

    socket.getaddrinfo = guarded


def _exit_at(deadline_s: float) -> None:
    parent = os.getppid()
    stop = time.monotonic() + deadline_s
    while os.getppid() == parent and time.monotonic() < stop:
        time.sleep(0.5)
    os._exit(3)


def fetch(job: dict, proxy: CheckingProxy | None = None) -> dict:
    limits = job["limits"]
    refused = (lambda: proxy.refused) if proxy is not None else list

    def stop_when_too_large(status: dict) -> None:
        if (status.get("downloaded_bytes") or 0) > limits["max_bytes"]:
            raise TooLarge()

    logger = _Quiet()
    too_large = f"the video is larger than {limits['max_bytes'] >> 20} MB; not downloaded"
    options = {
        "paths": {"home": job["folder"]},
        "outtmpl": "%(extractor)s-%(id)s.%(ext)s",
        "download_archive": os.path.join(job["folder"], job["archive"]),
        "format_sort": ["vcodec:h264", "res:1080"],
        "match_filter": yt_dlp.utils.match_filter_func(f"duration <=? {limits['max_duration_s']}"),
        "max_filesize": limits["max_bytes"],
        "progress_hooks": [stop_when_too_large],
        "writeinfojson": True,
        "socket_timeout": limits["socket_timeout_s"],
        "retries": 1,
        "fragment_retries": 1,
        "extractor_retries": 0,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": logger,
    }
    if job.get("newest"):
        options["playlistend"] = job["newest"]
    if proxy is not None:
        options["proxy"] = proxy.url
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            info = ydl.extract_info(job["url"], download=True)
            entries = [e for e in (info or {}).get("entries") or ([info] if info else []) if e]
            skipped = sorted(set(logger.skipped))
            error = f"not downloaded: {', '.join(skipped)}" if skipped else None
            return {"entries": [_describe(ydl, e) for e in entries], "error": error}
    except TooLarge:
        return {"entries": [], "error": too_large}
    except yt_dlp.utils.DownloadError as exc:
        if isinstance(getattr(exc, "exc_info", (None, None))[1], TooLarge):
            return {"entries": [], "error": too_large}
        if refused():  # each client words a refused proxy connection its own way
            return {"entries": [], "error": f"{refused()[-1]} is not a public web host; not fetched"}
        return {"entries": [], "error": str(exc).removeprefix("ERROR: ")}
    except Exception as exc:  # an extractor bug must not stop the monitor
        return {"entries": [], "error": f"{type(exc).__name__}: {exc}"}


def _describe(ydl, entry: dict) -> dict:
    files = [d["filepath"] for d in entry.get("requested_downloads") or [] if d.get("filepath")]
    return {
        "files": files,
        "planned": ydl.prepare_filename(entry),
        "url": entry.get("webpage_url") or entry.get("original_url"),
        "author": entry.get("uploader") or entry.get("channel"),
        "caption": entry.get("description") or entry.get("title"),
        "timestamp": entry.get("timestamp"),
        "upload_date": entry.get("upload_date"),
        "info": {k: entry.get(k) for k in INFO_FIELDS},
    }


def main() -> None:
    job = json.loads(sys.stdin.read())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    threading.Thread(target=_exit_at, args=(job["limits"]["deadline_s"] + 5,), daemon=True).start()
    proxy = None
    if job.get("allowed_hosts") is not None:
        proxy = CheckingProxy(tuple(job["allowed_hosts"]))
        guard_connections(job["allowed_hosts"], proxy=proxy.address)
    sys.stdout.write(json.dumps(fetch(job, proxy)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
