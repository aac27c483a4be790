"""Fixtures shared by the test suite: temporary workspaces, the shared dataset, small media."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from data.config import ProjectConfig
from data.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASET = Path(os.environ.get("LOOKOUT_SHARED_DATASET", REPO.parent / "shared" / "datasets" / "trump_tiktok"))


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    ws = Workspace.open(tmp_path / "ws", config=ProjectConfig(name="Test", classes=("no target", "Trump")))
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def dataset() -> Path:
    """The tutorial's published dataset, read in place (never copied into the repository)."""
    if not (SHARED_DATASET / "Data_deeplearning" / "mapping_trump.csv").exists():
        pytest.skip(f"the shared dataset is not at {SHARED_DATASET} (set LOOKOUT_SHARED_DATASET to its folder)")
    return SHARED_DATASET
