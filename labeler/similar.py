"""More like this: the frames nearest a frame by the backbone's features.

Search is exact: one matrix product over every indexed vector. At 100,000 frames it answers
well inside the 200 ms budget on a 2-core laptop (bench/similar.py), so an approximate index
(faiss, hnswlib, usearch) would add a dependency and occasional wrong neighbours for no
difference a user could notice; it would pay off at millions of frames.

What is compared:
- face backbone: faces. Each face of a frame is a vector (FaceRes' 1024 numbers at length 1, or
  dlib's 128 for versions trained before it); a frame is as near as its nearest face.
- vgg16: the 7x7x512 map averaged over its 49 cells and scaled to length 1: what the frame
  shows rather than where, in 512 numbers instead of 25,088 (2 KB a frame in the index).
"""

from __future__ import annotations

import io
import threading
import zipfile
from dataclasses import dataclass

import numpy as np

from data.atomic import write_atomically
from data.errors import LookoutError
from data.frames import frame_by_id_or_name, frame_count, frames_after, frames_by_id, frames_by_sha
from data.workspace import Workspace
from trainer.backbones import Backbone, face_descriptions, is_face_features, pooled
from trainer.features import FeatureCache
from trainer.testset import original_request

# what reading a saved .npz raises when it is missing or damaged (empty: EOFError; cut short: BadZipFile)
UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)
READ_BATCH = 1024  # features in memory at once while indexing: 100 MB of vgg16 maps


def search_vectors(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, the row of `features` each came from) for a stack of frames' features."""
    features = np.asarray(features, dtype="float32")
    if is_face_features(features.shape[1:]):
        rows, slots = np.nonzero(features[..., -1] > 0)
        return face_descriptions(features)[rows, slots], rows
    vectors = pooled(features)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors, np.arange(len(features))


@dataclass
class Neighbour:
    frame_id: int
    file_name: str
    label: int | None
    video_id: int | None
    timestamp_s: float | None
    distance: float

    def to_json(self) -> dict:
        return {**self.__dict__, "distance": round(self.distance, 4)}


class SimilarityIndex:
    """Every frame's search vectors, built from the feature cache and kept on disk per backbone.

    It grows by frames added since its last update (frame ids only grow), plus frames that had no
    features then; a query after new frames costs only those frames.
    """

    def __init__(self, ws: Workspace, backbone: Backbone):
        self.ws = ws
        self.cache = FeatureCache(ws.feature_cache_dir, backbone)
        self.path = ws.root / "index" / f"{backbone.identity}.npz"
        self.shas = np.zeros(0, dtype="<U64")  # one per indexed frame
        self._vectors: np.ndarray | None = np.zeros((0, 0), "float32")  # None: still in the saved file
        self._saved = None  # the saved file, open until its vectors are read
        self._read_lock = threading.Lock()
        self.norms = np.zeros(0, "float32")  # squared lengths of the vectors, kept for the distances
        self.owners = np.zeros(0, "int64")  # vector -> position in shas; never decreasing
        self.last_id = 0  # the newest frame id an update has seen
        self.pending: list | None = None  # frames seen without features; None: only their ids are loaded
        self.pending_ids = np.zeros(0, "int64")
        self._lock = threading.Lock()  # the app shares one index between pages and a background job
        self._load()

    @property
    def unindexed(self) -> int:
        """Frames of the workspace the last update found no features for."""
        return len(self.pending) if self.pending is not None else len(self.pending_ids)

    def _load(self) -> None:
        """Everything but the vectors (200 MB at 100,000 vgg16 frames), so that a page asking only what
        is new does not wait for them. The file stays open until they are read: a later read gets this
        version's vectors even if another process has replaced the file since (it is replaced by a rename)."""
        saved = None
        try:
            saved = np.load(self.path, allow_pickle=False)
            shas, norms, owners = saved["shas"], saved["norms"], saved["owners"]
            last_id, pending_ids = int(saved["last_id"]), saved["pending_ids"]
        except UNREADABLE:
            if saved is not None:
                saved.close()
            return  # a missing or damaged index is rebuilt from the cache
        self.shas, self.norms, self.owners, self.last_id, self.pending_ids = shas, norms, owners, last_id, pending_ids
        self._saved, self._vectors = saved, None

    @property
    def vectors(self) -> np.ndarray:
        """Every search vector, one row each (owners says whose frame)."""
        with self._read_lock:
            if self._vectors is None:
                try:
                    self._vectors = self._saved["vectors"]
                except UNREADABLE as exc:
                    raise LookoutError(f"The search index {self.path} is damaged ({exc}): delete it, and the next "
                                       "search or map rebuilds it from the feature cache.") from exc
                self._saved.close()
        return self._vectors

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()  # uncompressed float32: loading it is one read, no conversion
        np.savez(buf, shas=self.shas, vectors=self.vectors, norms=self.norms, owners=self.owners, last_id=self.last_id,
                 pending_ids=np.array([r["id"] for r in self.pending or []], "int64"))
        write_atomically(self.path, buf.getvalue(), durable=False)

    def _append(self, shas: list[str], vectors: np.ndarray, rows: np.ndarray) -> None:
        """Frames `shas` and their search vectors; rows: the position in `shas` each vector belongs to."""
        known = self.vectors if len(self.vectors) else np.zeros((0, vectors.shape[1]), "float32")
        self.owners = np.concatenate([self.owners, rows + len(self.shas)])
        self._vectors = np.concatenate([known, vectors])
        self.norms = np.concatenate([self.norms, (vectors ** 2).sum(axis=1)])
        self.shas = np.concatenate([self.shas, np.asarray(shas, dtype="<U64")])

    def new_frames(self) -> int:
        """Frames added to the workspace since the last update: one count, no rows read."""
        return frame_count(self.ws.db, after_id=self.last_id)

    def _unseen_frames(self) -> list:
        """Frames added since the last update, and those that had no features then."""
        if self.pending is None:  # first update in this process: what earlier ones could not index
            self.pending = frames_by_id(self.ws.db, self.pending_ids.tolist())
        return self.pending + frames_after(self.ws.db, self.last_id)

    def update(self, *, compute: bool = True, progress=None, should_stop=None) -> int:
        """Index the frames not indexed yet; returns how many were added.

        compute: compute the features the cache lacks (minutes for thousands of face frames);
        otherwise only cached ones are indexed and `unindexed` counts the rest.
        """
        with self._lock:
            unseen, before = self._unseen_frames(), len(self.shas)
        if compute and unseen:
            self.cache.ensure([original_request(self.ws, r) for r in unseen], progress=progress, should_stop=should_stop)
        found, missing, chunks = [], [], []  # chunks: (vectors, their frame's position in found)
        for start in range(0, len(unseen), READ_BATCH):  # 100,000 vgg16 maps at once would take 10 GB
            if progress:
                progress("reading features for the search", start, len(unseen))
            part = unseen[start : start + READ_BATCH]
            features, kept, _ = self.cache.load([original_request(self.ws, r) for r in part], compute=False)
            cached = {request.sha256 for request in kept}
            missing += [r for r in part if r["sha256"] not in cached]
            if kept:
                vectors, rows = search_vectors(features)
                chunks.append((vectors, rows + len(found)))
                found += [request.sha256 for request in kept]
        with self._lock:
            added_meanwhile = set(self.shas[before:].tolist())  # by another update: a page and a job share the index
            fresh = np.array([sha not in added_meanwhile for sha in found], bool)
            if fresh.any():
                vectors, rows = (np.concatenate(parts) for parts in zip(*chunks))
                kept = fresh[rows]
                renumbered = np.cumsum(fresh) - 1  # a frame's position among the fresh ones
                self._append([sha for sha, new in zip(found, fresh) if new], vectors[kept], renumbered[rows[kept]])
            self.last_id = max([self.last_id, *(r["id"] for r in unseen)])
            self.pending = missing
            if fresh.any():
                self._save()
        return int(fresh.sum())

    def nearest(self, query: np.ndarray, limit: int, exclude: str | None = None) -> list[tuple[str, float]]:
        """(sha256, distance) of the `limit` frames nearest any of the query vectors, nearest first."""
        with self._lock:
            shas, vectors, norms, owners = self.shas, self.vectors, self.norms, self.owners
        if not len(query) or not len(vectors):
            return []
        # |a - b|^2 = |a|^2 + |b|^2 - 2ab for every (query, indexed) pair, then the nearest pair per frame
        squared = ((query ** 2).sum(axis=1)[:, None] + norms[None] - 2 * (query @ vectors.T)).min(axis=0)
        frames, starts = np.unique(owners, return_index=True)  # owners never decrease: each frame's vectors are a run
        best = np.full(len(shas), np.inf, "float32")
        best[frames] = np.minimum.reduceat(squared, starts)
        if exclude is not None:
            best[shas == exclude] = np.inf
        limit = min(limit, len(best))
        top = np.argpartition(best, limit - 1)[:limit] if limit < len(best) else np.arange(len(best))
        top = top[np.argsort(best[top], kind="stable")]
        return [(str(shas[i]), float(np.sqrt(max(best[i], 0.0)))) for i in top if np.isfinite(best[i])]


def find_frame(ws: Workspace, frame: str | int):
    """A frame by id or file name; a clear error otherwise."""
    row = frame_by_id_or_name(ws.db, frame)
    if row is None:
        raise LookoutError(f"No frame {frame!r} in the workspace at {ws.root}: give a frame id or file name "
                           "(python -m labeler queue lists some).")
    return row


def similar_frames(ws: Workspace, backbone: Backbone, frame: str | int, *, limit: int = 20, compute: bool = True,
                   update: bool = True, index: SimilarityIndex | None = None, progress=None
                   ) -> tuple[list[Neighbour], SimilarityIndex]:
    """The frames nearest `frame`, nearest first, and the index used (it counts the frames it lacks).

    compute: compute the features other frames lack first; the frame's own are computed anyway.
    update: add the frames new to the index first (a page leaves many to a background job).
    """
    row = find_frame(ws, frame)
    index = index or SimilarityIndex(ws, backbone)
    _, failed = index.cache.ensure([original_request(ws, row)])
    if failed:
        raise LookoutError(f"Cannot read frame {row['file_name']}: {failed[row['sha256']]}")
    features = index.cache.get(row["sha256"])
    if update:
        index.update(compute=compute, progress=progress)
    query, _ = search_vectors(features[None])
    if not len(query):
        raise LookoutError(f"No face found in {row['file_name']}: with the face backbone, frames are alike by "
                           "their faces. Pick a frame that shows one.")
    found = index.nearest(query, limit, exclude=row["sha256"])
    rows = {r["sha256"]: r for r in frames_by_sha(ws.db, [sha for sha, _ in found])}
    return [Neighbour(r["id"], r["file_name"], r["label"], r["video_id"], r["timestamp_s"], distance)
            for sha, distance in found if (r := rows.get(sha)) is not None], index

