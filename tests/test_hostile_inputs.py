"""What a hostile or careless page user types, as tables: each row is an input, what must
happen, and that nothing else changed. Every attack found becomes a row here."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from data.access import check_public_url, server_folder
from data.errors import LookoutError
from data.importer import import_folder
from monitor.download import Limits, download
from tests.media import make_video, save_image
from tests.servers import VideoServer

SECRET = "lookout-probe-secret-7731"


def frames_in(ws) -> int:
    return ws.db.execute("SELECT COUNT(*) FROM frames").fetchone()[0]


@pytest.fixture
def image_folder(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(2):
        save_image(folder / f"frame{i}.jpg", i)
    return folder


# --- server files: a path typed as the mapping CSV ----------------------------------------

@pytest.mark.parametrize(
    "csv, message",
    [
        ("/proc/self/environ", "is not a regular file"),  # showed the server's environment
        ("/etc/passwd", "first line must be the header"),  # showed its first line
        ("/dev/zero", "is not a regular file"),  # exhausted memory
        ("/etc", "is a folder"),
        ("/no/such/file.csv", "does not exist"),
    ],
)
def test_a_server_file_as_csv_is_refused_without_showing_it(workspace, image_folder, monkeypatch, csv, message):
    monkeypatch.setenv("LOOKOUT_PROBE", SECRET)
    with pytest.raises(LookoutError, match=message) as caught:
        import_folder(workspace, image_folder, Path(csv))
    text = str(caught.value)
    assert SECRET not in text and "root:" not in text
    assert frames_in(workspace) == 0


# --- server folders: what a page user may import from ---------------------------------------

def test_server_folders_follow_the_operators_roots(tmp_path, image_folder):
    (image_folder / "escape").symlink_to("/etc")
    cases = [
        # (typed, roots, served to others, allowed?)
        (str(image_folder), None, False, True),  # the journalist's own computer
        ("/etc", None, True, False),  # served, nothing configured: off
        (str(image_folder), None, True, False),
        ("/etc", (str(tmp_path),), True, False),  # outside the roots
        (str(image_folder), (str(tmp_path),), True, True),
        (str(image_folder / "escape"), (str(tmp_path),), True, False),  # a link out of a root
        (f"{image_folder}/../../../../etc", (str(tmp_path),), True, False),
        (str(tmp_path / "missing"), (str(tmp_path),), True, False),
    ]
    for typed, roots, serving, allowed in cases:
        if allowed:
            assert server_folder(typed, roots=roots, serving_others=serving) == Path(typed).resolve()
        else:
            with pytest.raises(LookoutError) as caught:
                server_folder(typed, roots=roots, serving_others=serving)
            assert "/etc/" not in str(caught.value).replace(typed, "")  # nothing resolved is echoed


# --- URLs a page user types ---------------------------------------------------------------

@pytest.mark.parametrize(
    "url, allowed_hosts, message",
    [
        ("http://127.0.0.1:9/x.mp4", (), "not a public web host"),  # mapped the server's ports
        ("http://localhost:8501/", (), "not a public web host"),
        ("http://[::1]/x", (), "not a public web host"),
        ("http://169.254.169.254/latest/meta-data/", (), "not a public web host"),  # cloud metadata
        ("http://10.1.2.3/x.mp4", (), "not a public web host"),
        ("http://192.168.0.1/", (), "not a public web host"),
        ("http://0.0.0.0:22/", (), "not a public web host"),
        ("http://[::ffff:127.0.0.1]/", (), "not a public web host"),
        ("http://2130706433/", (), "not a public web host"),  # 127.0.0.1 as a number
        ("http://no-such-host.invalid/v.mp4", (), "not a public web host"),
        ("ytsearch:trump", (), "not a web address"),  # made outbound searches
        ("file:///etc/passwd", (), "not a web address"),
        ("ftp://example.com/v.mp4", (), "not a web address"),
        ("http://127.0.0.1:9/x.mp4", ("127.0.0.1",), None),  # the operator allowed it
        ("https://93.184.215.14/v.mp4", (), None),  # a public address
    ],
)
def test_page_urls_must_go_to_public_hosts(url, allowed_hosts, message):
    if message is None:
        assert check_public_url(url, allowed_hosts=allowed_hosts) == url
    else:
        with pytest.raises(LookoutError, match=message):
            check_public_url(url, allowed_hosts=allowed_hosts)


def test_a_redirect_to_an_internal_address_is_not_followed(tmp_path):
    """An allowed host that redirects elsewhere: every connection is checked, not only the first."""
    clip = make_video(tmp_path / "clip.mp4", [1, 2])
    with VideoServer({"clip.mp4": clip}) as inner, VideoServer({}) as outer:
        internal = inner.url.replace("127.0.0.1", "127.0.0.2") + "/clip.mp4"
        outer.faults["go"] = ("redirect", internal)
        start = outer.url.replace("127.0.0.1", "localhost") + "/go"
        videos, error = download(start, tmp_path / "in", allowed_hosts=("localhost",))
        assert videos == [] and "not a public web host" in error
        assert inner.requests == []  # never contacted
        videos, error = download(inner.url + "/clip.mp4", tmp_path / "ok", allowed_hosts=("127.0.0.1",))
        assert error is None and len(videos) == 1


# --- downloads that never end, never stop growing, or run too long -------------------------

@pytest.mark.parametrize(
    "fault, limits, message",
    [
        ("drip", Limits(deadline_s=6), "gave up after 6 s"),  # ran past 150 s
        ("endless", Limits(max_bytes=2 << 20), "larger than 2 MB"),  # no length, never stops
        ("huge", Limits(max_bytes=2 << 20), "larger than the size cap"),  # 3 GiB, was downloaded twice
    ],
)
def test_downloads_are_bounded_and_leave_nothing_behind(tmp_path, fault, limits, message):
    with VideoServer({}) as server:
        server.faults["v.mp4"] = fault
        started = time.monotonic()
        videos, error = download(f"{server.url}/v.mp4", tmp_path / "in", limits=limits)
    assert videos == [] and message in error
    assert time.monotonic() - started < limits.deadline_s + 10
    left = [p.name for p in (tmp_path / "in").iterdir() if p.name != "downloaded.txt"]
    assert left == []
    assert sum(p.stat().st_size for p in (tmp_path / "in").iterdir()) < limits.max_bytes


def test_a_video_over_the_duration_cap_is_not_kept_when_its_length_was_unknown(tmp_path):
    clip = make_video(tmp_path / "long.mp4", list(range(12)), fps=5)  # 12 s, no length on the page
    with VideoServer({"long.mp4": clip}) as server:
        videos, error = download(f"{server.url}/long.mp4", tmp_path / "in", limits=Limits(max_duration_s=5))
    assert videos == [] and "over the 5 s cap" in error
    assert not [p for p in (tmp_path / "in").iterdir() if p.suffix == ".mp4"]


def test_a_stopped_download_leaves_no_process_behind(tmp_path):
    with VideoServer({}) as server:
        server.faults["v.mp4"] = "drip"
        download(f"{server.url}/v.mp4", tmp_path / "in", limits=Limits(deadline_s=3))
    time.sleep(0.5)
    workers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _is_fetch_worker(p)]
    assert workers == []


def _is_fetch_worker(proc: Path) -> bool:
    try:
        return b"monitor.fetch_worker" in (proc / "cmdline").read_bytes() and int(proc.name) != os.getpid()
    except OSError:
        return False


def test_a_command_source_that_times_out_stops_its_whole_pipeline(tmp_path):
    from data.config import ProjectConfig
    from data.workspace import Workspace
    from monitor.sources import build_sources

    seconds = f"61.{os.getpid()}"  # an argument only this test's pipeline has
    settings = {"kind": "command", "command": f'sh -c "sleep {seconds} | cat"',
                "folder": str(tmp_path / "scraped"), "timeout_s": 1}
    ws = Workspace.open(tmp_path / "ws", config=ProjectConfig(sources=(settings,)))
    (source,) = build_sources(ws)
    assert "timed out after 1 s" in source.fetch().errors[0]
    time.sleep(0.3)
    left = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, seconds.encode())]
    assert left == []  # `sh -c "sleep 60 | cat"` left both running


def _cmdline_has(proc: Path, text: bytes) -> bool:
    try:
        return text in (proc / "cmdline").read_bytes()
    except OSError:
        return False


# --- the same attacks through the app's pages ----------------------------------------------

@pytest.fixture
def dataset_page(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("LOOKOUT_WORKSPACE", str(tmp_path / "ws"))
    return AppTest.from_string("from ui import dataset\ndataset.page()", default_timeout=60)


@pytest.fixture
def served_to_others():
    from streamlit import config

    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    yield
    config.set_option("server.address", before)


def test_a_served_app_imports_no_server_folder(dataset_page, image_folder, served_to_others):
    app = dataset_page.run()
    next(t for t in app.text_input if t.label.startswith("Folder")).input(str(image_folder))
    next(b for b in app.button if b.label == "Import").click().run()
    assert "Importing from a folder on the server is off" in app.error[0].value
    from data.workspace import Workspace

    assert frames_in(Workspace.open(os.environ["LOOKOUT_WORKSPACE"])) == 0


def test_the_capture_box_refuses_the_servers_network_until_the_operator_allows_it(dataset_page, tmp_path):
    from data.workspace import Workspace
    from tests.test_app import rerun_until, success_text

    clip = make_video(tmp_path / "clip.mp4", [7, 8, 9])
    with VideoServer({"clip.mp4": clip}) as server:
        app = dataset_page.run()
        app.text_area(key="capture-urls").input(f"{server.url}/clip.mp4")
        next(b for b in app.button if b.label == "Capture frames").click().run()
        rerun_until(app, lambda a: a.error, timeout=60)
        assert "not a public web host" in app.error[0].value and server.requests == []

        ws = Workspace.open(os.environ["LOOKOUT_WORKSPACE"])
        ws.save_config(ws.config.__class__(**{**ws.config.__dict__, "allowed_hosts": ("127.0.0.1",)}))
        app = dataset_page.run()
        app.text_area(key="capture-urls").input(f"{server.url}/clip.mp4")
        next(b for b in app.button if b.label == "Capture frames").click().run()
        deadline = time.monotonic() + 120
        while "distinct" not in success_text(app.run()) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert frames_in(ws) == 3
