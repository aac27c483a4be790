"""Source settings, checked when the monitor builds them: a table of config -> expected."""

import pytest

from data.config import ProjectConfig
from data.errors import LookoutError
from data.workspace import Workspace
from monitor.source_kinds import build_sources


def workspace_with(tmp_path, sources):
    return Workspace.open(tmp_path / "ws", config=ProjectConfig(sources=tuple(sources)))


@pytest.mark.parametrize(
    "settings, name",
    [
        ({"kind": "folder", "path": "trend"}, "folder:"),
        ({"kind": "urls", "urls": ["https://www.tiktok.com/@a/video/1"]}, "urls:1"),
        ({"kind": "accounts", "accounts": ["@newsroom"], "newest": 3}, "accounts:@newsroom"),
        ({"kind": "command", "command": "tiktok-scraper trend -n 1 -d", "folder": "trend"}, "command:tiktok-scraper"),
        ({"kind": "trending", "ms_token": "abc", "hashtag": "#vote"}, "trending:#vote"),
    ],
)
def test_valid_sources_build(tmp_path, settings, name):
    (source,) = build_sources(workspace_with(tmp_path, [settings]))
    assert source.name.startswith(name)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"kind": "rss"}, "kind 'rss' is not one of folder, urls, accounts, command, trending"),
        ({"kind": "folder"}, "sources[0] (folder): 'path' must be str"),
        ({"kind": "urls", "urls": ["ftp://x"]}, "'urls' must be a list of http(s) addresses"),
        ({"kind": "urls", "urls": ["https://x"], "timeout_s": "soon"}, "'timeout_s' must be int"),
        ({"kind": "accounts", "accounts": ["@"]}, "'accounts' must be a list like"),
        ({"kind": "command", "command": "", "folder": "x"}, "'command' is empty"),
        ({"kind": "trending"}, "give 'ms_token'"),
    ],
)
def test_bad_source_settings_name_the_source_and_key(tmp_path, monkeypatch, settings, message):
    monkeypatch.delenv("LOOKOUT_TIKTOK_MS_TOKEN", raising=False)
    with pytest.raises(LookoutError, match="sources\\[0\\]") as err:
        build_sources(workspace_with(tmp_path, [settings]))
    assert message in str(err.value)


def test_trending_without_its_optional_package_is_a_reported_failure(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tiktokapi(name, *args, **kwargs):
        if name == "TikTokApi":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tiktokapi)
    (source,) = build_sources(workspace_with(tmp_path, [{"kind": "trending", "ms_token": "abc"}]))
    result = source.fetch()
    assert result.videos == [] and "pip install -e '.[trending]'" in result.errors[0]


@pytest.mark.parametrize(
    "sec_uids, fetched_before, tried",
    [
        ({}, None, ["https://www.tiktok.com/@newsroom"]),  # nothing to fall back on: the error stands
        ({"newsroom": "MS4wSET"}, None, ["https://www.tiktok.com/@newsroom", "tiktokuser:MS4wSET"]),
        ({}, "MS4wSEEN", ["https://www.tiktok.com/@newsroom", "tiktokuser:MS4wSEEN"]),  # learned from a video
    ],
)
def test_an_account_yt_dlp_cannot_resolve_is_fetched_by_its_sec_uid(tmp_path, monkeypatch, sec_uids, fetched_before, tried):
    """TikTok's recurring change: yt-dlp cannot find the @handle's id, but tiktokuser:<secUid> works.
    The network is TikTok's, so yt-dlp's answers are played back here."""
    import json

    import monitor.sources
    from data.schema import now
    from monitor.download import FetchedVideo

    ws = workspace_with(tmp_path, [{"kind": "accounts", "accounts": ["@newsroom"], "sec_uids": sec_uids}])
    if fetched_before:
        ws.db.execute("INSERT INTO videos (sha256, path, added_at, info_json) VALUES ('x', '/v.mp4', ?, ?)",
                      (now(), json.dumps({"uploader": "newsroom", "channel_id": fetched_before})))
    calls = []

    def yt_dlp(url, folder, **kwargs):
        calls.append(url)
        if url.startswith("tiktokuser:"):
            return [FetchedVideo(tmp_path / "new.mp4", url)], None
        return [], "[TikTok:user] newsroom: Unable to extract secondary user ID"

    monkeypatch.setattr(monitor.sources, "download", yt_dlp)
    (source,) = build_sources(ws)
    result = source.fetch()
    assert calls == tried
    assert bool(result.videos) == (len(tried) == 2) and bool(result.errors) == (len(tried) == 1)


SECONDARY_ID = ("[TikTok:user] newsroom: Unable to extract secondary user ID; please report this issue on "
                "https://github.com/yt-dlp/yt-dlp/issues ... tiktokuser:channel_id")


@pytest.mark.parametrize("error, site_answers, shown, advice, not_advised", [
    # offline, yt-dlp blamed TikTok and the operator was told to update it, by alert too
    (SECONDARY_ID, False, "Cannot reach www.tiktok.com (no internet, or no such host)", "could not reach the site",
     "pip install"),
    (SECONDARY_ID, True, "Unable to extract secondary user ID", "update yt-dlp", None),  # TikTok really changed
    ("[TikTok:user] nosuchname: HTTP Error 404: Not Found", True, "HTTP Error 404", "no account by that name", "pip"),
    ("[TikTok:user] someone: This account is private", True, "private", "only watch public accounts", "pip"),
    ("[Errno -2] Name or service not known", True, "Cannot reach www.tiktok.com (no internet", "could not reach", "pip"),
], ids=["offline", "tiktok-changed", "no-such-account", "private", "no-dns"])
def test_an_account_source_error_says_which_of_offline_missing_private_or_changed(
        tmp_path, monkeypatch, error, site_answers, shown, advice, not_advised):
    import monitor.source_errors
    import monitor.sources
    from monitor.cycle import operator_alert

    monkeypatch.setattr(monitor.sources, "download", lambda url, folder, **kwargs: ([], error))
    monkeypatch.setattr(monitor.source_errors, "reachable", lambda host, port: site_answers)
    (source,) = build_sources(workspace_with(tmp_path, [{"kind": "accounts", "accounts": ["@newsroom"]}]))
    (kept,) = source.fetch().errors  # as the source's health keeps it, and the page and the alert show it
    alert = operator_alert({"source": source.name, "consecutive_failures": 3, "last_error": kept})
    assert alert.title == "Lookout: source TikTok account @newsroom is failing"
    assert shown in alert.body and advice in alert.body
    assert not_advised is None or not_advised not in alert.body


def test_the_operator_is_told_to_update_yt_dlp_when_tiktok_changed():
    from importlib.metadata import version

    from monitor.cycle import operator_alert

    broken = operator_alert({"source": "accounts:@a", "consecutive_failures": 3,
                             "last_error": "https://www.tiktok.com/@a: Unable to extract secondary user ID"})
    assert f"yt-dlp {version('yt-dlp')}" in broken.body and "pip install -U" in broken.body
    down = operator_alert({"source": "folder:/x", "consecutive_failures": 3, "last_error": "folder /x does not exist"})
    assert "yt-dlp" not in down.body


def _program(tmp_path, kind: str) -> str:
    """A command the page once accepted that can never start."""
    if kind == "a folder":
        return "/etc"
    script = tmp_path / kind.replace(" ", "-")
    script.write_text("not a program\n")
    if kind == "no exec format":
        script.chmod(0o755)  # runnable, but neither a binary nor a script with #!
    return str(script)


@pytest.mark.parametrize("kind, said", [
    ("a folder", "cannot be run: Permission denied"),
    ("not executable", "cannot be run: Permission denied"),
    ("no exec format", "cannot be run: Exec format error"),
])
def test_a_command_that_cannot_start_is_that_sources_failure_and_the_others_are_fetched(tmp_path, kind, said):
    """/etc, a file without the right to run, or one that is no program killed `monitor watch` (PermissionError,
    OSError: Exec format error): no later cycle, no alert from any other source."""
    (tmp_path / "trend").mkdir()
    ws = workspace_with(tmp_path, [{"kind": "command", "command": _program(tmp_path, kind), "folder": "x"},
                                   {"kind": "folder", "path": str(tmp_path / "trend")}])
    command, folder = build_sources(ws)
    assert said in command.fetch().errors[0] and folder.fetch().errors == []


def test_a_source_that_cannot_be_built_is_left_out_and_reported_while_the_others_build(tmp_path):
    ws = workspace_with(tmp_path, [{"kind": "command", "command": "get\0videos", "folder": "x"},
                                   {"kind": "folder", "path": "trend"}])
    broken = {}
    (folder,) = build_sources(ws, broken=broken)
    assert folder.name.startswith("folder:") and "NUL character" in broken["command:0"]


@pytest.mark.parametrize("kind", ["a folder", "not executable", "a NUL byte", "not installed"])
def test_the_page_refuses_a_command_that_can_never_run(tmp_path, kind):
    from monitor.setup import source_settings

    ws = workspace_with(tmp_path, [])
    command = {"a NUL byte": "get\0videos", "not installed": "lookout-no-such-program -n 3"}.get(kind) or _program(
        tmp_path, kind)
    with pytest.raises(LookoutError, match="NUL character|not a program this computer can run"):
        source_settings(ws, "command", command, serving_others=False)
