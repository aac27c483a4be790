"""Backbone features computed once per (backbone identity, image content, variant), kept on disk.

Each entry is one .npy file of float16 with a CRC32 trailer, written atomically, under
features/<backbone identity>/: a vgg16 map is 50 KB (7x7x512), a face frame 1 KB (4x129),
half of float32 at no cost a head can tell (ReLU maps and unit-scale descriptors keep 3
significant digits). Entries written as float32 by earlier versions are read as they are.
A changed backbone or weights file has another identity, so stale features are never found;
a damaged file fails its checksum or shape check and is recomputed.
"""

from __future__ import annotations

import functools
import io
import struct
import time
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
REPORT_EVERY_S = 1.5  # at most, between two progress reports while features are computed
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
        row = np.empty(self.backbone.feature_shape, np.float32)
        return row if self._read_into(self.path(sha256, variant), row) else None

    def _read_into(self, path: Path, row: np.ndarray) -> bool:
        """Fill row with the entry at path as float32; False when it is missing or damaged."""
        try:
            blob = memoryview(path.read_bytes())  # slices of a memoryview are not copies
        except FileNotFoundError:
            return False
        body, trailer = blob[: -_TRAILER.size], blob[-_TRAILER.size :]
        if len(trailer) != _TRAILER.size:
            return False
        magic, crc = _TRAILER.unpack(trailer)
        if magic != _MAGIC or zlib.crc32(body) != crc:
            return False
        header = _float16_header(row.shape)
        if len(body) == len(header) + 2 * row.size and body[: len(header)] == header:
            # what put() writes, read without parsing the header: at 100,000 frames that halves the time
            row[...] = np.frombuffer(body, np.float16, offset=len(header)).reshape(row.shape)
            return True
        try:  # float32 entries of earlier versions
            features = np.load(io.BytesIO(body), allow_pickle=False)
        except (ValueError, OSError, EOFError):
            return False
        if features.shape != row.shape or features.dtype not in (np.float16, np.float32):
            return False
        row[...] = features
        return True

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
        """Compute, in batches of at most the backbone's size, whatever is missing.

        Returns how many were computed, and {sha256: reason} for images that could not be read.
        """
        missing = [r for r in requests if self.get(r.sha256, r.variant) is None]
        if not missing:
            return 0, {}  # the backbone is not even asked its batch size: a deferred one would load its weights
        failed: dict[str, str] = {}
        start, size = 0, 1  # the first frame alone: the bar moves at once, and its time sizes the next batches
        while start < len(missing):
            if should_stop and should_stop():
                raise Cancelled()
            chunk, began = missing[start : start + size], time.monotonic()
            loaded = []
            for request in chunk:
                try:
                    loaded.append((request, request.load()))
                except (LookoutError, OSError) as exc:
                    failed[request.sha256] = str(exc)
            if loaded:
                features = self.backbone.embed([image for _, image in loaded])
                for (request, _), row in zip(loaded, features):
                    self.put(request.sha256, request.variant, row)
            start += len(chunk)
            if progress:
                progress("features", start, len(missing))
            per_frame = (time.monotonic() - began) / len(chunk)
            # Batches as large as the backbone likes, but small enough that the bar moves every REPORT_EVERY_S:
            # 16 frames a batch froze it for 10-28 s on a busy machine.
            size = max(1, min(self.backbone.batch_size, int(REPORT_EVERY_S / max(per_frame, 1e-6))))
        return len(missing) - len(failed), failed

    def load(self, requests: list[FeatureRequest], *, compute: bool = True, should_stop: Callable[[], bool] | None = None,
             progress: Progress | None = None) -> tuple[np.ndarray, list[FeatureRequest], dict[str, str]]:
        """(features, the requests they belong to, {sha256: reason} for unreadable images), computing
        what is missing unless compute is False (then it is left out); each cached entry is read once.
        Meant for batches: the features are in memory. progress counts the features computed."""
        out = np.empty((len(requests), *self.backbone.feature_shape), np.float32)
        found = [self._read_into(self.path(r.sha256, r.variant), row) for r, row in zip(requests, out)]
        failed: dict[str, str] = {}
        if compute and not all(found):
            missing = [i for i, hit in enumerate(found) if not hit]
            _, failed = self.ensure([requests[i] for i in missing], should_stop=should_stop, progress=progress)
            for i in missing:
                if requests[i].sha256 not in failed:
                    found[i] = self._read_into(self.path(requests[i].sha256, requests[i].variant), out[i])
        kept = [request for request, hit in zip(requests, found) if hit]
        return (out if len(kept) == len(requests) else out[np.array(found, bool)]), kept, failed

    def stack(self, keys: list[tuple[str, str]], out: Path) -> np.ndarray:
        """Gather cached features into a memory-mapped array on disk (never all in memory at once)."""
        array = np.lib.format.open_memmap(out, mode="w+", dtype=np.float32, shape=(len(keys), *self.backbone.feature_shape))
        for i, (sha256, variant) in enumerate(keys):
            if not self._read_into(self.path(sha256, variant), array[i]):
                raise RuntimeError(f"feature cache entry {sha256}-{variant} vanished during training")
        array.flush()
        return array


@functools.cache
def _float16_header(shape: tuple[int, ...]) -> bytes:
    """The .npy header put() writes before a float16 array of this shape."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, np.lib.format.header_data_from_array_1_0(np.zeros(shape, np.float16)))
    return buf.getvalue()
