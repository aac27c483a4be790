"""The app's pages, rendered headless with Streamlit's test runner."""

import time

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from data.errors import LookoutError
from data.importer import import_folder
from data.workspace import Workspace
from tests.conftest import fill
from tests.media import save_image


def page(name: str, *, labeler: str | None = "tester") -> AppTest:
    """A page of the app, in a session whose person has given their name (None: not yet)."""
    app = AppTest.from_string(f"from ui import {name}\n{name}.page()", default_timeout=60)
    if labeler:
        app.session_state["labeler"] = labeler
    return app


def small_workspace(root, tmp_path, n=6):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(n):
        save_image(folder / f"frame{i * 40}.jpg", i)
    (folder / "mapping_trump.csv").write_text("Image_ID,Class\nframe0.jpg,0\n")
    ws = Workspace.open(root)
    import_folder(ws, folder)
    return ws


@pytest.mark.parametrize("name", ["label", "review", "train", "monitor", "dataset"])
def test_every_page_renders_on_an_empty_workspace(ws_env, name):
    app = page(name).run()
    assert not app.exception and not app.error
    assert app.title[0].value == name.capitalize()


def test_empty_workspace_explains_what_to_do(ws_env):
    app = AppTest.from_file("../app.py", default_timeout=60).run()
    assert not app.exception
    assert "workspace is empty" in app.info[0].value


def rerun_until(app: AppTest, shown, timeout: float = 300) -> AppTest:
    """Rerun the page until a background job's outcome shows (pages poll the same way)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        app.run()
        if app.exception or app.error or shown(app):
            return app
        time.sleep(0.5)
    raise AssertionError("the job's result never showed on the page")


def success_text(app: AppTest) -> str:
    return " ".join(s.value for s in app.success)


def test_dataset_page_imports_a_folder_in_the_background(ws_env, dataset):
    app = page("dataset").run()
    next(t for t in app.text_input if t.label.startswith("Folder")).input(str(dataset / "Data_deeplearning"))
    next(b for b in app.button if b.label == "Import").click().run()
    rerun_until(app, lambda a: "Imported" in success_text(a))
    assert not app.exception and not app.error
    assert "Imported 584 new frames" in success_text(app)
    assert "Rows whose image is missing: 1" in app.code[0].value


def test_first_run_names_the_targets_then_imports_a_zip_and_captures_a_video(ws_env, tmp_path):
    import zipfile

    from tests.media import make_video

    app = page("dataset").run()
    assert "workspace is empty" in app.info[0].value
    next(t for t in app.text_area if t.label.startswith("Targets")).input("Trump\nBiden")
    next(b for b in app.button if b.label == "Save project").click().run()
    assert not app.error and Workspace.open(ws_env).config.classes == ("no target", "Trump", "Biden")
    assert "Saved. Lookout looks for: Trump, Biden" in app.success[0].value
    per_class = next(t.value for t in app.dataframe if "frames" in t.value.columns)
    assert list(per_class.index)[:3] == ["no target", "Trump", "Biden"]  # it still said "target" until a reload

    archive = tmp_path / "frames.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(3):
            zf.write(save_image(tmp_path / f"frame{i}.jpg", i), f"shots/frame{i}.jpg")
        zf.writestr("shots/mapping_trump.csv", "Image_ID,Class\nframe0.jpg,2\nframe1.jpg,0\n")
    app.file_uploader[0].set_value(("frames.zip", archive.read_bytes(), "application/zip"))
    next(b for b in app.button if b.label == "Import the zip").click().run()
    rerun_until(app, lambda a: "Imported" in success_text(a))
    assert "Imported 3 new frames" in success_text(app)
    assert dict(pd.read_csv(ws_env / "mapping_trump.csv").values) == {"frame0.jpg": 2, "frame1.jpg": 0}
    assert not (ws_env / "uploads" / "frames.zip").exists()

    clip = make_video(tmp_path / "clip.mp4", [7, 8, 9])
    app.file_uploader[1].set_value(("clip.mp4", clip.read_bytes(), "video/mp4"))
    next(b for b in app.button if b.label == "Capture frames").click().run()
    rerun_until(app, lambda a: "distinct" in success_text(a))
    assert "3 frames sampled, 3 distinct" in success_text(app)
    ws = Workspace.open(ws_env)
    assert ws.db.execute("SELECT COUNT(*) FROM frames WHERE video_id IS NOT NULL").fetchone()[0] == 3


def press(app: AppTest, label: str) -> AppTest:
    """Click the Label page's button for the frame on screen (each frame has its own buttons)."""
    return next(b for b in app.button if b.label.startswith(label)).click()


def test_label_page_labels_skips_and_undoes(ws_env, tmp_path):
    ws = small_workspace(ws_env, tmp_path)
    app = page("label").run()
    assert not app.exception
    press(app, "target").run()
    labels = dict(pd.read_csv(ws.mapping_csv).values)
    assert labels == {"frame0.jpg": 0, "frame40.jpg": 1}
    press(app, "Skip").run()
    press(app, "no target").run()
    assert dict(pd.read_csv(ws.mapping_csv).values) == {"frame0.jpg": 0, "frame40.jpg": 1, "frame120.jpg": 0}
    app.button(key="undo").click().run()
    assert "frame120.jpg" not in dict(pd.read_csv(ws.mapping_csv).values)


def test_a_full_disk_is_one_line_on_the_page_and_the_label_lands_when_space_is_freed(small_disk, tmp_path, monkeypatch):
    root = small_disk("16m") / "ws"
    monkeypatch.setenv("LOOKOUT_WORKSPACE", str(root))
    ws = small_workspace(root, tmp_path)
    app = AppTest.from_file("../app.py", default_timeout=60)
    app.session_state["labeler"] = "tester"
    app.run()
    ballast = fill(root)
    press(app, "target").run()
    assert not app.exception and [e.value for e in app.error] == [
        f"The disk is full where Lookout writes {root}; free some space on it and try again."]
    assert dict(pd.read_csv(ws.mapping_csv).values) == {"frame0.jpg": 0}
    ballast.unlink()
    app.button(key="label-try-again").click().run()
    press(app, "target").run()
    assert not app.exception and not app.error
    assert dict(pd.read_csv(ws.mapping_csv).values) == {"frame0.jpg": 0, "frame40.jpg": 1}


def test_label_page_on_a_fully_labeled_workspace(ws_env, tmp_path):
    ws = small_workspace(ws_env, tmp_path, n=1)
    app = page("label").run()
    assert not app.exception and "Every frame is labeled" in app.success[0].value
    assert ws.root.exists()


@pytest.fixture
def colour_workspace(ws_env, tmp_path, random_vgg16, monkeypatch):
    """The app's workspace with labeled colour frames, and random VGG16 weights as the project's weights file."""
    from tests.test_training import colour_frames

    weights = tmp_path / "random.weights.h5"
    random_vgg16.model.save_weights(weights)
    monkeypatch.setenv("LOOKOUT_VGG16_WEIGHTS", str(weights))
    monkeypatch.setenv("LOOKOUT_FEATURE_CACHE", str(tmp_path / "features"))
    ws = Workspace.open(ws_env)
    import_folder(ws, colour_frames(tmp_path / "frames"))
    return ws


def test_train_page_trains_in_the_background_and_activates(colour_workspace):
    ws = colour_workspace
    app = page("train").run()
    assert not app.exception and "No model yet" in app.info[0].value
    app.button[0].click().run()
    assert "first model is training" in app.info[0].value  # it said "No model yet" while training ran
    # until the version is listed: its folder appears a moment before it is recorded (a rerun in between failed in CI)
    rerun_until(app, lambda a: len(a.selectbox) > 1)
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert app.selectbox[1].value  # the new version is listed with its metrics
    assert len(app.dataframe) >= 2
    activate_button = next(b for b in app.button if b.label == "Activate for the monitor")
    activate_button.click().run()
    assert (ws.models_dir / "ACTIVE").read_text() == app.selectbox[1].value
    # current without a reload: the picker says so, and Activate and Delete are gone
    assert app.selectbox[1].format_func(app.selectbox[1].value).endswith("active)")
    assert "now the model the monitor uses" in app.success[0].value
    assert not [b for b in app.button if b.label in ("Activate for the monitor", "Delete this version")]
    # in words: no raw JSON counts, no "f1" or "support" column
    shown = " ".join(c.value for c in app.caption) + " ".join(" ".join(map(str, t.value.columns)) for t in app.dataframe)
    assert "{" not in shown and "support" not in shown and "f1" not in shown and "precision and recall in one (F1)" in shown
    assert "perceptual" not in shown  # how test frames are kept apart, in words
    from trainer.registry import download_name

    assert download_name("Election desk", ("Trump", "Biden"), "v1") == "election_desk-trump_biden-v1.h5"  # was model.h5


def test_a_retrain_opens_on_the_new_version_and_activating_it_leaves_one_message(colour_workspace):
    """After training, the page said "Activate it below" while the picker stayed on the active version (no
    Activate, no comparison); after Activate, that message stayed beside the new one."""
    from trainer.registry import activate
    from trainer.train import train_model

    ws = colour_workspace
    first = train_model(ws, backbone="vgg16", epochs=1).version
    activate(ws, first)
    app = page("train").run()
    next(b for b in app.button if b.label == "Train a new model").click().run()
    rerun_until(app, lambda a: len(a.selectbox) > 1 and len(a.selectbox[1].options) == 2 and a.success)
    assert not app.exception and app.selectbox[1].value != first  # the version just trained, with its comparison
    assert any("against the active" in h.value for h in app.subheader)
    if app.error:  # worse on the test frames: the page offers to activate it anyway
        next(c for c in app.checkbox if c.label.startswith("Activate anyway")).check().run()
    next(b for b in app.button if b.label.startswith("Activate")).click().run()
    said = [s.value for s in app.success]
    assert sum("now the model the monitor uses" in s for s in said) == 1 and not any("Activate it below" in s for s in said)


def test_tensorflow_and_the_backbone_load_once_per_server_ahead_of_the_first_training(colour_workspace, monkeypatch):
    """"loading TensorFlow (the first time...)" showed on every training, for 17-60 s: each training loaded its
    own backbone, after the click."""
    import trainer.backbones
    from ui.workspace import _loaded_backbone, warm_up

    loads, load = [], trainer.backbones.load_backbone
    monkeypatch.setattr(trainer.backbones, "load_backbone", lambda *args, **kwargs: loads.append(args) or load(*args, **kwargs))
    _loaded_backbone.clear()
    warm_up.clear()
    warm_up(str(colour_workspace.root)).join()  # as the server starts (app.py)
    assert loads == [("vgg16",)]
    app = page("train").run()
    for _ in range(2):
        next(b for b in app.button if b.label.startswith("Train")).click().run()
        rerun_until(app, lambda a: not any("Training" in p.proto.text for p in a.get("progress")) and a.success)
    assert len(list((colour_workspace.models_dir).iterdir())) == 2 and loads == [("vgg16",)]  # no load after a click


def test_an_empty_workspace_warms_nothing_up(ws_env):
    """Loading the backbone beside a first import made the import take minutes on a busy machine."""
    from ui.workspace import warm_up

    Workspace.open(ws_env)
    warm_up.clear()
    assert warm_up(str(ws_env)) is None


def test_train_page_deletes_a_version_the_monitor_does_not_use(ws_env, tmp_path, random_vgg16, monkeypatch):
    monkeypatch.setenv("LOOKOUT_FEATURE_CACHE", str(tmp_path / "features"))
    from tests.test_training import colour_frames
    from trainer.registry import activate, list_models
    from trainer.train import train_model

    ws = Workspace.open(ws_env)
    import_folder(ws, colour_frames(tmp_path / "frames"))
    old, current = (train_model(ws, backbone=random_vgg16, epochs=1).version for _ in range(2))
    activate(ws, current)
    app = page("train").run()
    assert not [b for b in app.button if b.label.startswith("Delete")]  # the active version cannot be deleted
    app.selectbox[1].select(old).run()
    next(b for b in app.button if b.label == f"Delete {old}").click().run()
    assert not app.exception and f"Deleted {old}: 21" in app.success[0].value
    assert [card.version for card in list_models(ws)] == [current] and not (ws.models_dir / old).exists()


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
    app = rerun_until(page("review").run(), lambda a: a.markdown and "no model yet" in a.markdown[0].value)
    assert not app.exception and not app.error
    press(app, "target").run()
    assert ws.db.execute(
        "SELECT COUNT(*) FROM label_actions WHERE source = 'review' AND reason = 'cold_start'"
    ).fetchone()[0] == 1
    video_id = ws.db.execute("SELECT id FROM videos").fetchone()["id"]
    picker = next(b for b in app.selectbox if b.label == "Video")
    assert picker.format_func(video_id) == f"{video_id}: clip.mp4"  # not the server's path to it
    video_frames = [r["id"] for r in ws.db.execute("SELECT id FROM frames WHERE video_id = ? ORDER BY timestamp_s", (video_id,))]
    app.checkbox(key=f"video-{video_id}-tick-{video_frames[0]}").uncheck().run()
    next(b for b in app.button if b.label == "None of the ticked show target").click().run()
    labels = [r["label"] for r in ws.db.execute("SELECT label FROM frames WHERE video_id = ? ORDER BY timestamp_s", (video_id,))]
    assert labels == [None, 0, 0] and "2 frames labeled no target" in app.success[0].value
    app.button(key="review-undo").click().run()
    assert ws.db.execute("SELECT COUNT(*) FROM frames WHERE video_id = ? AND label IS NOT NULL", (video_id,)).fetchone()[0] == 0
    next(b for b in app.button if b.label.startswith("target is not in this video")).click().run()
    assert not app.exception
    labels = {r[0] for r in ws.db.execute("SELECT label FROM frames WHERE video_id IS NOT NULL")}
    assert labels == {0}


def test_judging_a_video_whose_frames_were_not_kept_says_so_and_labels_them_once_captured(ws_env, tmp_path, random_weights):
    """ "Trump is not in this video" on Biden.mp4 said "Recorded." and labeled 0 frames (a clear negative keeps
    none); after capturing its frames the page still said "You judged: absent" with 22 frames unlabeled."""
    from data.capture import capture_frames, record_video
    from tests.media import make_video

    ws = small_workspace(ws_env, tmp_path)
    clip = make_video(tmp_path / "clip.mp4", [7, 8, 9])
    video_id = record_video(ws, clip, url="https://www.tiktok.com/@someone/video/1")  # scored, no frame kept
    app = page("review").run()
    next(b for b in app.button if b.label.startswith("target is not in this video")).click().run()
    said = app.success[0].value
    assert not app.exception and "0 frames labeled" in said and "Capture the video" in said

    report = capture_frames(ws, clip)
    labels = [r["label"] for r in ws.db.execute("SELECT label FROM frames WHERE video_id = ?", (video_id,))]
    assert labels == [0, 0, 0] and report.judged_absent == 3 and "3 labeled no target" in report.summary()
    who = ws.db.execute("SELECT a.who FROM frames f JOIN label_actions a ON a.id = f.label_action WHERE f.video_id = ?",
                        (video_id,)).fetchone()[0]
    assert who == "tester"  # credited to the person who judged


def test_the_review_queue_is_ranked_once_for_two_people_and_a_reload(ws_env, tmp_path, random_weights, monkeypatch):
    """Ranking took the page itself (20 s at 100,000 frames): a reload started it over and two
    reviewers ranked twice. It is a job now, joined by whoever opens the page meanwhile."""
    import labeler.queue
    from ui.review import RANK_AHEAD_AT

    small_workspace(ws_env, tmp_path, n=RANK_AHEAD_AT + 10)  # more than the few left when the next are ranked
    ranked, build = [], labeler.queue.build_queue

    def slow_build(*args, **kwargs):
        ranked.append(1)
        time.sleep(3)
        return build(*args, **kwargs)

    monkeypatch.setattr(labeler.queue, "build_queue", slow_build)
    first = page("review", labeler="ana").run()
    assert not first.exception and "Ranking frames" in first.get("progress")[0].proto.text
    reloaded, second = page("review", labeler="ana").run(), page("review", labeler="ben").run()
    for app in (first, reloaded, second):
        rerun_until(app, lambda a: a.markdown and "no model yet" in a.markdown[0].value)
    assert len(ranked) == 1


def test_the_next_items_are_ranked_while_the_last_ones_are_worked_and_the_end_says_nothing_is_left(ws_env, tmp_path,
                                                                                                  random_weights):
    """Each time the queue ran out it ranked again for 78-95 s, then gave one item."""
    from data.labels import set_labels
    from ui.review import NOTHING_LEFT, RANK_AHEAD_AT

    ws = small_workspace(ws_env, tmp_path, n=71)  # 70 unlabeled: 50 are ranked first

    def in_queue(app) -> int:
        said = [c.value for c in app.caption if c.value.endswith("in the queue")]
        return int(said[0].split()[0]) if said else -1

    app = rerun_until(page("review").run(), lambda a: in_queue(a) == 50)
    queued = [r[0] for r in ws.db.execute("SELECT frame_id FROM review_queue ORDER BY position")]
    set_labels(ws, dict.fromkeys(queued[:50 - RANK_AHEAD_AT], 0), who="colleague")  # worked down to the last few
    app.run()
    assert in_queue(app) == RANK_AHEAD_AT and not app.get("progress")  # worked on while the next are ranked
    rerun_until(app, lambda a: in_queue(a) == 70 - 50 + RANK_AHEAD_AT)
    unlabeled = [r[0] for r in ws.db.execute("SELECT id FROM frames WHERE label IS NULL")]
    set_labels(ws, dict.fromkeys(unlabeled, 0), who="colleague")
    rerun_until(app, lambda a: any(NOTHING_LEFT == s.value for s in a.success))
    assert not app.exception


def test_a_failed_ranking_is_shown_not_repeated_and_retried_on_request(ws_env, tmp_path, random_weights, monkeypatch):
    import labeler.queue
    from ui.review import RANK_AHEAD_AT

    small_workspace(ws_env, tmp_path, n=RANK_AHEAD_AT + 10)  # no ranking ahead: the count is of the page's own
    ranked, build = [], labeler.queue.build_queue

    def fails_first(*args, **kwargs):
        ranked.append(1)
        if len(ranked) == 1:
            raise LookoutError("The disk is full: free some space.")
        return build(*args, **kwargs)

    monkeypatch.setattr(labeler.queue, "build_queue", fails_first)
    app = rerun_until(page("review").run(), lambda a: a.error)
    for _ in range(3):
        app.run()
    assert "The disk is full" in app.error[0].value and len(app.error) == 1 and len(ranked) == 1
    next(b for b in app.button if b.label == "Close this message").click().run()
    rerun_until(app, lambda a: a.markdown and "no model yet" in a.markdown[0].value)
    assert len(ranked) == 2


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
    assert not app.exception and any("Active model" in c.value for c in app.caption)
    next(b for b in app.button if b.label == "Run one monitor cycle now").click().run()
    deadline = time.time() + 120
    while not ws.db.execute("SELECT COUNT(*) FROM video_scores").fetchone()[0] and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(1)
    app.run()
    assert not app.exception
    assert "Cycle done: 1 new video scored" in app.success[0].value
    tables = [t.value for t in app.dataframe]  # recent videos and source health
    (sources,) = [t for t in tables if "source" in t]
    assert sources["source"].tolist() == ["folder trend"]  # its name, no "folder:/tmp/...", no "active model" row
    (recent,) = [t for t in tables if "model" in t]
    assert recent["author"].tolist() == [""] and recent["model"].str.contains(r"\(\d+ \w+ \d\d:\d\d").all()
    assert len(app.get("image")) == 2  # the clip's two distinct frames, each with its score

    upload = make_video(tmp_path / "upload.mp4", [3, 4, 5])
    app.file_uploader[0].set_value(("upload.mp4", upload.read_bytes(), "video/mp4"))
    next(b for b in app.button if b.label == "Score").click().run()
    rerun_until(app, lambda a: "upload.mp4: target is" in success_text(a), timeout=120)
    assert "of 3 frames" in success_text(app)
    assert next(b for b in app.selectbox if b.label == "Frames and scores of").options[0].startswith("upload.mp4")
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
    from labeler.frame_features import frame_features
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


@pytest.mark.parametrize("action, element, message", [
    ("undo after a label", "info", "Undone: your last label, on frame40.jpg."),
    ("undo with nothing to undo", "error", "Nothing of yours to undo in this browser."),
    ("a press for a frame already answered", "warning", "Not applied: a press came for a frame already answered"),
])
def test_the_label_pages_message_stays_until_the_next_action(ws_env, tmp_path, action, element, message):
    """Under load the browser sends its key presses again before the page has answered them; that rerun,
    with nothing new, took the "Undone" message away before a labeler (or the browser test) saw it."""
    small_workspace(ws_env, tmp_path)
    app = page("label", labeler="alice").run()
    if action == "undo after a label":
        press(app, "target").run()
    if action == "a press for a frame already answered":
        stale = next(b for b in app.button if b.label.startswith("target"))
        press(app, "target").run()
        stale.click().run()  # the button of the frame just answered
    else:
        next(b for b in app.button if b.label.startswith("Undo")).click().run()
    for _ in range(2):  # reruns that carry no new press
        shown = [m.value for m in getattr(app, element)]
        assert any(v.startswith(message) for v in shown), shown
        app.run()
    press(app, "no target").run()
    assert not any(m.value.startswith(message) for m in getattr(app, element))  # the next action replaces it


def test_each_person_undoes_only_their_own_labels_and_history_says_who(ws_env, tmp_path):
    ws = small_workspace(ws_env, tmp_path)
    alice, bob = page("label", labeler="alice").run(), page("label", labeler="bob").run()
    press(alice, "target").run()
    bob.run()  # bob's tab shows the next frame
    press(bob, "no target").run()
    next(b for b in alice.button if b.label.startswith("Undo")).click().run()  # "u" in tab A undid tab B's label
    first = ws.db.execute("SELECT file_name FROM frames ORDER BY id LIMIT 1 OFFSET 1").fetchone()[0]
    assert alice.info[0].value == f"Undone: your last label, on {first}."
    rows = ws.db.execute(
        """SELECT a.who, a.source, f.label FROM label_actions a JOIN label_history h ON h.action_id = a.id
           JOIN frames f ON f.id = h.frame_id WHERE a.source != 'import' ORDER BY a.id"""
    ).fetchall()
    assert [(r["who"], r["source"]) for r in rows] == [("alice", "label"), ("bob", "label"), ("alice", "undo")]
    assert [r["label"] for r in rows] == [None, 0, None]  # bob's label stands
    people = page("dataset").run().dataframe
    assert any("bob" in list(d.value.index) for d in people)


def test_the_label_page_asks_for_a_name_before_any_label(ws_env, tmp_path):
    small_workspace(ws_env, tmp_path)
    app = page("label", labeler=None).run()
    assert "Type your name" in app.info[0].value and not [b for b in app.button if b.label.startswith("target")]


def test_a_finished_jobs_message_is_for_the_person_who_started_it_until_closed(ws_env, dataset):
    starter, other = page("dataset").run(), page("dataset").run()
    next(t for t in starter.text_input if t.label.startswith("Folder")).input(str(dataset / "Data_deeplearning"))
    next(b for b in starter.button if b.label == "Import").click().run()
    rerun_until(starter, lambda a: "Imported" in success_text(a))
    assert "Imported" not in success_text(other.run())  # it stayed on every page for every new session
    next(b for b in starter.button if b.label == "Close this message").click().run()
    assert "Imported" not in success_text(starter.run())


VISIT = """
import sys
from streamlit.testing.v1 import AppTest

app = AppTest.from_string("from ui import {name}\\n{name}.page()", default_timeout=120)
app.session_state["labeler"] = "tester"
app.run()
print(repr([e.value for e in app.exception]), [e.value for e in app.error], [c.value for c in app.caption])
print("loaded:", *(m for m in ("keras", "sklearn") if m in sys.modules))
"""


def test_a_page_visit_loads_neither_keras_nor_scikit_learn_until_needed(ws_env, tmp_path, random_weights):
    """Importing Keras takes 4 s and scikit-learn 0.8: the first visit to a page after the server started
    waited for them (1.6-5.7 s at 100,000 frames) only to show the active model's name or its stored queue."""
    import subprocess
    import sys
    from pathlib import Path

    from data.labels import set_labels
    from labeler.frame_map import compute_map
    from labeler.queue import current_queue
    from labeler.similar import SimilarityIndex
    from tests.test_training import colour_frames
    from trainer.predict import backbone_for
    from trainer.registry import activate, load_model
    from trainer.train import train_model
    from ui.review import RANK_AHEAD_AT

    ws = Workspace.open(ws_env)
    import_folder(ws, colour_frames(tmp_path / "frames", n_per_class=20))
    activate(ws, train_model(ws, backbone="vgg16", epochs=1).version)  # scores every frame it has features of
    unlabel = [r["id"] for r in ws.db.execute("SELECT id FROM frames ORDER BY id LIMIT ?", (2 * RANK_AHEAD_AT,))]
    set_labels(ws, dict.fromkeys(unlabel, None))  # scored, unlabeled: a queue longer than the few that rank ahead
    save_image(tmp_path / "new.jpg", 99)
    import_folder(ws, _folder_with(tmp_path / "more", tmp_path / "new.jpg"))  # no features: no guess to wait for
    model = load_model(ws, "active")
    backbone = backbone_for(ws, model)
    queue = current_queue(ws, model=model, backbone=backbone)
    assert len(queue) > RANK_AHEAD_AT  # else the next items are ranked (with Keras) as the page is visited
    compute_map(ws, SimilarityIndex(ws, backbone), model=model, thresholds=model.thresholds(ws.config.frame_rule))

    repo = Path(__file__).resolve().parents[1]
    visits = {name: subprocess.Popen([sys.executable, "-c", VISIT.format(name=name)], cwd=repo, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
              for name in ("label", "review", "monitor", "frame_map", "train", "dataset")}  # each in a fresh process
    loaded = {}
    for name, visit in visits.items():
        out, err = visit.communicate(timeout=300)
        *shown, libraries = out.strip().splitlines() or ["no output: " + err[-2000:]]
        assert shown and shown[0].startswith("[] []"), f"{name}: {shown} {err[-2000:]}"
        loaded[name] = libraries.removeprefix("loaded:").split()
    assert loaded == dict.fromkeys(loaded, [])


@pytest.mark.parametrize("damage", [b"", b"{not json", None, b'{"version": "v1", "classes": "Trump"}'],
                         ids=["empty", "not-json", "missing", "json-but-no-card"])
@pytest.mark.parametrize("name", ["label", "review", "monitor", "frame_map"])
def test_a_damaged_active_model_card_is_an_error_on_the_page_not_a_crash(ws_env, tmp_path, name, damage):
    """The pages now read the active version's model.json themselves, before any model loads."""
    ws = small_workspace(ws_env, tmp_path)
    folder = ws.models_dir / "v1"
    folder.mkdir(parents=True)
    if damage is not None:
        (folder / "model.json").write_bytes(damage)
    (ws.models_dir / "ACTIVE").write_text("v1")
    app = page(name).run()
    assert not app.exception
    if name == "label":  # labeling goes on, without the model's guess
        assert any(b.label.startswith("no target") for b in app.button) and not app.error
    else:
        assert any("v1" in e.value for e in app.error), [e.value for e in app.error]


@pytest.mark.parametrize("images, level, said", [
    (0, "warning", "No images found there, so nothing was imported"),  # was a green "Imported 0 new frames."
    (1, "success", "Imported 1 new frame."),  # was "1 frames"
    (3, "success", "Imported 3 new frames."),
])
def test_an_import_says_what_it_did_in_words(tmp_path, workspace, images, level, said):
    from ui.dataset import describe_import

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(images):
        save_image(folder / f"frame{i}.jpg", i)
    shown = describe_import(import_folder(workspace, folder))
    assert shown[0] == level and shown[1].startswith(said)
    if images:
        assert describe_import(import_folder(workspace, folder)) == (
            "info", f"Nothing new: all {images} images are in the workspace already.")


@pytest.mark.parametrize("n_bytes, said", [(0, "0 bytes"), (640_000, "640 KB"), (1_500_000, "1.5 MB"),
                                           (213_000_000, "213 MB")])  # a face version freed "0 MB"
def test_freed_space_is_said_in_a_unit_that_shows_it(n_bytes, said):
    from trainer.registry import size_in_words

    assert size_in_words(n_bytes) == said


@pytest.mark.parametrize("version, active, said", [
    ("20261204-185600", None, "20261204-185600 ({when})"),
    ("20261204-185600-2", "20261204-185600-2", "20261204-185600-2 ({when}, active)"),
    ("tutorial", "tutorial", "tutorial (active)"),  # a name that is no time stays as it is
])
def test_versions_carry_a_human_date_beside_their_id(version, active, said):
    from datetime import UTC, datetime

    from ui.when import human_time, version_name

    when = human_time(datetime(2026, 12, 4, 18, 56, tzinfo=UTC))
    assert version_name(version, active=active) == said.format(when=when)
    assert human_time("2026-12-04T18:56:00+00:00") == when and "2026-12" not in when  # "4 Dec 18:56" here


@pytest.mark.parametrize("scores, is_target, said", [
    # two right alerts once met a 95% goal; the page now says what promise is missing
    ([0.9, 0.8, 0.2], [True, True, False], "Trump: cannot promise 95% precision yet. At the best threshold, 0.5, the test "
     "frames give 2 alerts (none false), which promises at least 22%; at least 59 alerts without a false one are needed"),
    ([0.99] * 60 + [0.2], [True] * 60 + [False], "Trump: alerts when a frame scores at least 0.5 — precision 1.00 (at "
     "least 95% with 95% confidence, from 60 test alerts), recall 1.00 on the test frames"),
    # "0 alerts (none false), which promises at least 0%"
    ([0.2, 0.1], [False, False], "Trump: nothing to promise from yet: no test frame gives an alert at any threshold"),
    ([0.9, 0.8, 0.2], [True, True, False], "Trump: a precision of 100% can never be promised"),  # "at least 0 alerts"
], ids=["too few alerts", "kept", "no test alert", "a goal of 1.0"])
def test_the_precision_goal_is_said_as_a_promise_the_test_set_can_keep(scores, is_target, said):
    from trainer.operating_point import choose_threshold
    from ui.train import operating_point_text

    goal = 1.0 if "100%" in said else 0.95
    point = choose_threshold(np.array(is_target), np.array(scores), goal=goal, floor=0.5)
    assert operating_point_text("Trump", point, goal).startswith(said)


@pytest.mark.parametrize("kept, shown", [
    ("folder:/tmp/pytest-1/trend", "folder trend"),  # was shown as kept, with the server's path
    ("urls:1", "1 video link"), ("urls:3", "3 video links"),
    ("accounts:bbcnews", "TikTok account @bbcnews"), ("accounts:bbcnews,@cnn", "TikTok accounts @bbcnews, @cnn"),
    ("command:/usr/local/bin/fetch-trending", "command fetch-trending"),
])
def test_the_sources_table_names_sources_as_the_set_up_does(kept, shown):
    from monitor.source_kinds import source_in_words

    assert source_in_words(kept) == shown


@pytest.mark.parametrize("n, noun, plural, said", [
    (1, "frame", None, "1 frame"), (0, "frame", None, "0 frames"), (2, "frame", None, "2 frames"),
    (1, "refused press", "refused presses", "1 refused press"), (3, "refused press", "refused presses", "3 refused presses"),
])
def test_counts_read_as_words(n, noun, plural, said):
    """The pages said "1 frames" and "1 refused presses"."""
    from ui.words import counted

    assert counted(n, noun, plural) == said


@pytest.mark.parametrize("video, timestamp_s, said", [
    (None, None, "imported"),
    ({"path": "/srv/newsroom/videos/Biden.mp4"}, 16.0, "Biden.mp4 at 0:16"),  # never the server's folders
    ({"path": "/tmp/x.mp4", "url": "https://www.tiktok.com/@a/video/1"}, 65.4, "https://www.tiktok.com/@a/video/1 at 1:05"),
], ids=["imported", "a file", "a link"])
def test_a_frame_is_placed_by_its_videos_name_and_time(workspace, video, timestamp_s, said):
    """Frames were "video 2 at 16.0 s": an id the journalist never sees anywhere else."""
    from ui.words import frame_origin

    video_id = None
    if video:
        video_id = workspace.db.execute("INSERT INTO videos (sha256, path, url, added_at) VALUES ('x', ?, ?, 'now')",
                                        (video["path"], video.get("url"))).lastrowid
    assert frame_origin(workspace, video_id, timestamp_s) == said


HOSTILE_CAPTION = "![x](http://127.0.0.1:9/pixel.png) <img src=http://127.0.0.1:9/i.png> [click](javascript:alert(1))"
FINDINGS_PAGE = """
import ui.findings
from monitor.findings import Finding
from ui.workspace import current_workspace

hostile = {caption!r}
ui.findings.findings = lambda ws, **kw: [Finding(1, "Trump", "https://www.tiktok.com/@a/video/1?x=[y](javascript:z)",
                                                 "@poster", hostile, "", "2026-12-07T10:00:00+00:00", 9, 18, "v1")]
ui.findings.best_frames = lambda ws, finding: []
ui.findings.findings_ui(current_workspace())
"""


def test_a_captions_markdown_and_html_are_shown_as_text(ws_env):
    """A caption's image, raw HTML or javascript: link was rendered on the Monitor page: the journalist's
    browser fetched the poster's URLs."""
    app = AppTest.from_string(FINDINGS_PAGE.format(caption=HOSTILE_CAPTION), default_timeout=60).run()
    assert not app.exception
    assert [t.value for t in app.text] == [f"@poster · {HOSTILE_CAPTION}"]  # as the characters it is
    assert not any("![x](" in m.value for m in app.markdown)
    assert [e.label for e in app.expander if "[y](" in e.label] == []  # a link in the label: escaped
