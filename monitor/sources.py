"""Where videos come from. Each source checks its settings when built, puts a timeout on
every network call or command, and returns what it fetched plus what went wrong,
never raising into the monitor loop. A new source is one class, listed in build_sources.

project.toml:
    [[sources]]
    kind = "folder"          # video files dropped in a folder (the tutorial's trend/)
    path = "trend"
    [[sources]]
    kind = "urls"            # TikTok or any URL yt-dlp supports
    urls = ["https://www.tiktok.com/@user/video/123"]
    public_only = true       # set by the Monitor page: fetched only from public hosts
    [[sources]]
    kind = "accounts"        # newest videos of TikTok accounts
    accounts = ["@user"]
    newest = 5
    sec_uids = { user = "MS4wLjABAAAA..." }   # optional: used when yt-dlp cannot resolve @user
    [[sources]]
    kind = "command"         # any downloader that writes video files into a folder
    command = "tiktok-scraper trend -n 1 -d"
    folder = "trend"
    timeout_s = 300
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from data.errors import LookoutError
from data.monitor_records import channel_of_uploader, video_by_url
from data.workspace import Workspace
from monitor.download import VIDEO_SUFFIXES, FetchedVideo, Limits, download, stop_process_group
from monitor.source_errors import explained


@dataclass
class FetchResult:
    videos: list[FetchedVideo] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Source:
    kind = ""

    def __init__(self, settings: dict, ws: Workspace, *, index: int = 0):
        self.settings, self.ws, self.where = settings, ws, f"sources[{index}] ({self.kind})"

    @property
    def name(self) -> str:
        raise NotImplementedError

    def fetch(self) -> FetchResult:
        raise NotImplementedError

    def setting(self, key: str, kind: type, default=None):
        value = self.settings.get(key, default)
        if value is None or not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise LookoutError(f"project.toml {self.where}: '{key}' must be {kind.__name__} (found {value!r}).")
        return value

    def workspace_path(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.ws.root / path


def scan_folder(folder: Path) -> list[FetchedVideo]:
    if not folder.is_dir():
        return []
    return [FetchedVideo(p) for p in sorted(folder.iterdir()) if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()]


class FolderSource(Source):
    kind = "folder"

    def __init__(self, settings, ws, *, index=0):
        super().__init__(settings, ws, index=index)
        self.folder = self.workspace_path(self.setting("path", str))

    @property
    def name(self) -> str:
        return f"folder:{self.folder}"

    def fetch(self) -> FetchResult:
        if not self.folder.is_dir():
            return FetchResult(errors=[f"folder {self.folder} does not exist"])
        return FetchResult(scan_folder(self.folder))


class UrlSource(Source):
    kind = "urls"

    def __init__(self, settings, ws, *, index=0):
        super().__init__(settings, ws, index=index)
        self.urls = self.setting("urls", list)
        if not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in self.urls):
            raise LookoutError(f"project.toml {self.where}: 'urls' must be a list of http(s) addresses.")
        self.max_duration = self.setting("max_duration_s", int, 600)
        self.timeout = self.setting("timeout_s", int, 30)

    @property
    def name(self) -> str:
        return f"urls:{len(self.urls)}"

    def targets(self) -> list[tuple[str, int | None]]:
        return [(u, None) for u in self.urls]

    def fetch(self) -> FetchResult:
        result = FetchResult()
        for url, newest in self.targets():
            known = video_by_url(self.ws.db, url)
            if newest is None and known and Path(known["path"]).is_file():
                result.videos.append(FetchedVideo(Path(known["path"]), url, known["author"], known["caption"],
                                                  known["uploaded_at"], known["info_json"]))
                continue  # downloaded in an earlier cycle; the monitor skips it once scored
            videos, error = self.download(url, newest)
            result.videos.extend(videos)
            if error:
                result.errors.append(f"{url}: {explained(error, url)}")
        return result

    def download(self, url: str, newest: int | None):
        limits = Limits(max_duration_s=self.max_duration, socket_timeout_s=self.timeout)
        # Links a page user added (monitor/setup.py) are checked at every download, as the page's own are.
        allowed = self.ws.config.allowed_hosts if self.settings.get("public_only") else None
        return download(url, self.ws.videos_dir, limits=limits, newest=newest, allowed_hosts=allowed)


class AccountSource(UrlSource):
    kind = "accounts"

    def __init__(self, settings, ws, *, index=0):
        Source.__init__(self, settings, ws, index=index)
        self.accounts = self.setting("accounts", list)
        if not all(isinstance(a, str) and a.strip("@") for a in self.accounts):
            raise LookoutError(f"project.toml {self.where}: 'accounts' must be a list like [\"@user\"].")
        self.newest = self.setting("newest", int, 5)
        self.max_duration = self.setting("max_duration_s", int, 600)
        self.timeout = self.setting("timeout_s", int, 30)
        self.sec_uids = self.setting("sec_uids", dict, {})

    @property
    def name(self) -> str:
        return "accounts:" + ",".join(self.accounts)

    def targets(self) -> list[tuple[str, int | None]]:
        return [(f"https://www.tiktok.com/@{a.lstrip('@')}", self.newest) for a in self.accounts]

    def download(self, url: str, newest: int | None):
        """By @handle; when TikTok's page no longer yields the account's id (a recurring change that
        breaks yt-dlp), by the account's secUid, from project.toml or from a video already fetched."""
        videos, error = super().download(url, newest)
        handle = url.rsplit("@", 1)[-1]
        if videos or not error or not (sec_uid := self.sec_uid(handle)):
            return videos, error
        videos, second = super().download(f"tiktokuser:{sec_uid}", newest)
        return videos, second and f"{error}; by its secUid: {second}"

    def sec_uid(self, handle: str) -> str | None:
        """project.toml's sec_uids = {handle = "MS4w..."}, else the channel id of one of its fetched videos."""
        if given := self.sec_uids.get(handle) or self.sec_uids.get(f"@{handle}"):
            return given
        return channel_of_uploader(self.ws.db, handle)


class CommandSource(Source):
    kind = "command"

    def __init__(self, settings, ws, *, index=0):
        super().__init__(settings, ws, index=index)
        self.command = shlex.split(self.setting("command", str))
        if not self.command:
            raise LookoutError(f"project.toml {self.where}: 'command' is empty.")
        if any("\0" in part for part in self.command):
            raise LookoutError(f"project.toml {self.where}: 'command' holds a NUL character, so it can never run.")
        self.folder = self.workspace_path(self.setting("folder", str))
        self.timeout = self.setting("timeout_s", int, 300)

    @property
    def name(self) -> str:
        return f"command:{self.command[0]}"

    def fetch(self) -> FetchResult:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:  # its own process group, so a timeout stops the pipelines it started too
            proc = subprocess.Popen(self.command, cwd=self.folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True, start_new_session=True)
        except FileNotFoundError:
            return FetchResult(errors=[f"command {self.command[0]!r} is not installed"])
        except OSError as exc:  # a folder, a file without the right to run, a file that is no program
            return FetchResult(errors=[f"command {self.command[0]!r} cannot be run: {exc.strerror or exc}"])
        try:
            _, stderr = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            return FetchResult(scan_folder(self.folder), [f"command timed out after {self.timeout} s"])
        finally:
            stop_process_group(proc)
        errors = [] if proc.returncode == 0 else [f"command exited {proc.returncode}: {stderr.strip()[-300:]}"]
        return FetchResult(scan_folder(self.folder), errors)

