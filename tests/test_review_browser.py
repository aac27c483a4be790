"""Review and retraining in headless Chromium, on the shared frames and the face model: an answered
"may be wrong" item leaves the queue (page and command line), and a refused version leads somewhere."""

import os
import shutil
import subprocess
import sys

import pytest

from data.frames import frame_by_id_or_name
from data.labels import set_labels
from data.workspace import Workspace
from labeler.queue import build_queue, save_queue
from tests.app_server import ARGS, CHROMIUM, needs_chromium, running_app
from tests.test_browser import SCREENSHOTS
from tests.test_label_keys import give_name
from trainer.registry import load_model
from trainer.train import train_model

pytestmark = needs_chromium


@pytest.fixture
def face_workspace(tmp_path, trained_face_workspace, feature_cache, monkeypatch):
    """A copy of the trained workspace (its model active), features from the run's cache."""
    monkeypatch.setenv("LOOKOUT_FEATURE_CACHE", str(feature_cache))
    trained, _ = trained_face_workspace
    shutil.copytree(trained.root, tmp_path / "ws")
    return Workspace.open(tmp_path / "ws")


def _browser(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=ARGS).new_page(viewport={"width": 1400, "height": 1100})


def test_an_answered_may_be_wrong_item_leaves_the_queue(face_workspace, face_backbone, feature_cache):
    from playwright.sync_api import expect, sync_playwright

    ws = face_workspace
    model = load_model(ws, "active")
    queue = build_queue(ws, strategy="mislabeled", limit=10, model=model, backbone=face_backbone)
    assert queue, "the face model doubts some labels of the shared frames"
    save_queue(ws, queue, model.version)
    first = queue[0]
    label = frame_by_id_or_name(ws.db, first.frame_id)["label"]
    with running_app(ws.root, LOOKOUT_FEATURE_CACHE=str(feature_cache)) as url, sync_playwright() as p:
        page = _browser(p)
        page.goto(url)
        page.get_by_role("link", name="Review").click()
        give_name(page, "alice")
        expect(page.get_by_text(f"{first.file_name} (")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("a label that may be wrong").first).to_be_visible()
        page.get_by_role("button", name="Which face?").click()  # the faces the model judged, each with its score
        expect(page.get_by_text("The frame's score is its face most like a target")).to_be_visible(timeout=120_000)
        expect(page.get_by_text("face 1:")).to_be_visible()
        page.screenshot(path=SCREENSHOTS / "review-which-face.png", full_page=True)
        page.get_by_role("button", name=f"{ws.config.classes[label]} ({label})").click()  # "the label is right"
        expect(page.get_by_text(f"{first.file_name} (")).to_have_count(0, timeout=30_000)  # it stayed, before
        expect(page.get_by_text(f"{len(queue) - 1} frames in the queue")).to_be_visible(timeout=30_000)
        page.context.browser.close()
    answers = ws.db.execute("SELECT COUNT(*) FROM label_actions WHERE source = 'review'").fetchone()[0]
    assert answers == 1  # one confirmation, recorded once
    listed = subprocess.run([sys.executable, "-m", "labeler", "queue", "--strategy", "mislabeled", "--limit", "10",
                             "--workspace", str(ws.root)], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "LOOKOUT_FEATURE_CACHE": str(feature_cache)})
    assert listed.returncode == 0, listed.stderr
    assert first.file_name not in listed.stdout and queue[1].file_name in listed.stdout


def test_a_refused_version_leads_to_relabeling_its_changed_test_frames(face_workspace, face_backbone, feature_cache):
    from playwright.sync_api import expect, sync_playwright

    ws = face_workspace
    # a hurried labeler calls most training-side Trump frames "no target": the next version finds him less
    rows = ws.db.execute("""SELECT id FROM frames WHERE label = 1
                            AND sha256 NOT IN (SELECT sha256 FROM test_set WHERE is_test = 1)""").fetchall()
    set_labels(ws, {r["id"]: 0 for r in rows[: len(rows) * 3 // 4]})
    worse = train_model(ws, backbone=face_backbone).version
    with running_app(ws.root, LOOKOUT_FEATURE_CACHE=str(feature_cache)) as url, sync_playwright() as p:
        page = _browser(p)
        page.goto(url)
        page.get_by_role("link", name="Train").click()
        give_name(page, "alice")
        page.get_by_label("Model version").click()
        page.get_by_role("option", name=worse).click()
        expect(page.get_by_text("Worse than the active version")).to_be_visible(timeout=180_000)
        expect(page.get_by_text("What you can do")).to_be_visible()
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "train-refused.png", full_page=True)
        relabel = page.get_by_role("button", name="Relabel no target").first
        relabel.click()
        expect(page.get_by_text("the versions were compared again")).to_be_visible(timeout=180_000)
        expect(page.get_by_text("labeled no target: active says").first).to_be_visible(timeout=60_000)
        page.context.browser.close()
    relabeled = ws.db.execute("SELECT who, reason FROM label_actions ORDER BY id DESC LIMIT 1").fetchone()
    assert tuple(relabeled) == ("alice", "comparison")
