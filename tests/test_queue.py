"""The review queue on real frames: the Biden clip as the model case of a false positive."""

import json
import os
import subprocess
import sys

import pytest

from data.capture import capture_frames
from data.config import FrameRule, ProjectConfig
from data.importer import import_folder
from data.labels import set_labels, undo
from labeler.judgements import find_video, judge_video
from labeler.queue import (
    QueueItem,
    _interleave,
    build_queue,
    collapse_duplicates,
    save_queue,
    skip,
    stored_queue,
    wilson_interval,
)
from tests.conftest import copy_workspace
from tests.media import save_image
from trainer.registry import activate, load_model
from trainer.train import train_model


@pytest.fixture
def dataset_workspace(tmp_path, imported_dataset, feature_cache, trained_face_workspace, monkeypatch):
    """The shared frames, face backbone; trained_face_workspace has cached their features."""
    monkeypatch.setenv("LOOKOUT_FEATURE_CACHE", str(feature_cache))
    # The tutorial's rule (0.5, no precision goal): these tests need a model that errs, as the tutorial's did.
    config = ProjectConfig(classes=("no target", "Trump"), backbone="face", frame_rule=FrameRule(precision_goal=0))
    return copy_workspace(imported_dataset, tmp_path / "ws", config)


def test_biden_false_positives_are_queued_then_judged_away(dataset_workspace, dataset, face_backbone):
    ws = dataset_workspace
    capture_frames(ws, dataset / "Biden.mp4")
    biden = find_video(ws, str(dataset / "Biden.mp4"))
    frames = [r["id"] for r in ws.db.execute("SELECT id FROM frames WHERE video_id = ? ORDER BY timestamp_s", (biden,))]
    set_labels(ws, {f: 1 for f in frames[: len(frames) // 2]})  # a hurried labeler calls Biden "Trump"
    ws.db.execute("""INSERT INTO test_set SELECT sha256, 0, 'earlier' FROM frames WHERE video_id = ?""", (biden,))
    # ...and an earlier training put this video on the training side (a test-side video is never learned from)
    activate(ws, train_model(ws, backbone=face_backbone).version)
    model = load_model(ws, "active")

    queue = build_queue(ws, strategy="false_positive", limit=50, model=model, backbone=face_backbone)
    flagged = [item for item in queue if item.video_id == biden]
    assert flagged, "the biased model should call some Biden frames Trump"
    assert all("The active version says Trump" in item.reason for item in flagged)

    assert judge_video(ws, biden, present=False) == len(frames)
    labels = {r["id"]: r["label"] for r in ws.db.execute("SELECT id, label FROM frames WHERE video_id = ?", (biden,))}
    assert set(labels.values()) == {0}
    again = build_queue(ws, strategy="false_positive", limit=50, model=model, backbone=face_backbone)
    assert not [item for item in again if item.video_id == biden]
    undo(ws)  # the judgement's labels come back off in one step
    unlabeled = ws.db.execute("SELECT COUNT(*) FROM frames WHERE video_id = ? AND label IS NULL", (biden,)).fetchone()[0]
    assert unlabeled == len(frames) - len(frames) // 2


def test_a_deliberately_flipped_label_is_found(dataset_workspace, face_backbone):
    ws = dataset_workspace
    trump_frame = ws.db.execute("SELECT id, file_name FROM frames WHERE file_name = 'frame64.jpg'").fetchone()
    set_labels(ws, {trump_frame["id"]: 0})
    activate(ws, train_model(ws, backbone=face_backbone).version)
    stages = []
    queue = build_queue(ws, strategy="mislabeled", limit=30, model=load_model(ws, "active"), backbone=face_backbone,
                        progress=lambda stage, done, total: stages.append((stage, done, total)))
    assert ("checking labels for mistakes", 0, 4) in stages  # the page said "Ranking frames..." for 78 s
    assert "frame64.jpg" in [item.file_name for item in queue], [i.file_name for i in queue]
    item = next(i for i in queue if i.file_name == "frame64.jpg")
    assert item.reason.startswith("Labeled no target, but a check model trained without this frame says Trump")
    assert "; the active version, which learned from this label, says " in item.reason  # as "Which face?" shows

    # a frame where no face was found is no evidence of a wrong label: 16 of the first 27 items were such
    from data.frames import frames_by_id
    from labeler.frame_features import compact_features

    X, _ = compact_features(ws, face_backbone, frames_by_id(ws.db, [i.frame_id for i in queue]))
    assert X[:, :, -1].any(axis=1).all()

    # answering an item takes it out of the queue at once, confirming too; it stayed and each press added a label
    from labeler.queue import label_item, save_queue, stored_queue

    save_queue(ws, queue, load_model(ws, "active").version)
    confirmed = next(i for i in queue if i.frame_id != item.frame_id)
    for answered, label in ((item, 1), (confirmed, ws.db.execute("SELECT label FROM frames WHERE id = ?",
                                                                  (confirmed.frame_id,)).fetchone()[0])):
        label_item(ws, answered, label, with_duplicates=False)
        assert answered.frame_id not in [i.frame_id for i in stored_queue(ws)[1]]
    again = build_queue(ws, strategy="mislabeled", limit=30, model=load_model(ws, "active"), backbone=face_backbone)
    assert not {item.frame_id, confirmed.frame_id} & {i.frame_id for i in again}


def test_cold_start_offers_representative_frames(tmp_path, workspace, random_vgg16, monkeypatch):
    monkeypatch.setenv("LOOKOUT_FEATURE_CACHE", str(tmp_path / "features"))
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(12):
        save_image(folder / f"frame{i}.jpg", i)
    import_folder(workspace, folder)
    items = build_queue(workspace, limit=4, model=None, backbone=random_vgg16)
    assert len(items) == 4 and len({i.frame_id for i in items}) == 4
    assert all(i.strategy == "cold_start" and "no model yet" in i.reason for i in items)


def test_near_identical_frames_of_one_video_come_as_one_item():
    rows = [
        {"id": 1, "video_id": 7, "phash": "00000000000000ff"},
        {"id": 2, "video_id": 7, "phash": "00000000000000fe"},
        {"id": 3, "video_id": 7, "phash": "ffffffff00000000"},
        {"id": 4, "video_id": None, "phash": "00000000000000ff"},
    ]
    clusters = collapse_duplicates(rows)
    assert [(row["id"], dups) for row, dups in clusters] == [(1, [2]), (3, []), (4, [])]


def test_mixed_queue_follows_the_shares_without_repeats():
    def items(name, ids):
        return [QueueItem(i, f"f{i}", name, 0.0, name) for i in ids]

    ranked = {"uncertain": items("uncertain", range(0, 100)), "audit": items("audit", [0, *range(200, 300)])}
    queue = _interleave(ranked, {"uncertain": 0.75, "audit": 0.25}, 20)
    assert len(queue) == len({i.frame_id for i in queue}) == 20
    assert sum(i.strategy == "audit" for i in queue) == 5


def test_the_queue_is_stable_and_skips_come_back_last(workspace, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        save_image(folder / f"frame{i}.jpg", i)
    import_folder(workspace, folder)
    ids = [r[0] for r in workspace.db.execute("SELECT id FROM frames ORDER BY id")]
    save_queue(workspace, [QueueItem(i, f"frame{n}.jpg", "uncertain", 1.0, "why") for n, i in enumerate(ids)], "v1")
    skip(workspace, ids[0])
    set_labels(workspace, {ids[1]: 1})
    version, items = stored_queue(workspace)
    assert version == "v1" and [i.frame_id for i in items] == [ids[2], ids[0]]


@pytest.mark.parametrize("origin, video, said", [
    ("monitor", 7, "The active version says Trump (0.97), and this video was alerted: was the alert right?"),
    ("monitor", 8, "The active version says Trump (0.97): if it is wrong, videos like this one alert falsely. Confirm it."),
    ("capture", None, "The active version says Trump (0.97): if it is wrong, the monitor would alert on frames like this."),
], ids=["its video alerted", "monitor frame", "captured or imported"])
def test_a_confident_positive_says_what_confirming_it_is_for(origin, video, said):
    """"Confirm before it alerts" was said of frames whose video had alerted already, and of frames that never alert."""
    from labeler.queue import _positive_reason

    assert _positive_reason({"origin": origin, "video_id": video}, "Trump", 0.97, alerted={7}).startswith(said)


def test_wilson_interval_brackets_the_estimate():
    low, high = wilson_interval(45, 50)
    assert low < 0.9 < high and 0.75 < low and high < 0.97
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_queue_and_judge_commands(tmp_path, random_vgg16, monkeypatch):
    from tests.media import make_video

    ws_dir = tmp_path / "ws"
    video = make_video(tmp_path / "clip.mp4", [1, 2, 3])
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "LOOKOUT_FEATURE_CACHE": str(tmp_path / "features")}
    weights = tmp_path / "random.weights.h5"
    random_vgg16.model.save_weights(weights)
    env["LOOKOUT_VGG16_WEIGHTS"] = str(weights)

    def labeler(*args):
        return subprocess.run([sys.executable, "-m", *args, "--workspace", str(ws_dir)], capture_output=True, text=True, env=env)

    assert labeler("data", "capture", str(video)).returncode == 0
    out = labeler("labeler", "queue", "--json", "--limit", "2")
    assert out.returncode == 0, out.stderr
    assert [i["strategy"] for i in json.loads(out.stdout)] == ["cold_start", "cold_start"]
    judged = labeler("labeler", "judge", str(video), "absent")
    assert "3 frames labeled no target" in judged.stdout
    bad = labeler("labeler", "judge", "999", "absent")
    assert bad.returncode == 2 and "No video '999'" in bad.stderr


def test_queue_is_rebuilt_after_a_retrain_and_labels_reach_duplicates(dataset_workspace, dataset, face_backbone):
    from labeler.queue import audit_estimate, current_queue, label_item
    from monitor.scoring import score_video

    ws = dataset_workspace
    activate(ws, train_model(ws, backbone=face_backbone).version)
    model = load_model(ws, "active")
    score_video(ws, model, face_backbone, dataset / "Trump.mp4")  # a positive clip: its frames wait for review
    queue = current_queue(ws, model=model, backbone=face_backbone, limit=10)
    assert current_queue(ws, model=model, backbone=face_backbone) == queue  # stable across reruns

    item = next(i for i in queue if i.duplicates) if any(i.duplicates for i in queue) else queue[0]
    label_item(ws, item, 1)
    labeled = {r[0] for r in ws.db.execute("SELECT id FROM frames WHERE label = 1")}
    assert {item.frame_id, *item.duplicates} <= labeled
    assert item.frame_id not in [i.frame_id for i in current_queue(ws, model=model, backbone=face_backbone)]

    activate(ws, train_model(ws, backbone=face_backbone).version)
    newer = load_model(ws, "active")
    current_queue(ws, model=newer, backbone=face_backbone)
    assert stored_queue(ws)[0] == newer.version

    audit = [i for i in build_queue(ws, strategy="audit", limit=50, model=newer, backbone=face_backbone)]
    before = audit_estimate(ws, model=newer, backbone=face_backbone).audited  # the item above may be an audit
    for i in audit:
        label_item(ws, i, 1 if (i.probability or 0) >= 0.5 else 0)
    estimate = audit_estimate(ws, model=newer, backbone=face_backbone)
    assert estimate.audited == before + len(audit) and len(audit) >= 1
    low, high = estimate.precision[1:]
    assert low <= estimate.precision[0] <= high
