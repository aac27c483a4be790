"""A model's probabilities for the workspace's frames, computed once per (model version, frame).

A frame's image never changes (frames are stored by content) and neither does a model version,
so a score, once computed, holds for good. The review queue, the map and "the model disagrees"
all need the active model's view of every frame: at 100,000 vgg16 frames that is 5 GB of
features to read and half a minute of the tutorial head, once per version instead of once per
page. Kept in index/scores/<version>.npz: 4 bytes per class per frame.
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from data.atomic import write_atomically
from data.model_card import ModelCard
from data.workspace import Workspace
from trainer.backbones import Backbone
from trainer.features import FeatureCache, entry_path
from trainer.progress import Progress, ShouldStop
from trainer.testset import original_request

BATCH = 1024  # frames whose features are in memory at once: 50 MB of vgg16 maps
_locks: dict[Path, threading.Lock] = {}


def scores_path(ws: Workspace, version: str) -> Path:
    return ws.root / "index" / "scores" / f"{version}.npz"


def read_scores(path: Path) -> tuple[list[str], np.ndarray, str | None]:
    """(frame hashes, their probabilities, the backbone identity of the features scored) in a
    score file; nothing when it is missing or damaged (an empty file is an EOFError)."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            return saved["shas"].tolist(), saved["probs"], str(saved["backbone_identity"])
    except (OSError, ValueError, KeyError, EOFError):
        return [], np.zeros((0, 0), "float32"), None


class ModelScores:
    def __init__(self, ws: Workspace, model, backbone: Backbone):
        self.ws, self.model = ws, model
        self.cache = FeatureCache(ws.feature_cache_dir, backbone)
        self.path = scores_path(ws, model.version)
        self._lock = _locks.setdefault(self.path, threading.Lock())
        shas, self.probs, identity = read_scores(self.path)
        if identity != backbone.identity:  # none stored, or from other features: scored again
            shas, self.probs = [], np.zeros((0, len(model.classes)), "float32")
        self.position = {sha: i for i, sha in enumerate(shas)}  # sha256 -> row of probs

    def probabilities(self, rows: list, *, compute: bool = True, progress: Progress | None = None,
                      should_stop: ShouldStop | None = None, stage: str = "scoring frames") -> tuple[np.ndarray, list]:
        """(probabilities, the rows they belong to) for frame rows (sha256, file_name); frames whose
        image cannot be read are left out, and so are frames without cached features unless compute.
        Only frames this version never scored are scored."""
        todo = [r for r in rows if r["sha256"] not in self.position]
        batches = [todo[start : start + BATCH] for start in range(0, len(todo), BATCH)]

        shown = 0

        def report(done: int) -> None:  # from two threads: the count never goes back
            nonlocal shown
            if progress and done >= shown:
                shown = done
                progress(stage, done, len(todo))

        def read(i: int) -> tuple:
            """Batch i's features; the count moves as missing ones are computed (minutes with the face model)."""
            return self.cache.load([original_request(self.ws, r) for r in batches[i]], compute=compute,
                                   should_stop=should_stop, progress=lambda _, done, __: report(i * BATCH + done))

        # The next batch is read while the head scores this one: at 100,000 vgg16 frames reading
        # (5 GB) takes about half as long as the head (25 million multiply-adds a frame, 33 s).
        with ThreadPoolExecutor(1, thread_name_prefix="read-features") as reader:
            ahead = reader.submit(read, 0) if batches else None
            for i in range(len(batches)):
                report(i * BATCH)
                features, kept, _ = ahead.result()
                if i + 1 < len(batches):
                    ahead = reader.submit(read, i + 1)
                if len(kept):
                    self._add([r.sha256 for r in kept], self.model.head.predict_proba(features))
        if todo:
            report(len(todo))
            self._save()
        kept_rows = [r for r in rows if r["sha256"] in self.position]
        return self.probs[[self.position[r["sha256"]] for r in kept_rows]], kept_rows

    def _add(self, shas: list[str], probs: np.ndarray) -> None:
        with self._lock:
            fresh = [i for i, sha in enumerate(shas) if sha not in self.position]  # another job may have scored them
            for i in fresh:
                self.position[shas[i]] = len(self.position)
            self.probs = np.concatenate([self.probs, np.asarray(probs, "float32")[fresh]])

    def _save(self) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            buf = io.BytesIO()
            np.savez(buf, shas=np.array(list(self.position), "<U64"), probs=self.probs,
                     backbone_identity=self.cache.backbone.identity)
            write_atomically(self.path, buf.getvalue(), durable=False)


@functools.lru_cache(maxsize=2)
def _scores_by_frame(path: str, modified_ns: int) -> tuple[dict, np.ndarray, str | None]:
    """A score file as (frame hash -> row, probabilities, backbone identity), read again when it changes."""
    shas, probs, identity = read_scores(Path(path))
    return {sha: i for i, sha in enumerate(shas)}, probs, identity


def stored_probabilities(ws: Workspace, card: ModelCard, sha256: str) -> np.ndarray | None:
    """A version's stored probabilities for a frame (training scores every frame with features,
    the queue those it ranks), or None."""
    path = scores_path(ws, card.version)
    try:
        modified = path.stat().st_mtime_ns
    except OSError:
        return None
    position, probs, identity = _scores_by_frame(str(path), modified)
    if sha256 not in position or (card.backbone_identity or identity) != identity:
        return None
    return probs[position[sha256]]


def frame_guess(ws: Workspace, card: ModelCard, sha256: str, load_model: Callable[[], tuple]) -> tuple[str, float] | None:
    """The version's likeliest class for a frame it has scored or whose features are cached, with its
    probability. Stored scores come first: they need no Keras, which takes seconds to load on a page's
    first visit; load_model() gives (model, backbone) when they are not enough. Features are never
    computed here: that would slow every key press on the Label page (the queue computes them)."""
    probs = stored_probabilities(ws, card, sha256)
    identity = card.backbone_identity
    if probs is None and (identity is None or entry_path(ws.feature_cache_dir, identity, sha256).is_file()):
        model, backbone = load_model()
        features = FeatureCache(ws.feature_cache_dir, backbone).get(sha256)
        probs = None if features is None else model.head.predict_proba(features[None])[0]
    if probs is None:
        return None
    best = int(probs.argmax())
    return card.classes[best], float(probs[best])
