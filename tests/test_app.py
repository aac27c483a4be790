"""The app's pages, rendered headless with Streamlit's test runner."""

import time

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from data.importer import import_folder
from data.workspace import Workspace
from tests.media import save_image


@pytest.fixture
def ws_env(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOKOUT_WORKSPACE", str(tmp_path / "ws"))
    return tmp_path / "ws"


def page(name: str) -> AppTest:
    return AppTest.from_string(f"from ui import {name}\n{name}.page()", default_timeout=60)


def small_workspace(root, tmp_path, n=6):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(n):
        save_image(folder / f"frame{i * 40}.jpg", i)
    (folder / "mapping_trump.csv").write_text("Image_ID,Class\nframe0.jpg,0\n")
    ws = Workspace.open(root)
    import_folder(ws, folder)
    return ws


def test_empty_workspace_explains_what_to_do(ws_env):
    app = AppTest.from_file("../app.py", default_timeout=60).run()
    assert not app.exception
    assert "workspace is empty" in app.info[0].value


def test_dataset_page_imports_a_folder(ws_env, dataset):
    app = page("dataset").run()
    app.text_input[0].input(str(dataset / "Data_deeplearning"))
    app.button[0].click().run()
    assert not app.exception and not app.error
    assert "Imported 584 new frames" in app.success[0].value
    assert "Rows whose image is missing: 1" in app.code[0].value


def test_label_page_labels_skips_and_undoes(ws_env, tmp_path):
    ws = small_workspace(ws_env, tmp_path)
    app = page("label").run()
    assert not app.exception
    app.button(key="class-1").click().run()
    labels = dict(pd.read_csv(ws.mapping_csv).values)
    assert labels == {"frame0.jpg": 0, "frame40.jpg": 1}
    app.button(key="skip").click().run()
    app.button(key="class-0").click().run()
    assert dict(pd.read_csv(ws.mapping_csv).values) == {"frame0.jpg": 0, "frame40.jpg": 1, "frame120.jpg": 0}
    app.button(key="undo").click().run()
    assert "frame120.jpg" not in dict(pd.read_csv(ws.mapping_csv).values)


def test_label_page_on_a_fully_labeled_workspace(ws_env, tmp_path):
    ws = small_workspace(ws_env, tmp_path, n=1)
    app = page("label").run()
    assert not app.exception and "Every frame is labeled" in app.success[0].value
    assert ws.root.exists()


def test_train_page_trains_in_the_background_and_activates(ws_env, tmp_path, random_vgg16, monkeypatch):
    weights = tmp_path / "random.weights.h5"
    random_vgg16.model.save_weights(weights)
    monkeypatch.setenv("LOOKOUT_VGG16_WEIGHTS", str(weights))
    monkeypatch.setenv("LOOKOUT_FEATURE_CACHE", str(tmp_path / "features"))
    from tests.test_training import colour_frames

    ws = Workspace.open(ws_env)
    import_folder(ws, colour_frames(tmp_path / "frames"))
    app = page("train").run()
    assert not app.exception and "No model yet" in app.info[0].value
    app.button[0].click().run()
    deadline = time.time() + 300
    while not list(ws.models_dir.glob("*/model.json")) and time.time() < deadline:
        time.sleep(1)
    app.run()
    assert not app.exception and not app.error
    assert app.selectbox[1].value  # the new version is listed with its metrics
    assert len(app.dataframe) >= 2
    activate_button = next(b for b in app.button if b.label == "Activate for the monitor")
    activate_button.click().run()
    assert (ws.models_dir / "ACTIVE").read_text() == app.selectbox[1].value


@pytest.fixture
def random_weights(tmp_path, random_vgg16, monkeypatch):
    weights = tmp_path / "random.weights.h5"
    random_vgg16.model.save_weights(weights)
    monkeypatch.setenv("LOOKOUT_VGG16_WEIGHTS", str(weights))
    monkeypatch.setenv("LOOKOUT_FEATURE_CACHE", str(tmp_path / "features"))


def test_review_page_labels_queue_items_and_judges_videos(ws_env, tmp_path, random_weights):
    from data.capture import capture_frames
    from tests.media import make_video

    ws = small_workspace(ws_env, tmp_path)
    capture_frames(ws, make_video(tmp_path / "clip.mp4", [7, 8, 9]))
    app = page("review").run()
    assert not app.exception and not app.error
    assert "no model yet" in app.markdown[0].value
    app.button(key="review-1").click().run()
    assert ws.db.execute(
        "SELECT COUNT(*) FROM label_actions WHERE source = 'review' AND reason = 'cold_start'"
    ).fetchone()[0] == 1
    next(b for b in app.button if b.label == "None of these show target").click().run()
    assert not app.exception
    labels = {r[0] for r in ws.db.execute("SELECT label FROM frames WHERE video_id IS NOT NULL")}
    assert labels == {0}


def test_monitor_page_without_a_model_says_what_to_do(ws_env):
    app = page("monitor").run()
    assert not app.exception and "No active model yet" in app.info[0].value


def test_monitor_page_runs_a_cycle_and_lists_the_verdicts(ws_env, tmp_path, random_weights):
    import shutil

    from data.config import ProjectConfig
    from tests.media import make_video
    from tests.test_training import colour_frames
    from trainer.registry import activate
    from trainer.train import train_model

    trend = tmp_path / "trend"
    trend.mkdir()
    make_video(trend / "clip.mp4", [1, 2])
    ws = Workspace.open(ws_env, config=ProjectConfig(sources=({"kind": "folder", "path": str(trend)},)))
    import_folder(ws, colour_frames(tmp_path / "frames"))
    activate(ws, train_model(ws, backbone="vgg16", epochs=1).version)  # the weights the app will load
    app = page("monitor").run()
    assert not app.exception and "Active model" in app.caption[0].value
    next(b for b in app.button if b.label == "Run one monitor cycle now").click().run()
    deadline = time.time() + 120
    while not ws.db.execute("SELECT COUNT(*) FROM video_scores").fetchone()[0] and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(1)
    app.run()
    assert not app.exception
    assert "Cycle done: 1 scored" in app.success[0].value
    assert len(app.dataframe) >= 2  # recent videos and source health
    shutil.rmtree(trend)


def test_dataset_page_resolves_conflicting_labels(ws_env, tmp_path):
    folder = tmp_path / "conflict"
    folder.mkdir()
    save_image(folder / "a.jpg", 1)
    save_image(folder / "b.jpg", 2)
    (folder / "mapping_trump.csv").write_text("Image_ID,Class\na.jpg,0\na.jpg,1\nb.jpg,1\n")
    ws = Workspace.open(ws_env)
    import_folder(ws, folder)
    app = page("dataset").run()
    assert not app.exception
    assert any("Conflicting labels to resolve (1)" in h.value for h in app.subheader)
    next(b for b in app.button if b.key and b.key.endswith("-1")).click().run()
    assert dict(pd.read_csv(ws.mapping_csv).values) == {"a.jpg": 1, "b.jpg": 1}
    assert not any("Conflicting" in h.value for h in app.subheader)


def test_label_page_shows_the_models_guess_once_features_exist(ws_env, tmp_path, random_weights):
    from labeler.scores import frame_features
    from tests.test_training import colour_frames
    from trainer.backbones import load_backbone
    from trainer.registry import activate
    from trainer.train import train_model

    ws = Workspace.open(ws_env)
    import_folder(ws, colour_frames(tmp_path / "frames"))
    activate(ws, train_model(ws, backbone="vgg16", epochs=1).version)
    save_image(tmp_path / "new.jpg", 99)
    import_folder(ws, _folder_with(tmp_path / "more", tmp_path / "new.jpg"))
    app = page("label").run()
    assert not any("guess" in c.value for c in app.caption)  # not computed yet: no waiting for it
    frame_features(ws, load_backbone("vgg16"), ws.db.execute("SELECT * FROM frames WHERE label IS NULL").fetchall())
    app.run()
    assert any(c.value.startswith("The model's guess: ") for c in app.caption)


def _folder_with(folder, image):
    folder.mkdir()
    (folder / image.name).write_bytes(image.read_bytes())
    return folder
