"""Face features: today's faces (MTCNN proposals checked by HOG) described by FaceRes, against the
same faces described by dlib's descriptor (before FaceRes), each on all cores and in one process,
on the same frames in one run.

Prints, per backbone: frames per second on frames with and without the target, the share of Trump
frames where a face is found, and faces found per 100 no-target frames (some are real faces of other
people; the rest are false faces); then the ratios, FaceRes / dlib.
Run: python -m bench.face_features [FRAMES_PER_CLASS]   (default 40; 225 covers every Trump frame)
"""

from __future__ import annotations

import csv
import sys
import time

import numpy as np

from bench.common import require_dataset
from data.images import load_rgb
from trainer.backbones import FaceBackbone


def timed(backbone: FaceBackbone, frames: list[np.ndarray]) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    features = np.concatenate([backbone.embed(frames[i : i + backbone.batch_size])
                               for i in range(0, len(frames), backbone.batch_size)])
    return time.perf_counter() - start, features


def main() -> None:
    per_class = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    folder = require_dataset() / "Data_deeplearning"
    with open(folder / "mapping_trump.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if (folder / r["Image_ID"]).is_file()]
    trump = [load_rgb(folder / r["Image_ID"]) for r in rows if r["Class"] == "1"][:per_class]
    other = [load_rgb(folder / r["Image_ID"]) for r in rows if r["Class"] == "0"][:per_class]
    backbones = {}
    for descriptor in ("faceres", "dlib"):
        start = time.perf_counter()
        backbones[f"{descriptor}, all cores"] = every_core = FaceBackbone(descriptor=descriptor)
        every_core.embed(trump[: 2 * every_core.pool.workers])  # starts the workers; TensorFlow builds its graphs once
        backbones[f"{descriptor}, 1 process"] = single = FaceBackbone(workers=1, descriptor=descriptor)
        single.embed(trump[:2])
        print(f"{descriptor}: ready in {time.perf_counter() - start:.1f} s (once per run)")
    results = {}
    for name, backbone in backbones.items():
        t_trump, f_trump = timed(backbone, trump)
        t_other, f_other = timed(backbone, other)
        results[name] = len(trump + other) / (t_trump + t_other)
        print(f"{name:<20} {len(trump) / t_trump:5.2f} frames/s on Trump frames, {len(other) / t_other:5.2f} on "
              f"no-target frames; a face in {(f_trump[:, :, -1].sum(axis=1) > 0).mean():.0%} of {len(trump)} Trump "
              f"frames; {100 * f_other[:, :, -1].sum() / len(other):.0f} faces per 100 no-target frames")
    for where in ("all cores", "1 process"):
        faceres, dlib = results[f"faceres, {where}"], results[f"dlib, {where}"]
        print(f"frames per second, {where}, FaceRes / dlib: {faceres / dlib:.2f}x ({faceres:.2f} vs {dlib:.2f}; target >= 1)")
    for backbone in backbones.values():
        backbone.pool.close()


if __name__ == "__main__":
    main()
