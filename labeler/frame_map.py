"""A map of all frames: the backbone's features projected to two dimensions with UMAP, so that
frames that look alike sit together and a box drawn around a cluster labels it at once.

UMAP (umap-learn) rather than t-SNE: it keeps the layout of clusters as well as their insides,
and at 100,000 frames it takes minutes where scikit-learn's t-SNE takes far longer. With a fixed
seed the same frames give the same map, so a recomputed map does not move what the user knew.
Below MIN_FOR_UMAP frames a neighbourhood graph means little: the map is the first two
principal components.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.atomic import write_atomically
from data.frames import frame_table, frames_by_sha
from data.workspace import Workspace
from labeler.similar import UNREADABLE, SimilarityIndex
from trainer.evaluate import decide
from trainer.model_scores import ModelScores

MIN_FOR_UMAP = 50


@dataclass
class FrameMap:
    shas: np.ndarray  # frames on the map
    xy: np.ndarray  # (frames, 2)
    indexed: int  # frames in the similarity index when the map was drawn: more now means it is stale
    model_version: str = ""  # the model whose calls below these are, if any
    scores: np.ndarray | None = None  # (frames,) probability of the most likely target
    calls: np.ndarray | None = None  # (frames,) the class the model gives at its thresholds


def frame_means(index: SimilarityIndex) -> tuple[np.ndarray, np.ndarray]:
    """(sha256, vector) per frame with at least one vector: the mean of a frame's faces."""
    owners, starts, counts = np.unique(index.owners, return_index=True, return_counts=True)
    if not len(owners):
        return index.shas[:0], np.zeros((0, 2), "float32")
    sums = np.add.reduceat(index.vectors, starts, axis=0)
    return index.shas[owners], sums / counts[:, None]


def project(vectors: np.ndarray) -> np.ndarray:
    if len(vectors) < 3:
        return np.zeros((len(vectors), 2), "float32")
    if len(vectors) < MIN_FOR_UMAP:
        from sklearn.decomposition import PCA

        return PCA(n_components=2).fit_transform(vectors).astype("float32")
    import umap

    with warnings.catch_warnings():  # "n_jobs overridden to 1 by setting random_state": reproducible on purpose
        warnings.simplefilter("ignore", UserWarning)
        return umap.UMAP(n_components=2, random_state=0).fit_transform(vectors).astype("float32")


def map_path(index: SimilarityIndex):
    return index.path.with_name(index.path.stem + "-map.npz")


def compute_map(ws: Workspace, index: SimilarityIndex, *, model=None, thresholds=None, progress=None, should_stop=None,
                compute_features: bool = False) -> FrameMap:
    """Index what is new (computing missing features only when asked), project, score, save."""
    index.update(compute=compute_features, progress=progress, should_stop=should_stop)
    shas, vectors = frame_means(index)
    if progress:
        progress(f"drawing the map of {len(shas)} frames", 0, 1)
    frame_map = FrameMap(shas, project(vectors), len(index.shas))
    if model is not None and len(shas):
        probs = _probabilities(index, shas, model)
        frame_map.model_version = model.version
        frame_map.scores, frame_map.calls = probs[:, 1:].max(axis=1), decide(probs, thresholds)
    buf = io.BytesIO()
    none = np.zeros(0, "float32")
    np.savez(buf, shas=frame_map.shas, xy=frame_map.xy, indexed=frame_map.indexed, model_version=frame_map.model_version,
             scores=none if frame_map.scores is None else frame_map.scores,
             calls=none if frame_map.calls is None else frame_map.calls)
    map_path(index).parent.mkdir(parents=True, exist_ok=True)
    write_atomically(map_path(index), buf.getvalue(), durable=False)
    if progress:
        progress(f"drawing the map of {len(shas)} frames", 1, 1)
    return frame_map


def _probabilities(index: SimilarityIndex, shas: np.ndarray, model) -> np.ndarray:
    """The model's class probabilities per frame on the map: those training or the queue stored,
    the rest scored from cached features (every indexed frame has them) and stored too."""
    rows = frames_by_sha(index.ws.db, shas.tolist())
    probs, kept = ModelScores(index.ws, model, index.cache.backbone).probabilities(rows, compute=False)
    position = {r["sha256"]: i for i, r in enumerate(kept)}
    return probs[[position[str(sha)] for sha in shas]]


def load_map(index: SimilarityIndex) -> FrameMap | None:
    try:
        with np.load(map_path(index), allow_pickle=False) as saved:
            scores, calls = saved["scores"], saved["calls"]
            return FrameMap(saved["shas"], saved["xy"], int(saved["indexed"]), str(saved["model_version"]),
                            scores if len(scores) else None, calls if len(calls) else None)
    except UNREADABLE:  # drawn again
        return None


def map_points(ws: Workspace, frame_map: FrameMap) -> pd.DataFrame:
    """One row per frame on the map still in the workspace: id, file_name, label, x, y (and score, call)."""
    points = pd.DataFrame({"sha256": frame_map.shas, "x": frame_map.xy[:, 0], "y": frame_map.xy[:, 1]})
    if frame_map.scores is not None:
        points["score"], points["call"] = frame_map.scores, frame_map.calls
    frames = frame_table(ws.db)[["id", "sha256", "file_name", "label"]]
    return frames.merge(points, on="sha256").drop(columns="sha256")


def in_box(points: pd.DataFrame, box: dict) -> pd.DataFrame:
    """The points inside a box selection {"x": [a, b], "y": [c, d]} (either order)."""
    (x0, x1), (y0, y1) = sorted(box["x"]), sorted(box["y"])
    return points[points.x.between(x0, x1) & points.y.between(y0, y1)]
