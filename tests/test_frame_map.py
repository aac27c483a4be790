"""The map of all frames: look-alikes together, and a box that labels exactly the frames inside it."""

import numpy as np
import pytest

from data.importer import import_folder
from data.workspace import Workspace
from labeler.frame_map import compute_map, in_box, load_map, map_path, map_points
from labeler.similar import SimilarityIndex
from tests.media import image_folder, save_image
from tests.test_app import (
    page,
    random_weights,  # noqa: F401 (a fixture)
    rerun_until,
    small_workspace,
)
from trainer.backbones import load_backbone
from trainer.features import ORIGINAL, FeatureCache


def test_the_map_keeps_groups_of_alike_frames_apart(tmp_path, random_vgg16, monkeypatch):
    monkeypatch.setenv("LOOKOUT_FEATURE_CACHE", str(tmp_path / "features"))
    ws = Workspace.open(tmp_path / "ws")
    import_folder(ws, image_folder(tmp_path / "in", range(90)))
    rng = np.random.default_rng(0)
    centres = rng.random((3, 7, 7, 512), "float32")
    cache = FeatureCache(ws.feature_cache_dir, random_vgg16)
    rows = ws.db.execute("SELECT id, sha256 FROM frames ORDER BY id").fetchall()
    group = {r["sha256"]: i % 3 for i, r in enumerate(rows)}  # three scenes, shuffled through the frames
    for r in rows:
        cache.put(r["sha256"], ORIGINAL, centres[group[r["sha256"]]] + rng.normal(0, 0.05, (7, 7, 512)).astype("float32"))
    drawn = compute_map(ws, SimilarityIndex(ws, random_vgg16))  # 90 frames: UMAP
    assert len(drawn.shas) == 90
    labels = np.array([group[str(s)] for s in drawn.shas])
    distances = np.linalg.norm(drawn.xy[:, None] - drawn.xy[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    assert (labels[distances.argmin(axis=1)] == labels).all()  # every frame's nearest point shows the same scene
    again = load_map(SimilarityIndex(ws, random_vgg16))
    assert again is not None and np.array_equal(again.xy, drawn.xy) and again.indexed == 90


@pytest.mark.usefixtures("random_weights")
def test_a_box_on_the_map_labels_exactly_the_frames_inside_it(ws_env, tmp_path):
    ws = small_workspace(ws_env, tmp_path, n=8)
    app = page("frame_map").run()
    assert not app.exception
    next(b for b in app.button if b.label == "Compute features for 8 frames and redraw").click().run()
    app = rerun_until(app, lambda a: any("The map shows 8 frames" in s.value for s in a.success))
    backbone = load_backbone("vgg16")  # the page's: the project's, with the test's weights file
    index = SimilarityIndex(ws, backbone)
    points = map_points(ws, load_map(index))
    xs, ys = sorted(points.x), sorted(points.y)
    box = {"x": [xs[0] - 1, xs[4] + 1e-3], "y": [ys[0] - 1, ys[-1] + 1]}  # the five leftmost points
    inside = set(in_box(points, box).id)
    assert len(inside) == 5
    app.session_state["frame-map"] = {"selection": {"box": box}}
    app.run()
    assert not app.exception
    labeled_before = ws.db.execute("SELECT COUNT(*) FROM frames WHERE label IS NOT NULL").fetchone()[0]
    unlabeled_inside = set(points[points.id.isin(inside) & points.label.isna()].id)
    button = next(b for b in app.button if b.key == "map-as-1")
    assert button.label == f"Label {len(unlabeled_inside)} frames target"  # labeled frames are left as they are
    redrawn = dict(np.load(map_path(index)))  # the map is redrawn in the background before the click
    redrawn["xy"] = redrawn["xy"][::-1].copy()
    np.savez(map_path(index), **redrawn)
    button.click().run()
    now = dict(ws.db.execute("SELECT id, label FROM frames").fetchall())
    assert {i for i, label in now.items() if label == 1} == unlabeled_inside
    assert sum(label is not None for label in now.values()) == labeled_before + len(unlabeled_inside)
    next(b for b in app.button if b.label == "Undo my last label action").click().run()
    assert not any(label == 1 for label in dict(ws.db.execute("SELECT id, label FROM frames").fetchall()).values())


def test_the_maps_hover_says_what_the_model_says_in_words(workspace):
    """The hover showed "score 0.999245643616"."""
    import pandas as pd

    from ui.frame_map import chart, with_colour

    for i, name in enumerate(["a.jpg", "b.jpg"]):
        save_image(workspace.frames_dir / name, i)
    points = pd.DataFrame({"id": [1, 2], "file_name": ["a.jpg", "b.jpg"], "label": [1, None], "x": [0.0, 1.0],
                           "y": [0.0, 1.0], "score": [0.999245643616, 0.0312], "call": [1, 0]})
    points, colour = with_colour(workspace, points, "score", "")
    spec = chart(workspace, points, colour).to_dict()
    hover = {t["title"]: t["field"] for t in spec["encoding"]["tooltip"]}
    rows = next(iter(spec["datasets"].values()))
    assert set(hover) == {"frame", "label", "the model says", "image"}
    assert [row[hover["the model says"]] for row in rows] == ["Trump 1.00", "Trump 0.03"]
