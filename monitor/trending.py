"""Trending and hashtag feeds through TikTokApi (optional: pip install -e '.[trending]').

TikTokApi drives a real browser with a TikTok session token (the msToken cookie of
a logged-out tiktok.com visit), so it is the most fragile source: when TikTok
changes, it fails and the monitor's source health tells the operator. The videos
it lists are downloaded by yt-dlp like any URL.

    [[sources]]
    kind = "trending"
    ms_token = ""          # or set LOOKOUT_TIKTOK_MS_TOKEN
    hashtag = "politics"   # optional: a hashtag's feed instead of trending
    count = 10
"""

from __future__ import annotations

import asyncio
import os

from data.errors import LookoutError
from monitor.sources import FetchResult, Source, UrlSource

MS_TOKEN_ENV = "LOOKOUT_TIKTOK_MS_TOKEN"


async def _list_video_urls(ms_token: str, hashtag: str, count: int) -> list[str]:
    from TikTokApi import TikTokApi

    async with TikTokApi() as api:
        await api.create_sessions(ms_tokens=[ms_token], num_sessions=1, sleep_after=3)
        feed = api.hashtag(name=hashtag).videos(count=count) if hashtag else api.trending.videos(count=count)
        urls = []
        async for video in feed:
            data = video.as_dict
            author = (data.get("author") or {}).get("uniqueId", "")
            urls.append(f"https://www.tiktok.com/@{author}/video/{data['id']}")
        return urls


class TrendingSource(UrlSource):
    kind = "trending"

    def __init__(self, settings, ws, *, index=0):
        Source.__init__(self, settings, ws, index=index)
        self.ms_token = self.setting("ms_token", str, "") or os.environ.get(MS_TOKEN_ENV, "")
        self.hashtag = self.setting("hashtag", str, "").lstrip("#")
        self.count = self.setting("count", int, 10)
        self.max_duration = self.setting("max_duration_s", int, 600)
        self.timeout = self.setting("timeout_s", int, 120)
        if not self.ms_token:
            raise LookoutError(f"project.toml {self.where}: give 'ms_token' (or set {MS_TOKEN_ENV}); see monitor/trending.py.")
        self.urls: list[str] = []

    @property
    def name(self) -> str:
        return f"trending:#{self.hashtag}" if self.hashtag else "trending"

    def fetch(self) -> FetchResult:
        try:
            import TikTokApi  # noqa: F401
        except ImportError:
            return FetchResult(errors=["TikTokApi is not installed: pip install -e '.[trending]' and `playwright install`"])
        try:
            self.urls = asyncio.run(
                asyncio.wait_for(_list_video_urls(self.ms_token, self.hashtag, self.count), self.timeout)
            )
        except Exception as exc:  # TikTok changes often; report, never crash the loop
            return FetchResult(errors=[f"TikTokApi failed: {type(exc).__name__}: {exc}"])
        return super().fetch()
