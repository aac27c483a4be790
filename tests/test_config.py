import pytest

from data.config import ProjectConfig, parse_config
from data.errors import LookoutError
from data.workspace import Workspace, workspace_path


def test_first_use_creates_the_workspace_layout_and_a_default_config(tmp_path):
    ws = Workspace.open(tmp_path / "new")
    for name in ("project.toml", "mapping_trump.csv", "frames", "videos", "features", "models", "lookout.sqlite"):
        assert (ws.root / name).exists(), name
    assert ws.config.fps == 1.0
    assert ws.config.frame_rule.min_ratio == pytest.approx(1 / 3)
    assert ws.config.classes[0] == "no target"


def test_config_round_trips_several_targets(tmp_path):
    config = ProjectConfig(name="Flags", classes=("none", "Ukraine flag", "Russia flag"), backbone="face", fps=2,
                           face_descriptor="dlib")
    ws = Workspace.open(tmp_path / "w", config=config)
    assert Workspace.open(tmp_path / "w").config == ws.config
    assert ws.config.targets == {1: "Ukraine flag", 2: "Russia flag"}


def test_workspace_location_flag_beats_environment_beats_default(monkeypatch, tmp_path):
    monkeypatch.delenv("LOOKOUT_WORKSPACE", raising=False)
    assert str(workspace_path()) == "workspace"
    monkeypatch.setenv("LOOKOUT_WORKSPACE", str(tmp_path / "env"))
    assert workspace_path() == tmp_path / "env"
    assert workspace_path(tmp_path / "flag") == tmp_path / "flag"


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"classes": ["only one"]}, "classes"),
        ({"classes": ["a", "a"]}, "classes"),
        ({"backbone": "resnet"}, "backbone"),
        ({"face_descriptor": "arcface"}, "face_descriptor"),
        ({"sampling": {"fps": 0}}, "sampling.fps"),
        ({"sampling": {"fps": "fast"}}, "sampling.fps"),
        ({"frame_rule": {"min_ratio": 1.5}}, "frame_rule.min_ratio"),
        ({"frame_rule": {"threshold": 1}}, "frame_rule.threshold"),
        ({"frame_rule": {"min_frames": 0}}, "frame_rule.min_frames"),
        ({"alerts": {"urls": "json://x"}}, "alerts.urls"),
        ({"sources": [{"path": "trend"}]}, "sources"),
        ({"sampling": 3}, "sampling"),
        ({"colour": "red"}, "colour"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_config_names_the_key(raw, key):
    with pytest.raises(LookoutError, match=f"'{key}'"):
        parse_config(raw)


def test_broken_toml_names_the_file(tmp_path):
    ws = Workspace.open(tmp_path / "w")
    ws.config_path.write_text("classes = [\n")
    with pytest.raises(LookoutError, match="project.toml is not valid TOML"):
        Workspace.open(tmp_path / "w")


def test_the_project_form_names_targets_and_keeps_labeled_ones(tmp_path):
    from data.importer import import_folder
    from data.labels import set_label
    from data.workspace import define_project
    from tests.media import save_image

    ws = Workspace.open(tmp_path / "ws")
    define_project(ws, name="Elections", targets=["Trump", " Biden ", ""], backbone="face")
    assert Workspace.open(tmp_path / "ws").config.classes == ("no target", "Trump", "Biden")
    assert ws.config.name == "Elections" and ws.config.backbone == "face"
    folder = tmp_path / "in"
    folder.mkdir()
    save_image(folder / "a.jpg", 1)
    import_folder(ws, folder)
    set_label(ws, 1, 2)
    with pytest.raises(LookoutError, match="Frames are labeled 'Biden'"):
        define_project(ws, name="Elections", targets=["Trump"], backbone="face")
    with pytest.raises(LookoutError, match="at least one target"):
        define_project(ws, name="Elections", targets=[" "], backbone="face")
    with pytest.raises(LookoutError, match="'classes'"):
        define_project(ws, name="Elections", targets=["Trump", "Trump"], backbone="face")
    define_project(ws, name="Elections", targets=["Donald Trump", "Joe Biden"], backbone="face")  # renaming is fine
    assert ws.config.classes[2] == "Joe Biden"
