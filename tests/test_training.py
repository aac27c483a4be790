"""Training, export and loading, on small workspaces the tests make (VGG16 with random weights)."""

import json
import os
import random
import subprocess
import sys
import threading

import h5py
import keras
import numpy as np
import pytest
from PIL import Image

from data.config import ProjectConfig
from data.errors import LookoutError, full_disk_as_error
from data.importer import import_folder
from data.labels import set_label
from data.workspace import Workspace
from trainer.predict import predict_images
from trainer.progress import Cancelled
from trainer.registry import ACTIVE, activate, active_version, list_models, load_model
from trainer.train import train_model


def colour_frames(folder, n_per_class=8):
    """Reddish frames are the target, bluish ones are not: learnable even from random features."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    rows = ["Image_ID,Class"]
    for label, channel in ((0, 2), (1, 0)):
        for i in range(n_per_class):
            pixels = rng.integers(0, 80, (64, 48, 3)).astype(np.uint8)
            pixels[..., channel] = 200 + rng.integers(0, 55)
            name = f"frame{label * 100 + i * 30}.jpg"  # far-apart numbers: separate capture blocks
            Image.fromarray(pixels).save(folder / name)
            rows.append(f"{name},{label}")
    (folder / "mapping_trump.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture
def labeled(tmp_path, workspace, monkeypatch):
    monkeypatch.setenv("LOOKOUT_FEATURE_CACHE", str(tmp_path / "features"))
    import_folder(workspace, colour_frames(tmp_path / "frames"))
    return workspace


def test_train_exports_a_versioned_model_with_its_card(labeled, random_vgg16):
    stages = []
    result = train_model(labeled, backbone=random_vgg16, epochs=3, progress=lambda s, d, t: stages.append(s))
    folder = labeled.models_dir / result.version
    assert {p.name for p in folder.iterdir()} == {"model.h5", "model.keras", "model.json"}
    weights = 4 * sum(int(np.prod(w.shape)) for w in load_model(labeled, result.version).head.model_.weights)
    for saved in ("model.h5", "model.keras"):  # the weights alone: no optimizer state to triple the disk used
        assert (folder / saved).stat().st_size < 1.1 * weights, saved
    card = json.loads((folder / "model.json").read_text())
    assert card["backbone"] == "vgg16" and card["input_shape"] == [7, 7, 512]
    assert card["classes"] == ["no target", "Trump"] and card["label_counts"] == {"no target": 8, "Trump": 8}
    assert card["augment_copies"] == 1 and "capture" in card["split"]["grouping"]
    assert set(card["validation"]) >= {"per_class", "confusion_matrix", "pr_curves", "thresholds"}
    assert card["thresholds"]["Trump"] >= 0.5 and card["operating_points"]["Trump"]["recall_at_floor"] >= 0
    assert {"features", "epochs"} <= set(stages)
    assert active_version(labeled) is None  # training never switches the monitor's model by itself


def test_retraining_computes_only_new_features(labeled, random_vgg16):
    first = train_model(labeled, backbone=random_vgg16, epochs=1)
    again = train_model(labeled, backbone=random_vgg16, epochs=1)
    assert first.features_computed > 16 and again.features_computed == 0
    assert again.version != first.version


def busy_page():
    """What other threads of a server do while a version trains."""
    random.random()  # Keras shuffled its batches with Python's global random
    keras.layers.Dense(2).build((None, 3))  # an unseeded layer, as a page loading a model for review builds


def test_the_same_labels_and_seed_train_the_same_model_while_the_server_is_busy(labeled, random_vgg16):
    """Identical labels and seed 0 once gave confusion [[63,5],[2,55]] and then [[65,3],[2,55]]."""
    def weights(version):
        return load_model(labeled, version).head.model_.get_weights()

    quiet = train_model(labeled, backbone=random_vgg16, epochs=3, seed=0).version
    stop = threading.Event()
    page = threading.Thread(target=lambda: [busy_page() for _ in iter(stop.is_set, True)])
    page.start()
    try:
        busy = train_model(labeled, backbone=random_vgg16, epochs=3, seed=0).version
    finally:
        stop.set()
        page.join()
    assert all(np.array_equal(a, b) for a, b in zip(weights(quiet), weights(busy)))
    cards = [json.loads((labeled.models_dir / v / "model.json").read_text())["validation"] for v in (quiet, busy)]
    assert cards[0]["confusion_matrix"] == cards[1]["confusion_matrix"]


def test_exported_model_loads_and_scores_like_the_trained_head(labeled, random_vgg16, tmp_path):
    result = train_model(labeled, backbone=random_vgg16, epochs=5)
    activate(labeled, result.version)
    model = load_model(labeled, "active")
    frames = [np.asarray(Image.open(p)) for p in sorted((tmp_path / "frames").glob("*.jpg"))[:4]]
    from_h5 = predict_images(model, random_vgg16, frames)
    from_keras = keras.models.load_model(labeled.models_dir / result.version / "model.keras").predict(
        random_vgg16.embed(frames), verbose=0
    )
    assert np.allclose(from_h5, from_keras, atol=1e-5)
    assert load_model(labeled, result.version).card == model.card


def test_a_retrain_on_a_full_disk_says_so_and_leaves_no_half_version(small_disk, tmp_path, random_vgg16, monkeypatch):
    monkeypatch.setenv("LOOKOUT_FEATURE_CACHE", str(tmp_path / "features"))
    ws = Workspace.open(small_disk("300m") / "ws", config=ProjectConfig(name="Test", classes=("no target", "Trump")))
    import_folder(ws, colour_frames(tmp_path / "frames"))
    first = train_model(ws, backbone=random_vgg16, epochs=1)  # 213 MB: the next one does not fit
    activate(ws, first.version)
    with pytest.raises(LookoutError, match=f"The disk is full where Lookout writes {ws.root};"):
        with full_disk_as_error(ws.root):  # as the train command and the Train page run it
            train_model(ws, backbone=random_vgg16, epochs=1)
    assert [card.version for card in list_models(ws)] == [first.version] and active_version(ws) == first.version
    assert sorted(p.name for p in ws.models_dir.iterdir()) == sorted([first.version, ACTIVE])


def test_removing_versions_frees_their_disk_and_never_touches_the_monitors(labeled, random_vgg16, capsys):
    from data.cli import run
    from data.model_records import forget_model
    from trainer.__main__ import main
    from trainer.model_scores import scores_path

    old, killed, current = (train_model(labeled, backbone=random_vgg16, epochs=1).version for _ in range(3))
    activate(labeled, current)
    assert scores_path(labeled, old).is_file()  # training scored every frame for the review queue
    forget_model(labeled.db, killed)  # a removal killed after unlisting the version, before deleting its folder

    def remove(version):
        code = run(main, ["remove", version, "--workspace", str(labeled.root)])
        return code, capsys.readouterr()

    for version, said in [(current, "is the model the monitor uses; activate another version first"),
                          ("../../etc", "'../../etc' is not a model version"),
                          ("20990101-000000", "No model '20990101-000000'")]:
        code, out = remove(version)
        assert code == 2 and said in out.err, out.err
    for version in (old, killed):
        code, out = remove(version)
        assert code == 0 and f"Removed {version}: 21" in out.out  # 213 MB: the tutorial head's two files
        assert not (labeled.models_dir / version).exists() and not scores_path(labeled, version).exists()
    assert [card.version for card in list_models(labeled)] == [current]
    assert sorted(p.name for p in labeled.models_dir.iterdir()) == sorted([current, ACTIVE])  # nothing set aside
    assert load_model(labeled, "active").version == current


def test_cancel_exports_nothing(labeled, random_vgg16):
    with pytest.raises(Cancelled):
        train_model(labeled, backbone=random_vgg16, epochs=50, should_stop=lambda: True)
    assert list(labeled.models_dir.iterdir()) == []


@pytest.mark.parametrize(
    "labels, message",
    [
        ({}, "No frame is labeled yet"),
        ({i: 1 for i in range(1, 9)}, "Every labeled frame is 'Trump'"),
        ({1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 1, 7: 1}, r"Too few labeled frames for Trump \(2\)"),
    ],
)
def test_training_refuses_labels_it_cannot_learn_from(tmp_path, workspace, random_vgg16, labels, message):
    folder = colour_frames(tmp_path / "frames")
    (folder / "mapping_trump.csv").unlink()
    import_folder(workspace, folder)
    for frame_id, label in labels.items():
        set_label(workspace, frame_id, label)
    with pytest.raises(LookoutError, match=message):
        train_model(workspace, backbone=random_vgg16, epochs=1)


def test_unreadable_frames_are_skipped_and_reported(labeled, random_vgg16):
    (labeled.frames_dir / "frame0.jpg").write_bytes(b"\xff\xd8 broken")
    result = train_model(labeled, backbone=random_vgg16, epochs=1)
    assert [name for name, _ in result.skipped] == ["frame0.jpg"]
    assert result.card.label_counts["no target"] == 7


def tutorial_head(path, *, lambda_layer=False, input_shape=(7, 7, 512)):
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    if lambda_layer:
        x = keras.layers.Lambda(lambda t: t * 2)(x)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Dense(8, activation="relu")(x))
    keras.Model(inputs, outputs).save(path)
    return path


def test_a_tutorial_format_head_loads_as_vgg16_target_or_not(tmp_path, workspace, random_vgg16):
    model = load_model(workspace, str(tutorial_head(tmp_path / "trump_model.h5")))
    assert model.card.backbone == "vgg16" and model.classes == ("no target", "target")
    assert predict_images(model, random_vgg16, [np.zeros((50, 50, 3), np.uint8)]).shape == (1, 2)


def test_models_that_do_not_fit_are_clear_errors(tmp_path, workspace, face_backbone):
    with pytest.raises(LookoutError, match="not a tutorial head"):
        load_model(workspace, str(tutorial_head(tmp_path / "odd.h5", input_shape=(10,))))
    with pytest.raises(LookoutError, match="trained on vgg16 features"):
        load_model(workspace, str(tutorial_head(tmp_path / "t.h5"))).check_backbone(face_backbone)
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(LookoutError, match="junk.h5 is not a Keras model"):
        load_model(workspace, str(tmp_path / "junk.h5"))
    with pytest.raises(LookoutError, match="No model is active yet"):
        load_model(workspace, "active")


def test_a_model_with_code_in_it_is_refused_unless_trusted(tmp_path, workspace):
    path = tutorial_head(tmp_path / "lambda.h5", lambda_layer=True)
    with h5py.File(path) as f:
        assert "Lambda" in str(f.attrs["model_config"])
    with pytest.raises(LookoutError, match="contains a Lambda layer"):
        load_model(workspace, str(path))
    assert load_model(workspace, str(path), trust_code=True).card.backbone == "vgg16"


def test_trainer_command_line(labeled, random_vgg16, tmp_path):
    weights = tmp_path / "random.weights.h5"
    random_vgg16.model.save_weights(weights)
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "LOOKOUT_VGG16_WEIGHTS": str(weights)}

    def trainer(*args):
        return subprocess.run(
            [sys.executable, "-m", "trainer", *map(str, args), "--workspace", labeled.root],
            capture_output=True, text=True, env=env,
        )

    out = trainer("train", "--epochs", "2", "--activate")
    assert out.returncode == 0, out.stderr
    assert "is now active" in out.stdout and "Confusion matrix" in out.stdout
    metrics = json.loads(trainer("evaluate", "active", "--json").stdout)
    assert metrics["per_class"]["Trump"]["support"] > 0
    images = sorted((tmp_path / "frames").glob("*.jpg"))[:2]
    rows = json.loads(trainer("predict", "active", *images, "--json").stdout)
    assert [r["image"] for r in rows] == [str(p) for p in images]
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-3 for r in rows)
    fresh = trainer("evaluate", "active", "--csv", tmp_path / "frames" / "mapping_trump.csv", "--json")
    assert json.loads(fresh.stdout)["frames"] == 16
    bad = trainer("predict", "nonexistent", images[0])
    assert bad.returncode == 2 and "error: No model 'nonexistent'" in bad.stderr and "Traceback" not in bad.stderr
