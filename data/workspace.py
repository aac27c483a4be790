"""The workspace folder: project.toml, mapping CSV, frames, videos, features, models, database."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from filelock import FileLock

from data.config import ProjectConfig, load_config, parse_config, save_config
from data.errors import LookoutError
from data.mapping_csv import sync_mapping_csv
from data.schema import connect
from data.scratch import remove_leftovers

DEFAULT_WORKSPACE = "workspace"
WORKSPACE_ENV = "LOOKOUT_WORKSPACE"
MAPPING_CSV = "mapping_trump.csv"


def workspace_path(explicit: str | os.PathLike | None = None) -> Path:
    """--workspace beats $LOOKOUT_WORKSPACE beats ./workspace."""
    return Path(explicit or os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE)


class Workspace:
    """One project on disk. Create it with `Workspace.open`."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.config_path = self.root / "project.toml"
        self.mapping_csv = self.root / MAPPING_CSV
        self.frames_dir = self.root / "frames"
        self.videos_dir = self.root / "videos"
        self.features_dir = self.root / "features"
        self.models_dir = self.root / "models"
        self.db_path = self.root / "lookout.sqlite"
        self._local = threading.local()
        self._config: tuple[int, ProjectConfig] | None = None

    @classmethod
    def open(cls, root: str | os.PathLike | None = None, *, config: ProjectConfig | None = None) -> "Workspace":
        """Open the workspace, creating its folders, config and database on first use."""
        ws = cls(workspace_path(root))
        if ws.root.exists() and not ws.root.is_dir():
            raise LookoutError(f"Workspace {ws.root} is a file, not a folder; choose another --workspace.")
        for folder in (ws.root, ws.frames_dir, ws.videos_dir, ws.features_dir, ws.models_dir):
            folder.mkdir(parents=True, exist_ok=True)
        if config is None and not ws.config_path.exists():
            config = ProjectConfig()  # its backbone is chosen where first needed (trainer.predict)
        if config is not None:
            save_config(config, ws.config_path)
        ws.reload_config()  # validate now, not halfway through a command
        remove_leftovers([ws.root, ws.frames_dir, ws.features_dir, ws.models_dir])
        sync_mapping_csv(ws)
        return ws

    @property
    def feature_cache_dir(self) -> Path:
        """Where backbone features are kept: $LOOKOUT_FEATURE_CACHE lets several workspaces share them
        (entries are keyed by content), else features/."""
        return Path(os.environ.get("LOOKOUT_FEATURE_CACHE") or self.features_dir)

    @property
    def config(self) -> ProjectConfig:
        """project.toml as it is now: an operator's edit applies without restarting the app."""
        stamp = self.config_path.stat().st_mtime_ns
        if self._config is None or self._config[0] != stamp:
            self._config = (stamp, load_config(self.config_path))
        return self._config[1]

    def save_config(self, config: ProjectConfig) -> None:
        save_config(config, self.config_path)
        self._config = (self.config_path.stat().st_mtime_ns, config)

    def reload_config(self) -> ProjectConfig:
        self._config = None
        return self.config

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection: the app's sessions and background jobs share one Workspace,
        and a transaction must never take in another thread's statements."""
        conn = getattr(self._local, "db", None)
        if conn is None:
            conn = self._local.db = connect(self.db_path)
        return conn

    def write_lock(self) -> FileLock:
        """Held while labels are committed and the mapping CSV rewritten, across processes."""
        return FileLock(self.root / ".write.lock", timeout=60)

    def close(self) -> None:
        conn = getattr(self._local, "db", None)
        if conn is not None:
            conn.close()
            del self._local.db

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"


def define_project(ws: Workspace, *, name: str, targets: list[str], backbone: str) -> ProjectConfig:
    """Name the project and what it looks for; targets that already have labeled frames stay."""
    targets = [t.strip() for t in targets if t.strip()]
    if not targets:
        raise LookoutError("Name at least one target (for example: Trump).")
    classes = [ws.config.classes[0], *targets]
    highest = ws.db.execute("SELECT MAX(label) FROM frames").fetchone()[0]
    if highest is not None and highest >= len(classes):
        raise LookoutError(
            f"Frames are labeled {ws.config.classes[highest]!r}; keep that target in the list "
            "(renaming it is fine, labels are stored by position)."
        )
    raw = {**ws.config.to_toml(), "name": name, "classes": classes, "backbone": backbone}
    config = parse_config(raw, where=f"{ws.config_path.name} (project form)")
    ws.save_config(config)
    return config
