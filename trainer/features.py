"""Backbone features computed once per (backbone identity, image content, variant), kept on disk.

Each entry is one .npy file of float16 with a CRC32 trailer, written atomically, under
features/<backbone identity>/: a vgg16 map is 50 KB (7x7x512), a face frame 1 KB (4x129),
half of float32 at no cost a head can tell (ReLU maps and unit-scale descriptors keep 3
significant digits). Entries written as float32 by earlier versions are read as they are.
A changed backbone or weights file has another identity, so stale features are never found;
a damaged file fails its checksum or shape check and is recomputed.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.atomic import write_atomically
from data.errors import LookoutError
from trainer.backbones import Backbone
from trainer.progress import Cancelled, Progress

ORIGINAL = "orig"
_TRAILER = struct.Struct("<4sI")
_MAGIC = b"LKF1"


@dataclass(frozen=True)
class FeatureRequest:
    sha256: str
    variant: str  # ORIGINAL or an augmentation key
    load: Callable[[], np.ndarray]  # the RGB image for this variant, only called on a miss


def entry_path(root: Path, identity: str, sha256: str, variant: str = ORIGINAL) -> Path:
    """Where a frame's features from the backbone `identity` are kept: checking that one exists needs no backbone."""
    return Path(root) / identity / sha256[:2] / f"{sha256}-{variant}.npy"


class FeatureCache:
    def __init__(self, root: Path, backbone: Backbone):
        self.backbone = backbone
        self.root = Path(root)

    def path(self, sha256: str, variant: str) -> Path:
        return entry_path(self.root, self.backbone.identity, sha256, variant)

    def get(self, sha256: str, variant: str = ORIGINAL) -> np.ndarray | None:
        """The cached features, or None when missing or damaged."""
        try:
            blob = self.path(sha256, variant).read_bytes()
        except FileNotFoundError:
            return None
        body, trailer = blob[: -_TRAILER.size], blob[-_TRAILER.size :]
        if len(trailer) != _TRAILER.size:
            return None
        magic, crc = _TRAILER.unpack(trailer)
        if magic != _MAGIC or zlib.crc32(body) != crc:
            return None
        try:
            features = np.load(io.BytesIO(body), allow_pickle=False)
        except (ValueError, OSError, EOFError):
            return None
        if features.shape != self.backbone.feature_shape or features.dtype not in (np.float16, np.float32):
            return None
        return features.astype(np.float32, copy=False)

    def put(self, sha256: str, variant: str, features: np.ndarray) -> None:
        path = self.path(sha256, variant)
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        finite = np.finfo(np.float16).max  # never inf: a saturated value still trains, an inf does not
        np.save(buf, np.clip(features, -finite, finite).astype(np.float16), allow_pickle=False)
        body = buf.getvalue()
        write_atomically(path, body + _TRAILER.pack(_MAGIC, zlib.crc32(body)), durable=False)

    def ensure(
        self,
        requests: list[FeatureRequest],
        *,
        progress: Progress | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> tuple[int, dict[str, str]]:
        """Compute, in backbone-sized batches, whatever is missing.

        Returns how many were computed, and {sha256: reason} for images that could not be read.
        """
        missing = [r for r in requests if self.get(r.sha256, r.variant) is None]
        if not missing:
            return 0, {}  # the backbone is not even asked its batch size: a deferred one would load its weights
        failed: dict[str, str] = {}
        batch = self.backbone.batch_size
        for start in range(0, len(missing), batch):
            if should_stop and should_stop():
                raise Cancelled()
            loaded = []
            for request in missing[start : start + batch]:
                try:
                    loaded.append((request, request.load()))
                except (LookoutError, OSError) as exc:
                    failed[request.sha256] = str(exc)
            if loaded:
                features = self.backbone.embed([image for _, image in loaded])
                for (request, _), row in zip(loaded, features):
                    self.put(request.sha256, request.variant, row)
            if progress:
                progress("features", min(start + batch, len(missing)), len(missing))
        return len(missing) - len(failed), failed

    def load(self, requests: list[FeatureRequest], *, compute: bool = True, should_stop: Callable[[], bool] | None = None
             ) -> tuple[np.ndarray, list[FeatureRequest], dict[str, str]]:
        """(features, the requests they belong to, {sha256: reason} for unreadable images), computing
        what is missing unless compute is False (then it is left out); each cached entry is read once.
        Meant for batches: the features are in memory."""
        found = [self.get(r.sha256, r.variant) for r in requests]
        failed: dict[str, str] = {}
        if compute:
            _, failed = self.ensure([r for r, f in zip(requests, found) if f is None], should_stop=should_stop)
        kept, features = [], []
        for request, cached in zip(requests, found):
            if cached is None and compute and request.sha256 not in failed:
                cached = self.get(request.sha256, request.variant)
            if cached is not None:
                kept.append(request)
                features.append(cached)
        stacked = np.stack(features) if features else np.zeros((0, *self.backbone.feature_shape), np.float32)
        return stacked, kept, failed

    def stack(self, keys: list[tuple[str, str]], out: Path) -> np.ndarray:
        """Gather cached features into a memory-mapped array on disk (never all in memory at once)."""
        array = np.lib.format.open_memmap(out, mode="w+", dtype=np.float32, shape=(len(keys), *self.backbone.feature_shape))
        for i, (sha256, variant) in enumerate(keys):
            features = self.get(sha256, variant)
            if features is None:
                raise RuntimeError(f"feature cache entry {sha256}-{variant} vanished during training")
            array[i] = features
        array.flush()
        return array
