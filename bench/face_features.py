"""Face features: MTCNN proposals checked by HOG (today's detector) on all cores and in one
process, against the same before it looked for small and dark faces, HOG on the whole frame
with MTCNN where it finds none (an earlier release) and HOG with dlib's CNN as the fallback
(the first one), one process each, on the same frames in one run, all followed by dlib's
face descriptor.

Prints, per detector: frames per second on frames with and without the target, the share
of Trump frames where a face is found, and faces found per 100 no-target frames (some are
real faces of other people; the rest are false faces).
Run: python -m bench.face_features [FRAMES_PER_CLASS]   (default 40; 225 covers every Trump frame)
"""

from __future__ import annotations

import csv
import sys
import time

import numpy as np

from bench.common import require_dataset
from data.images import load_rgb
from trainer.backbones import FaceBackbone, face_models_dir


class HogThenCnn:
    """The first detector, the reference of the target: HOG upsampled once, dlib's CNN where it finds none."""

    def __init__(self, backbone: FaceBackbone):
        import dlib

        self.backbone = backbone
        self.hog = dlib.get_frontal_face_detector()
        self.cnn = dlib.cnn_face_detection_model_v1(str(face_models_dir() / "mmod_human_face_detector.dat"))

    def detect(self, images: list[np.ndarray]) -> list[list]:
        found = [list(self.hog(rgb, 1)) or [d.rect for d in self.cnn(rgb, 0)] for rgb in images]
        return largest(found, self.backbone.max_faces)


def largest(found: list[list], max_faces: int) -> list[list]:
    """Per frame, its largest faces: the features hold max_faces (the shared data has frames with more)."""
    return [sorted(boxes, key=lambda r: r.area(), reverse=True)[:max_faces] for boxes in found]


class HogThenMtcnn:
    """The last release's detector: HOG upsampled once on the whole frame, MTCNN (as packaged, not
    traced) where it finds none, its sure faces only."""

    def __init__(self, backbone: FaceBackbone):
        from mtcnn import MTCNN

        self.backbone = backbone
        self.mtcnn = MTCNN(device="CPU:0")

    def detect(self, images: list[np.ndarray]) -> list[list]:
        b = self.backbone
        found = []
        for rgb in images:
            faces = list(b.hog(rgb, 1))
            found.append(faces or [b.box(f["box"]) for f in self.mtcnn.detect_faces(rgb) if f["confidence"] >= b.MIN_CONFIDENCE])
        return largest(found, b.max_faces)


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
    start = time.perf_counter()
    new = FaceBackbone()
    new.embed(trump[: 2 * new.pool.workers])  # starts the workers; TensorFlow builds its graphs once per process
    print(f"{new.pool.workers} worker processes ready in {time.perf_counter() - start:.1f} s (once per run)")
    single = FaceBackbone(workers=1)
    single.embed(trump[:2])
    previous = FaceBackbone(workers=1)  # before small, dark and second-opinion faces (bench/robustness.py)
    previous.SMALL_FACE, previous.KEEP_SURE, previous.DARK = 0, False, 0
    last = FaceBackbone(workers=1)
    last.detect = HogThenMtcnn(last).detect  # same descriptor, earlier detectors
    old = FaceBackbone(workers=1)
    old.detect = HogThenCnn(old).detect
    results = {}
    for name, backbone in ((f"proposals + HOG, {new.pool.workers} procs", new), ("proposals + HOG, 1 proc", single),
                           ("same, before small/dark faces", previous),
                           ("HOG, then MTCNN, 1 proc", last), ("HOG, then CNN (first)", old)):
        t_trump, f_trump = timed(backbone, trump)
        t_other, f_other = timed(backbone, other)
        results[name] = (len(trump) / t_trump, len(other) / t_other, (f_trump[:, :, 128].sum(axis=1) > 0).mean(),
                         100 * f_other[:, :, 128].sum() / len(other), len(trump + other) / (t_trump + t_other))
        fps_t, fps_o, found, faces, overall = results[name]
        print(f"{name:<26} {fps_t:5.2f} frames/s on Trump frames, {fps_o:5.2f} on no-target frames; "
              f"a face in {found:.0%} of {len(trump)} Trump frames; {faces:.0f} faces per 100 no-target frames")
    new_fps, old_fps = results[f"proposals + HOG, {new.pool.workers} procs"][4], results["HOG, then CNN (first)"][4]
    single_fps, last_fps = results["proposals + HOG, 1 proc"][4], results["HOG, then MTCNN, 1 proc"][4]
    print(f"frames per second, today's pipeline / the first: {new_fps / old_fps:.1f}x "
          f"({new_fps:.2f} vs {old_fps:.2f} frames/s; target >= 10x and >= 4/s); "
          f"one process, today's / the last release's: {single_fps / last_fps:.2f}x; "
          f"today's / before small and dark faces: {single_fps / results['same, before small/dark faces'][4]:.2f}x")
    new.pool.close()


if __name__ == "__main__":
    main()
