"""Fixtures shared by the test suite: temporary workspaces, the shared dataset, small media."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from filelock import FileLock

from data.config import ProjectConfig
from data.workspace import DEFAULT_WORKSPACE, Workspace

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASET = Path(os.environ.get("LOOKOUT_SHARED_DATASET", REPO.parent / "shared" / "datasets" / "trump_tiktok"))


@pytest.fixture(autouse=True)
def nothing_written_into_the_checkout():
    """A test that forgets --workspace would create ./workspace where pytest runs: say which one."""
    default = Path(DEFAULT_WORKSPACE)
    existed = default.exists()
    yield
    if default.exists() and not existed:
        pytest.fail(f"this test created {default.resolve()}: give every command and page a workspace in tmp_path")


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    ws = Workspace.open(tmp_path / "ws", config=ProjectConfig(name="Test", classes=("no target", "Trump")))
    yield ws
    ws.close()


@pytest.fixture
def ws_env(tmp_path, monkeypatch):
    """The workspace the app's pages open ($LOOKOUT_WORKSPACE), not created yet."""
    monkeypatch.setenv("LOOKOUT_WORKSPACE", str(tmp_path / "ws"))
    return tmp_path / "ws"


@pytest.fixture
def small_disk(tmp_path):
    """small_disk("3m"): a folder on a file system of that size, to run out of space for real."""
    import subprocess

    mounts = []

    def mount(size: str) -> Path:
        folder = tmp_path / f"disk{len(mounts)}"
        folder.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True).returncode:
            pytest.skip("a small file system cannot be mounted here (needs root)")
        mounts.append(folder)
        return folder

    yield mount
    for folder in mounts:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Write a file in folder until its disk is full; delete the file to free the space."""
    ballast = folder / "ballast"
    try:
        with open(ballast, "wb") as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
    except OSError:  # the last write's, or closing's with bytes still unwritten
        return ballast


@pytest.fixture(scope="session")
def dataset() -> Path:
    """The tutorial's published dataset, read in place (never copied into the repository)."""
    if not (SHARED_DATASET / "Data_deeplearning" / "mapping_trump.csv").exists():
        pytest.skip(f"the shared dataset is not at {SHARED_DATASET} (set LOOKOUT_SHARED_DATASET to its folder)")
    return SHARED_DATASET


def run_folder(tmp_path_factory) -> Path:
    """A folder of this run that every test process shares (the suite runs in two, see pyproject.toml)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def feature_cache(tmp_path_factory) -> Path:
    """One feature cache for the whole run, shared by its processes: the face backbone takes minutes
    on the full dataset. Entries are written atomically, so two processes may fill it at once."""
    path = Path(os.environ.get("LOOKOUT_TEST_FEATURE_CACHE") or run_folder(tmp_path_factory) / "features")
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def random_vgg16():
    """VGG16 with explicitly random weights: for pipeline tests, never for accuracy."""
    from trainer.backbones import RANDOM, VGG16Backbone

    return VGG16Backbone(RANDOM)


@pytest.fixture(scope="session")
def face_backbone():
    from trainer.backbones import FaceBackbone

    return FaceBackbone()


@pytest.fixture(scope="session")
def imported_dataset(tmp_path_factory, dataset) -> Path:
    """A workspace with the shared dataset imported, face backbone, built once: copy it with copy_workspace."""
    from data.importer import import_folder

    config = ProjectConfig(name="Trump", classes=("no target", "Trump"), backbone="face")
    ws = Workspace.open(tmp_path_factory.mktemp("imported") / "ws", config=config)
    import_folder(ws, dataset / "Data_deeplearning")
    ws.close()
    return ws.root


def copy_workspace(template: Path, to: Path, config: ProjectConfig | None = None) -> Workspace:
    shutil.copytree(template, to)
    return Workspace.open(to, config=config)


@pytest.fixture(scope="session")
def trained_face_workspace(tmp_path_factory, imported_dataset, feature_cache, face_backbone):
    """The shared dataset imported and a face model trained and activated on it (once per run)."""
    from trainer.registry import activate
    from trainer.train import train_model

    ws = copy_workspace(imported_dataset, tmp_path_factory.mktemp("face") / "ws")
    mp = pytest.MonkeyPatch()
    mp.setenv("LOOKOUT_FEATURE_CACHE", str(feature_cache))
    try:
        with FileLock(feature_cache / "faces.lock"):  # one process finds the faces; the other waits, then reads them
            result = train_model(ws, backbone=face_backbone)
    finally:
        mp.undo()
    activate(ws, result.version)
    yield ws, result
    ws.close()
