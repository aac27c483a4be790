"""Retraining that never silently gets worse: a test set that stays put, versions compared
on the same frames, activation of a worse version refused, a portable .h5.

VGG16 with random weights (saved to a file, as a newsroom would configure real ones);
reddish frames are the target, learnable even from random features.
"""

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from PIL import Image

from data.errors import LookoutError
from data.importer import import_folder
from data.labels import set_labels
from tests.test_app import page
from trainer.compare import activate_checked, compare_versions
from trainer.registry import activate, active_version, export_h5

N_PER_CLASS = 30


def colour_frames(folder, *, first: int = 0, n_per_class: int = N_PER_CLASS):
    """Like tests/test_training.py's, numbered from `first`, each frame its own capture block."""
    folder.mkdir()
    rng = np.random.default_rng(first)
    rows = ["Image_ID,Class"]
    for label, channel in ((0, 2), (1, 0)):
        for i in range(n_per_class):
            pixels = rng.integers(0, 80, (64, 48, 3)).astype(np.uint8)
            pixels[..., channel] = 200 + rng.integers(0, 55)
            name = f"frame{first + (2 * i + label) * 25}.jpg"
            Image.fromarray(pixels).save(folder / name)
            rows.append(f"{name},{label}")
    (folder / "mapping_trump.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory, random_vgg16):
    path = tmp_path_factory.mktemp("weights") / "random.weights.h5"
    random_vgg16.model.save_weights(path)
    return path


@pytest.fixture
def labeled(tmp_path, workspace, monkeypatch, weights_file):
    monkeypatch.setenv("LOOKOUT_VGG16_WEIGHTS", str(weights_file))
    monkeypatch.setenv("LOOKOUT_FEATURE_CACHE", str(tmp_path / "features"))
    import_folder(workspace, colour_frames(tmp_path / "frames"))
    return workspace


def train(ws, epochs=30):
    """30 epochs of the one batch: enough for the tutorial's head to learn the colours."""
    from trainer.train import train_model

    return train_model(ws, backbone="vgg16", epochs=epochs, augment_copies=0)


def sides(ws) -> dict[str, int]:
    return dict(ws.db.execute("SELECT sha256, is_test FROM test_set").fetchall())


def test_the_test_set_only_grows_and_two_versions_are_compared_on_the_same_frames(labeled, tmp_path):
    first = train(labeled)
    before = sides(labeled)
    import_folder(labeled, colour_frames(tmp_path / "more", first=10_000))
    second = train(labeled)
    after = sides(labeled)
    assert {sha: after[sha] for sha in before} == before  # no frame changed sides
    assert len(after) == 2 * len(before) and sum(after.values()) > sum(before.values())
    tested = second.card.split["test_frames"]
    assert first.card.split["test_frames"] < tested == sum(after.values())

    comparison = compare_versions(labeled, [first.version, second.version])
    assert comparison.frames == tested  # the old version re-scored on today's test frames
    for version in (first.version, second.version):
        f1, low, high = comparison.scores[version]["Trump"]["f1"]
        assert low <= f1 <= high
    assert comparison.scores[second.version]["Trump"]["f1"][0] > 0.8


def flip_training_labels(ws) -> None:
    rows = ws.db.execute(
        "SELECT f.id, f.label FROM frames f JOIN test_set t ON t.sha256 = f.sha256 WHERE t.is_test = 0"
    ).fetchall()
    set_labels(ws, {r["id"]: 1 - r["label"] for r in rows}, who="saboteur")


def test_a_worse_version_is_refused_without_force_and_shown_as_worse(labeled, monkeypatch):
    good = train(labeled)
    activate(labeled, good.version)
    flip_training_labels(labeled)  # the test frames keep their true labels
    bad = train(labeled)
    comparison = compare_versions(labeled, [good.version, bad.version])
    assert comparison.worse(bad.version) and comparison.changed

    with pytest.raises(LookoutError, match=r"worse than the active .*Trump (precision|recall|f1) fell.*--force"):
        activate_checked(labeled, bad.version)
    assert active_version(labeled) == good.version

    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    cli = [sys.executable, "-m", "trainer", "activate", bad.version, "--workspace", str(labeled.root)]
    refused = subprocess.run(cli, capture_output=True, text=True, env=env)
    assert refused.returncode != 0 and "worse than the active" in refused.stderr and "Traceback" not in refused.stderr
    assert active_version(labeled) == good.version

    monkeypatch.setenv("LOOKOUT_WORKSPACE", str(labeled.root))
    app = page("train").run()
    app.selectbox[1].select(bad.version).run()
    assert not app.exception
    assert any("Worse than the active version" in e.value for e in app.error)
    activate_button = next(b for b in app.button if b.label == "Activate for the monitor")
    assert activate_button.disabled
    app.checkbox[0].check().run()
    next(b for b in app.button if b.label == "Activate anyway").click().run()
    assert active_version(labeled) == bad.version  # confirmed explicitly

    forced = subprocess.run([*cli[:4], good.version, *cli[5:], "--force"], capture_output=True, text=True, env=env)
    assert forced.returncode == 0, forced.stderr


def test_a_refusal_shows_whose_relabels_since_the_active_version_and_undoes_them_in_one_click(labeled, monkeypatch):
    """A version refused as worse listed test frames that were all labeled right: the cause was frames relabeled
    wrongly since the active version, which the page did not show."""
    good = train(labeled)
    activate(labeled, good.version)
    truth = dict(labeled.db.execute("SELECT id, label FROM frames").fetchall())
    flip_training_labels(labeled)
    bad = train(labeled)
    monkeypatch.setenv("LOOKOUT_WORKSPACE", str(labeled.root))
    app = page("train").run()
    app.selectbox[1].select(bad.version).run()
    assert not app.exception and any("Worse than the active version" in e.value for e in app.error)
    changes = next(d.value for d in app.dataframe if "who" in d.value.columns)
    now = labeled_now(labeled)
    classes = labeled.config.classes
    flipped = {name: sum(truth[f] == label and now[f] != label for f in truth) for label, name in enumerate(classes)}
    row = changes.to_dict("records")[0]
    assert (row["who"], row["frames"]) == ("saboteur", sum(flipped.values()))
    assert row["changes"] == f"Trump → no target: {flipped['Trump']}; no target → Trump: {flipped['no target']}"
    flipped = sum(flipped.values())

    next(b for b in app.button if b.label == f"Undo saboteur's {flipped} changes").click().run()
    assert not app.exception and labeled_now(labeled) == truth
    assert any(f"{flipped} frames went back" in s.value for s in app.success)
    assert any("No label has changed since" in c.value for c in app.caption)  # the refusal is the model's now
    again = train(labeled)
    assert not compare_versions(labeled, [good.version, again.version]).worse(again.version)


def labeled_now(ws) -> dict[int, int]:
    return dict(ws.db.execute("SELECT id, label FROM frames").fetchall())


def test_the_exported_h5_carries_its_card_and_loads_in_plain_keras(labeled, tmp_path):
    result = train(labeled, epochs=1)
    exported = tmp_path / "elsewhere" / "model.h5"
    exported.parent.mkdir()
    exported.write_bytes(export_h5(labeled, result.version))
    with h5py.File(exported) as f:
        card = json.loads(f.attrs["lookout_card"])
        assert f.attrs["lookout_backbone"] == "vgg16" and json.loads(f.attrs["lookout_classes"]) == ["no target", "Trump"]
    assert card["thresholds"] == result.card.thresholds
    plain = subprocess.run(  # nothing of Lookout imported: the tutorial's own way to load it
        [sys.executable, "-c", "import keras, sys; m = keras.models.load_model(sys.argv[1], compile=False); "
         "print(m.input_shape, m.output_shape)", str(exported)],
        capture_output=True, text=True, cwd=tmp_path)
    assert plain.stdout.strip() == "(None, 7, 7, 512) (None, 2)", plain.stderr[-2000:]


@pytest.mark.parametrize("rule, expected", [
    ({"precision_goal": 0.0}, [0.5]),  # the tutorial's threshold
    ({"precision_goal": 0.95}, [0.8]),  # chosen for the goal
    ({"precision_goal": 0.95, "threshold": 0.9}, [0.9]),  # never below the project's floor
])
def test_the_monitor_uses_the_threshold_chosen_for_the_precision_goal(rule, expected):
    from data.config import FrameRule
    from data.model_card import ModelCard
    from monitor.verdict import video_verdicts
    from trainer.registry import Model

    card = ModelCard(version="v", backbone="face", input_shape=(4, 129), classes=("no target", "Trump"),
                     thresholds={"Trump": 0.8})
    model = Model(None, card, None)
    thresholds = model.thresholds(FrameRule(**rule))
    assert list(thresholds) == expected
    probs = np.array([[0.3, 0.7], [0.15, 0.85], [0.1, 0.9]])
    (verdict,) = video_verdicts(probs, np.ones(3, int), classes=model.classes, rule=FrameRule(**rule), thresholds=thresholds)
    assert verdict.positive_frames == int((probs[:, 1] >= expected[0]).sum())


def test_the_text_comparison_prints_every_metric():
    """`python -m trainer compare` in text mode always crashed with KeyError: 'f1' (--json and the page worked)."""
    from trainer.compare import ChangedFrame, Comparison, format_comparison

    metrics = {"precision": (0.9, 0.8, 1.0), "recall": (0.7, 0.6, 0.8), "f1": (0.79, 0.7, 0.88)}
    same = {m: (-0.1, 0.1) for m in metrics}
    comparison = Comparison(["v1", "v2"], 125, ["Trump"], {"v1": {"Trump": metrics}, "v2": {"Trump": metrics}},
                            {"v2": {"Trump": same}}, [ChangedFrame(3, "frame3.jpg", "Trump", {"v1": "Trump", "v2": "no target"})])
    text = format_comparison(comparison)
    assert "0.79 (0.70–0.88)" in text and "v2: not worse than v1" in text and "frame3.jpg (labeled Trump)" in text
