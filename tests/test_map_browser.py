"""The map page in headless Chromium: a box dragged over the map labels the frames inside it."""

import numpy as np
import pytest

from data.config import ProjectConfig
from data.importer import import_folder
from data.workspace import Workspace
from labeler.frame_map import load_map
from labeler.similar import SimilarityIndex
from tests.app_server import ARGS, CHROMIUM, needs_chromium, running_app
from tests.test_browser import SCREENSHOTS
from tests.test_label_keys import give_name

pytestmark = needs_chromium


@pytest.fixture
def unlabeled_shared_frames(tmp_path, dataset, feature_cache, trained_face_workspace):
    """The shared frames without their labels; trained_face_workspace has cached their face features."""
    empty_csv = tmp_path / "no-labels.csv"
    empty_csv.write_text("Image_ID,Class\n")
    ws = Workspace.open(tmp_path / "ws", config=ProjectConfig(name="Trump", classes=("no target", "Trump"), backbone="face"))
    import_folder(ws, dataset / "Data_deeplearning", empty_csv)
    return ws


def test_dragging_a_box_on_the_map_labels_the_frames_inside_it(unlabeled_shared_frames, feature_cache, face_backbone):
    from playwright.sync_api import expect, sync_playwright

    ws = unlabeled_shared_frames
    with running_app(ws.root, LOOKOUT_FEATURE_CACHE=str(feature_cache)) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(f"{url}/map")
        give_name(page, "alice")
        canvas = page.locator(".vega-embed canvas, .vega-embed svg").first
        expect(canvas).to_be_visible(timeout=240_000)  # the map is drawn in the background first
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.7, steps=12)
        page.mouse.up()
        expect(page.get_by_text("frames selected")).to_be_visible(timeout=60_000)
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "map.png", full_page=True)
        button = page.get_by_role("button", name="frames Trump")
        chosen = int(button.inner_text().split()[1])
        assert chosen > 0
        button.click()
        expect(page.get_by_text(f"{chosen} frames labeled Trump")).to_be_visible(timeout=60_000)
        browser.close()
    points = load_map(SimilarityIndex(ws, face_backbone))
    on_map = dict(zip(points.shas.tolist(), points.xy))
    labels = dict(ws.db.execute("SELECT sha256, label FROM frames").fetchall())
    labeled = np.array([xy for sha, xy in on_map.items() if labels[sha] == 1])
    others = np.array([xy for sha, xy in on_map.items() if labels[sha] is None])
    assert len(labeled) == chosen
    (x0, y0), (x1, y1) = labeled.min(axis=0), labeled.max(axis=0)
    # a box selected them: no frame left unlabeled lies within the box they span
    assert not ((others[:, 0] >= x0) & (others[:, 0] <= x1) & (others[:, 1] >= y0) & (others[:, 1] <= y1)).any()
