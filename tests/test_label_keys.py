"""Key presses in Chromium, faster than the page redraws: a label lands only on the frame that
was on screen when its key was pressed, and a press is either stored or shown as refused."""

from __future__ import annotations

import random
import re
import time

import pytest

from data.importer import import_folder
from data.workspace import Workspace
from tests.app_server import ARGS, CHROMIUM, needs_chromium, running_app
from tests.media import save_image

pytestmark = needs_chromium
PRESSES = 30
NAME = re.compile(r"(shot\d+\.png) \(")


@pytest.fixture
def unlabeled(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(3 * PRESSES + 10):
        save_image(folder / f"shot{i}.png", i)
    ws = Workspace.open(tmp_path / "ws")
    import_folder(ws, folder)
    ws.close()
    return ws.root


def give_name(page, name: str) -> None:
    """Type the labeler's name in the sidebar, as the Label page asks before any label."""
    box = page.get_by_label("Your name (kept with each label you give)")
    box.fill(name)
    box.press("Enter")
    box.blur()  # keys typed into the box are the box's, not labels


# Notes, at the moment of each key press, the captions of the frames the page shows.
RECORD_SCREEN = """
window.__screenAtPress = [];
window.addEventListener("keydown", (event) => {
  const hosts = [...document.querySelectorAll("*")].filter((e) => e.shadowRoot && e.isConnected);
  const captions = [document, ...hosts.map((e) => e.shadowRoot)]
    .flatMap((root) => [...root.querySelectorAll("figure.frame figcaption")])
    .map((c) => c.textContent).filter(Boolean);
  window.__screenAtPress.push([captions, event.key]);
}, true);
"""


def screen_at_presses(page) -> list[tuple[set[str], str]]:
    """(file names on screen, key) for every key press, as the page recorded them (while the page
    redraws, the old and the new frame element can both be there for a moment)."""
    return [({m[1] for text in texts if (m := NAME.search(text))}, key)
            for texts, key in page.evaluate("window.__screenAtPress")]


def test_every_label_is_on_the_frame_that_was_on_screen_when_its_key_was_pressed(unlabeled):
    from playwright.sync_api import expect, sync_playwright

    rng = random.Random(7)
    with running_app(unlabeled) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url + "/label")
        give_name(page, "alice")
        expect(page.get_by_role("button", name="target (1)")).to_be_visible(timeout=60_000)
        page.evaluate(RECORD_SCREEN)
        for gap in (0.05, 0.15, 0.4):
            for _ in range(PRESSES):
                page.keyboard.press(rng.choice("01"))
                time.sleep(gap)
        presses = screen_at_presses(page)
        assert len(presses) == 3 * PRESSES
        settled, seen_before, deadline = 0, None, time.monotonic() + 30
        while settled < 3 and time.monotonic() < deadline:  # until the page stops changing
            time.sleep(1)
            note = page.get_by_text(re.compile(r"\d+ refused press(es)?\b"))
            refused = int(re.search(r"(\d+) refused", note.first.inner_text())[1]) if note.count() else 0
            now = (refused, len(labels_by(unlabeled, "alice")))
            settled, seen_before = (settled + 1 if now == seen_before else 0), now
        browser.close()

    stored = labels_by(unlabeled, "alice")
    seen = {(name, key) for shown, key in presses for name in shown}
    wrong = [(r["file_name"], r["class"]) for r in stored if (r["file_name"], str(r["class"])) not in seen]
    assert wrong == []  # a "0" pressed on frame A was saved on frame B
    assert len(stored) + refused == len(presses)  # 4 of 6 presses were dropped with no sign


def labels_by(root, who: str) -> list:
    ws = Workspace.open(root)
    rows = ws.db.execute(
        """SELECT f.file_name, h.class FROM label_history h JOIN label_actions a ON a.id = h.action_id
           JOIN frames f ON f.id = h.frame_id WHERE a.source = 'label' AND a.who = ? ORDER BY h.id""",
        (who,),
    ).fetchall()
    ws.close()
    return rows


def test_every_page_is_bookmarkable_even_on_an_empty_workspace(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    root = tmp_path / "empty"
    Workspace.open(root).close()
    with running_app(root) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        for path, title in [("", "Dataset"), ("/label", "Label"), ("/review", "Review"), ("/train", "Train"),
                            ("/monitor", "Monitor"), ("/dataset", "Dataset")]:
            page.goto(url + path)  # /label said "Page not found" while the workspace was empty
            expect(page.locator("h1").first).to_have_text(title, timeout=60_000)
            assert page.get_by_text("Page not found").count() == 0
        browser.close()


def frame_on_screen(page) -> str:
    """The file name in the caption of the frame the Label page shows now."""
    caption = page.locator("figure.frame figcaption").last
    return NAME.search(caption.inner_text(timeout=60_000))[1]


def test_two_labelers_in_two_browsers_see_different_frames_undo_their_own_and_agree(unlabeled):
    from playwright.sync_api import expect, sync_playwright

    with running_app(unlabeled) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pages = {}
        for name in ("alice", "bob"):  # two contexts: two browsers' storage, two people
            pages[name] = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            pages[name].goto(url + "/label")
            give_name(pages[name], name)
            expect(pages[name].get_by_role("button", name="target (1)")).to_be_visible(timeout=60_000)
        alice, bob = pages["alice"], pages["bob"]
        pages["alice"].reload()  # both pages drawn again, each keeping its own frame
        expect(alice.get_by_role("button", name="target (1)")).to_be_visible(timeout=60_000)
        shown = {name: frame_on_screen(page) for name, page in pages.items()}
        assert shown["alice"] != shown["bob"]  # two tabs showed the same frame

        for name, key in (("alice", "1"), ("bob", "0")):
            pages[name].keyboard.press(key)
            expect(pages[name].locator("figure.frame figcaption").last).not_to_contain_text(shown[name], timeout=60_000)
        bob.keyboard.press("u")
        expect(bob.get_by_text(f"Undone: your last label, on {shown['bob']}")).to_be_visible(timeout=60_000)
        assert [(r["file_name"], r["class"]) for r in labels_by(unlabeled, "alice")] == [(shown["alice"], 1)]

        bob.get_by_text("Second opinion: label frames someone else labeled").click()
        expect(bob.locator("figure.frame figcaption").last).to_contain_text(shown["alice"], timeout=60_000)
        bob.keyboard.press("0")  # bob disagrees with alice
        expect(bob.get_by_text("No frame is left for a second opinion")).to_be_visible(timeout=60_000)
        alice.goto(url + "/dataset")
        expect(alice.get_by_text("Agreement between labelers")).to_be_visible(timeout=60_000)
        expect(alice.get_by_text(f"{shown['alice']}: alice said target, bob said no target")).to_be_visible()

        # a typed name is not a login: a third browser typing "alice" undid her work
        other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        other.goto(url + "/label")
        give_name(other, "alice")
        expect(other.get_by_role("button", name="target (1)")).to_be_visible(timeout=60_000)
        other.keyboard.press("u")
        expect(other.get_by_text("Nothing of yours to undo in this browser.")).to_be_visible(timeout=60_000)
        assert [(r["file_name"], r["class"]) for r in labels_by(unlabeled, "alice")] == [(shown["alice"], 1)]
        alice.goto(url + "/label")  # her own browser, reloaded, still can
        expect(alice.get_by_role("button", name="target (1)")).to_be_visible(timeout=60_000)
        # ...and the box shows the name her labels are recorded under (it was empty after a reload)
        expect(alice.get_by_label("Your name (kept with each label you give)")).to_have_value("alice")
        alice.keyboard.press("u")
        expect(alice.get_by_text(f"Undone: your last label, on {shown['alice']}")).to_be_visible(timeout=60_000)
        browser.close()
