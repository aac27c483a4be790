"""Setting the monitor up from the page: what a page user types is checked as project.toml is,
plus the [access] rules; the file is written whole; secrets are not shown back; a test alert
says what each destination answered."""

import pytest

from data.errors import LookoutError
from data.workspace import Workspace
from monitor.setup import (
    add_alert_url,
    add_source,
    alert_url_key,
    check_alert_url,
    remove_alert_url,
    remove_source,
    send_test_alert,
    shown_alert_url,
    source_settings,
)
from monitor.source_kinds import build_sources
from tests.servers import VideoServer, Webhook

LOCAL, SERVED = False, True


@pytest.mark.parametrize("kind, text, serving, expected", [
    ("accounts", "@alice\nbob, https://www.tiktok.com/@carol?lang=en", SERVED,
     {"kind": "accounts", "accounts": ["@alice", "@bob", "@carol"], "newest": 5}),
    ("accounts", "alice smith", LOCAL, "is not a TikTok account"),
    ("accounts", "  \n ", LOCAL, "Type at least one account"),
    ("urls", "http://127.0.0.1:8501/x.mp4", LOCAL, "127.0.0.1 is not a public web host"),
    ("urls", "file:///etc/passwd", LOCAL, "is not a web address"),
    ("urls", "ytsearch:trump", LOCAL, "is not a web address"),
    ("folder", "/etc", SERVED, "off while the app is served to others"),
    ("folder", "/no/such/folder", LOCAL, "does not exist"),
    ("command", "yt-dlp -o x.mp4 https://example.com", SERVED, "cannot be added from a page served to others"),
    ("command", "sh -c 'tiktok-scraper trend -n 1 -d'", LOCAL,  # a program that is here (else refused)
     {"kind": "command", "command": "sh -c 'tiktok-scraper trend -n 1 -d'", "folder": "trend"}),
    ("rss", "x", LOCAL, "Choose a kind of source"),
])
def test_a_typed_source_is_checked_before_it_is_saved(workspace, kind, text, serving, expected):
    if isinstance(expected, dict):
        assert source_settings(workspace, kind, text, serving_others=serving) == expected
    else:
        with pytest.raises(LookoutError, match=expected):
            source_settings(workspace, kind, text, serving_others=serving)


@pytest.mark.parametrize("url, serving, expected", [
    ("json://127.0.0.1:9/hook", SERVED, "127.0.0.1 is not a public host"),  # a post into the newsroom's network
    ("json://localhost/hook", SERVED, "localhost is not a public host"),
    ("json://127.0.0.1:9/hook", LOCAL, None),  # the journalist's own computer: their own receiver
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", SERVED, None),  # tokens are no host
    ("not an address", LOCAL, "not an alert address"),
    ("", LOCAL, "not an alert address"),
])
def test_a_typed_alert_address_is_checked(url, serving, expected):
    if expected is None:
        assert check_alert_url(url, serving_others=serving) == url
    else:
        with pytest.raises(LookoutError, match=expected):
            check_alert_url(url, serving_others=serving)


@pytest.mark.parametrize("url, secret", [
    ("mailtos://reporter:hunter2pass@example.com", "hunter2pass"),
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "TIiajkdnlazkcOXrIdevi7FQ"),
    ("json://user:s3cretword@example.com/hook", "s3cretword"),
])
def test_a_saved_alert_address_is_shown_without_its_secret_and_removed_by_that(workspace, url, secret):
    add_alert_url(workspace, url)
    shown = shown_alert_url(url)
    assert secret not in shown
    assert workspace.reload_config().alert_urls == (url,)  # the file keeps the whole address
    remove_alert_url(workspace, alert_url_key(url))
    assert workspace.reload_config().alert_urls == ()


def test_removing_an_address_leaves_its_twin_that_differs_only_in_its_secret(workspace):
    """Rotating a password (add the new, remove the old): Remove on one removed both, and no address was left."""
    old, new = "json://user:oldsecret@example.com/hook", "json://user:newsecret@example.com/hook"
    add_alert_url(workspace, old)
    add_alert_url(workspace, new)
    assert shown_alert_url(old) == shown_alert_url(new)  # the page cannot tell them apart by what it shows
    remove_alert_url(workspace, alert_url_key(old))
    assert workspace.reload_config().alert_urls == (new,)


def test_two_people_adding_at_once_both_keep_theirs(workspace):
    other = Workspace.open(workspace.root)  # a colleague's session: its own view of project.toml
    first = source_settings(workspace, "accounts", "@alice", serving_others=LOCAL)
    second = source_settings(other, "accounts", "@bob", serving_others=LOCAL)
    add_source(workspace, first)
    add_source(other, second)
    add_source(other, second)  # pressed twice
    assert workspace.reload_config().sources == (first, second)
    remove_source(workspace, first)
    remove_source(other, first)  # already gone: nothing else goes with it
    assert workspace.reload_config().sources == (second,)
    assert [s.name for s in build_sources(workspace)] == ["accounts:@bob"]


def test_a_test_alert_says_what_each_destination_answered(workspace):
    with Webhook() as up, Webhook() as down:
        down.down = True
        for url in (up.apprise_url, down.apprise_url, "json://127.0.0.1:9/nobody"):
            add_alert_url(workspace, url)
        answers = send_test_alert(workspace)
        assert [a.received for a in answers] == [True, False, False]
        assert [m["title"] for m in up.received] == ["Lookout: test alert"]
        assert "500" in answers[1].words  # what the webhook answered, not only "failed"
        assert "Connection error" in answers[2].words


def test_a_link_added_from_the_page_is_checked_again_when_fetched(workspace, tmp_path, dataset):
    """A name that was public when typed may point inside later: the page's links are fetched
    through the same check as the page's own downloads; the operator's own are trusted."""
    with VideoServer({"clip.mp4": dataset / "Biden.mp4"}) as videos:
        url = f"{videos.url}/clip.mp4"
        for public_only, fetched in ((True, 0), (False, 1)):
            settings = {"kind": "urls", "urls": [url], "public_only": public_only, "timeout_s": 5}
            add_source(workspace, settings)
            source = next(s for s in build_sources(workspace) if s.settings == settings)
            result = source.fetch()
            assert len(result.videos) == fetched, result.errors
            if not fetched:
                assert "not a public" in " ".join(result.errors)
