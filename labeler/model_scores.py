"""A model's probabilities for the workspace's frames, computed once per (model version, frame).

A frame's image never changes (frames are stored by content) and neither does a model version,
so a score, once computed, holds for good. The review queue, the map and "the model disagrees"
all need the active model's view of every frame: at 100,000 vgg16 frames that is 5 GB of
features to read and a minute of the tutorial head, once per version instead of once per
page. Kept in index/scores/<version>.npz: 4 bytes per class per frame.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np

from data.atomic import write_atomically
from data.workspace import Workspace
from trainer.backbones import Backbone
from trainer.features import FeatureCache
from trainer.progress import Progress, ShouldStop
from trainer.testset import feature_cache_dir, original_request

BATCH = 1024  # frames whose features are in memory at once: 50 MB of vgg16 maps
_locks: dict[Path, threading.Lock] = {}


class ModelScores:
    def __init__(self, ws: Workspace, model, backbone: Backbone):
        self.ws, self.model = ws, model
        self.cache = FeatureCache(feature_cache_dir(ws), backbone)
        self.path = ws.root / "index" / "scores" / f"{model.version}.npz"
        self._lock = _locks.setdefault(self.path, threading.Lock())
        self.shas, self.probs = np.zeros(0, "<U64"), np.zeros((0, len(model.classes)), "float32")
        try:
            with np.load(self.path, allow_pickle=False) as saved:
                if str(saved["backbone_identity"]) == backbone.identity:
                    self.shas, self.probs = saved["shas"], saved["probs"]
        except (OSError, ValueError, KeyError, EOFError):
            pass  # missing or damaged (an empty file is an EOFError): scored again

    def probabilities(self, rows: list, *, compute: bool = True, progress: Progress | None = None,
                      should_stop: ShouldStop | None = None, stage: str = "scoring frames") -> tuple[np.ndarray, list]:
        """(probabilities, the rows they belong to) for frame rows (sha256, file_name); frames whose
        image cannot be read are left out, and so are frames without cached features unless compute.
        Only frames this version never scored are scored."""
        position = self._positions([r["sha256"] for r in rows])
        todo = [r for r, p in zip(rows, position) if p < 0]
        failed: set[str] = set()
        for start in range(0, len(todo), BATCH):
            if progress:
                progress(stage, start, len(todo))
            features, kept, unreadable = self.cache.load([original_request(self.ws, r) for r in todo[start : start + BATCH]],
                                                         compute=compute, should_stop=should_stop)
            failed |= unreadable.keys()
            if len(kept):
                self._add([r.sha256 for r in kept], self.model.head.predict_proba(features))
        if todo:
            if progress:
                progress(stage, len(todo), len(todo))
            self._save()
            position = self._positions([r["sha256"] for r in rows])
        kept_rows = [r for r, p in zip(rows, position) if p >= 0]
        return self.probs[position[position >= 0]], kept_rows

    def _positions(self, shas: list[str]) -> np.ndarray:
        """Where each sha is in the store, -1 where it is not."""
        if not len(self.shas) or not shas:
            return np.full(len(shas), -1, "int64")
        order = np.argsort(self.shas)
        wanted = np.asarray(shas, dtype="<U64")
        at = np.minimum(np.searchsorted(self.shas, wanted, sorter=order), len(order) - 1)
        return np.where(self.shas[order[at]] == wanted, order[at], -1)

    def _add(self, shas: list[str], probs: np.ndarray) -> None:
        with self._lock:
            fresh = self._positions(shas) < 0  # another job may have scored them meanwhile
            self.shas = np.concatenate([self.shas, np.asarray(shas, "<U64")[fresh]])
            self.probs = np.concatenate([self.probs, np.asarray(probs, "float32")[fresh]])

    def _save(self) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            buf = io.BytesIO()
            np.savez(buf, shas=self.shas, probs=self.probs, backbone_identity=self.cache.backbone.identity)
            write_atomically(self.path, buf.getvalue(), durable=False)
