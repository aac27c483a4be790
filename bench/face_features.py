"""Face features on all cores against one process, on the same frames in one run.

dlib holds Python's lock, so only processes can use a second core; the features
must come out identical. Run: python -m bench.face_features [FRAMES]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from bench.common import require_dataset
from data.images import load_rgb
from trainer.backbones import FaceBackbone


def seconds_to_embed(backbone: FaceBackbone, frames: list) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    features = backbone.embed(frames)
    return time.perf_counter() - start, features


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    paths = sorted((require_dataset() / "Data_deeplearning").glob("frame*.jpg"))[:count]
    frames = [load_rgb(path) for path in paths]
    parallel = FaceBackbone()
    parallel.embed(frames[:2])  # start the workers: a cost paid once per training or monitor cycle
    one_time, one = seconds_to_embed(FaceBackbone(workers=1), frames)
    all_time, every = seconds_to_embed(parallel, frames)
    print(f"{len(frames)} frames: one process {one_time:.1f} s ({len(frames) / one_time:.2f}/s), "
          f"{parallel.pool.workers} workers {all_time:.1f} s ({len(frames) / all_time:.2f}/s)")
    print(f"time ratio all cores / one process: {all_time / one_time:.2f}; identical features: {np.array_equal(one, every)}")


if __name__ == "__main__":
    main()
