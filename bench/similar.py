"""More like this at 100,000 frames: seconds per query against the 200 ms budget, in one run.

A generated workspace: 100,000 frame rows and an index of generated feature vectors (faces:
1-4 per frame around 3,000 "people"; vgg16: pooled 512-d maps), so that nothing here waits for a
backbone. Timed end to end through `similar_frames` (the frame lookup, the check for new frames,
the search and the rows of the answer):
- warm: the app keeps one index per workspace, so a query only searches;
- cold: the command line loads the index from disk first.

Run: python -m bench.similar [FRAMES]   (default 100000)
"""

from __future__ import annotations

import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from data.workspace import Workspace
from labeler.similar import SimilarityIndex, search_vectors, similar_frames
from trainer.features import ORIGINAL, FeatureCache

BUDGET_S = 0.2


class GeneratedBackbone:
    """Stands in for a backbone whose features are all cached already: it is never asked to compute."""

    def __init__(self, name: str, feature_shape: tuple[int, ...]):
        self.name, self.identity, self.feature_shape, self.batch_size = name, f"generated-{name}", feature_shape, 16

    def embed(self, images):
        raise AssertionError("every frame's features are generated in advance")


def generated_features(name: str, n: int, rng) -> np.ndarray:
    if name == "face":
        people = rng.normal(0, 0.3, (3000, 128)).astype("float32")
        features = np.zeros((n, 4, 129), "float32")
        faces = rng.integers(1, 5, n)
        for slot in range(4):
            rows = faces > slot
            features[rows, slot, :128] = people[rng.integers(0, 3000, rows.sum())] + rng.normal(0, 0.05, (rows.sum(), 128))
            features[rows, slot, 128] = 1
        return features
    return rng.random((n, 1, 1, 512), "float32")  # pooled maps: the index keeps 512 numbers a frame either way


def workspace_of(root: Path, n: int) -> Workspace:
    ws = Workspace.open(root)
    rows = [(hashlib.sha256(str(i).encode()).hexdigest(), f"g{i:06d}.jpg") for i in range(n)]
    with ws.db:
        ws.db.executemany("INSERT INTO frames (sha256, file_name, width, height, size_bytes, origin, added_at) "
                          "VALUES (?, ?, 576, 1024, 50000, 'import', '2026-11-30T00:00:00')", rows)
    return ws


def timed(query, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        query()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    query = f"g{12345 % n:06d}.jpg"  # any frame
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        ws = workspace_of(Path(tmp) / "ws", n)
        shas = [r[0] for r in ws.db.execute("SELECT sha256 FROM frames ORDER BY id")]
        print(f"{n:,} frames; budget {BUDGET_S * 1000:.0f} ms a query")
        for name, shape in (("face", (4, 129)), ("vgg16", (1, 1, 512))):
            backbone = GeneratedBackbone(name, shape)
            features = generated_features(name, n, rng)
            index = SimilarityIndex(ws, backbone)
            index._append(shas, *search_vectors(features))
            index.last_id = n
            index._save()
            cache = FeatureCache(ws.feature_cache_dir, backbone)
            cache.put(shas[12345 % n], ORIGINAL, features[12345 % n])
            warm = timed(lambda b=backbone, i=index: similar_frames(ws, b, query, index=i, compute=False), 20)
            cold = timed(lambda b=backbone: similar_frames(ws, b, query, compute=False), 5)
            size = index.path.stat().st_size
            print(f"{name:<6} {len(index.vectors):>7,} vectors, index {size / 1e6:5.0f} MB ({size / n:,.0f} bytes a frame): "
                  f"warm {warm * 1000:6.1f} ms ({warm / BUDGET_S:.2f}x budget), "
                  f"cold {cold * 1000:6.1f} ms ({cold / BUDGET_S:.2f}x budget)")


if __name__ == "__main__":
    main()
