"""No monitor goes dark on upgrade: a project whose face model describes faces with dlib's descriptor
(every face model before FaceRes) keeps scoring with it, is told a better model can be trained, and
moves to FaceRes by training again."""

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from data.config import ProjectConfig
from data.importer import import_folder
from data.workspace import Workspace
from monitor.cycle import BackboneCache
from tests.test_quality import verdict_for
from trainer.compare import compare_versions
from trainer.registry import activate, load_model
from trainer.train import train_model

TRUMP = [7, 8, 9, 10, 19, 20, 21, 23, 24, 25, 26, 27]  # frames labeled 1 in the shared mapping
OTHERS = [0, 1, 2, 3, 4, 5, 6, 60, 61, 62, 63, 64]
UPGRADE = "A better face model can be trained"


@pytest.fixture
def dlib_project(tmp_path, dataset, monkeypatch):
    """A project as an earlier Lookout left it: a face model trained with dlib's descriptor, active,
    and a project.toml that names no face descriptor."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in TRUMP + OTHERS:
        shutil.copy(dataset / "Data_deeplearning" / f"frame{i}.jpg", folder)
    (folder / "mapping_trump.csv").write_text("Image_ID,Class\n" + "".join(
        f"frame{i}.jpg,{int(i in TRUMP)}\n" for i in TRUMP + OTHERS))
    config = ProjectConfig(name="Trump", classes=("no target", "Trump"), backbone="face", face_descriptor="dlib")
    ws = Workspace.open(tmp_path / "ws", config=config)
    import_folder(ws, folder)
    old = train_model(ws)
    activate(ws, old.version)
    toml = ws.root / "project.toml"
    toml.write_text("\n".join(line for line in toml.read_text().splitlines() if not line.startswith("face_descriptor")))
    ws.close()
    monkeypatch.setenv("LOOKOUT_WORKSPACE", str(ws.root))
    yield Workspace.open(ws.root), old
    Workspace.open(ws.root).close()


def train_page() -> AppTest:
    app = AppTest.from_string("from ui import train\ntrain.page()", default_timeout=120)
    app.session_state["labeler"] = "tester"
    return app.run()


def test_a_dlib_face_model_keeps_scoring_then_a_retrain_moves_the_project_to_faceres(dlib_project, dataset):
    ws, old = dlib_project
    assert ws.config.face_descriptor == "faceres"  # what the project trains with next
    assert old.card.backbone_identity.startswith("face-dlib")

    monitor_backbones = BackboneCache()  # what `monitor watch` keeps between cycles
    backbone = monitor_backbones.for_model(ws, load_model(ws, "active"))  # the descriptor the version was trained with
    assert backbone.identity == old.card.backbone_identity and backbone.feature_shape == (4, 129)
    trump = verdict_for(ws, backbone, dataset / "Trump.mp4")
    assert trump.sampled_frames == pytest.approx(18, abs=1) and trump.positive

    app = train_page()
    assert not app.exception and any(UPGRADE in info.value for info in app.info)

    new = train_model(ws)
    assert new.card.backbone_identity.startswith("face-faceres") and new.card.input_shape == (4, 1026)
    comparison = compare_versions(ws, [old.version, new.version])  # each scored with its own descriptor
    assert comparison.frames == old.card.split["test_frames"]
    activate(ws, new.version)
    # the running monitor's next cycle moves to FaceRes (it kept dlib's and refused the new version's features)
    assert monitor_backbones.for_model(ws, load_model(ws, "active")).identity == new.card.backbone_identity
    app = train_page()
    assert not app.exception and not any(UPGRADE in info.value for info in app.info)
