"""Monitor scoring speed and memory, against the tutorial's run_model.py steps, in one run.

1. Seconds per clip on Biden.mp4: Lookout's scoring (sampled by presentation time,
   near-identical frames scored once, in batches) against the tutorial's steps
   (decode every frame with OpenCV, write each kept frame as a JPEG, read it back,
   resize to 224, VGG16 predict, head predict). Same VGG16 weights (random: the
   speed is the same) and the same head; model loading timed separately.
2. Videos per minute over 20 clips.
3. Peak memory scoring a 10-minute clip against a 1-minute one (separate processes).
4. The face backbone on a 60-second clip with no face in it (target <= 15 s).

Every clip is scored with an empty feature cache, as a new video would be.

Run: python -m bench.monitor_score
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from bench.common import require_dataset, untrained_model
from data.config import ProjectConfig
from data.workspace import Workspace

CLIPS = 20


def load_models():
    from trainer.backbones import RANDOM, VGG16Backbone

    backbone = VGG16Backbone(RANDOM)
    return backbone, untrained_model(backbone, "bench", hidden=(1024, 512, 512, 256))


def tutorial_score(video: Path, backbone, model, folder: Path) -> list[int]:
    """run_model.py's steps: every frame decoded, one per second written and read back as JPEG."""
    from keras.applications.vgg16 import preprocess_input

    cap = cv2.VideoCapture(str(video))
    rate = math.floor(cap.get(cv2.CAP_PROP_FPS))
    names = []
    while True:
        frame_id = cap.get(cv2.CAP_PROP_POS_FRAMES)
        ok, frame = cap.read()
        if not ok:
            break
        if frame_id % rate == 0:
            name = folder / f"frame{len(names)}.jpg"
            cv2.imwrite(str(name), frame)
            names.append(name)
    cap.release()
    images = [cv2.resize(cv2.cvtColor(cv2.imread(str(n)), cv2.COLOR_BGR2RGB), (224, 224)) for n in names]
    features = backbone.model.predict(preprocess_input(np.array(images, dtype="float32")), verbose=0)
    probs = model.head.model_.predict(features, verbose=0)
    return list(probs.argmax(axis=1))


def peak_memory_mb(video: Path) -> float:
    """Score `video` in a fresh process and return that process's peak resident memory."""
    code = (
        "import sys, resource, tempfile; from pathlib import Path;"
        "from bench.monitor_score import load_models, workspace; from monitor.scoring import score_video;"
        "b, m = load_models(); t = tempfile.mkdtemp(); ws = workspace(Path(t));"
        "score_video(ws, m, b, Path(sys.argv[1]), keep_frames=False);"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(video)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def workspace(root: Path) -> Workspace:
    return Workspace.open(root / "ws", config=ProjectConfig(classes=("no target", "target")))


def new_video(ws: Workspace) -> Workspace:
    """Forget cached features: the clips here are scored again and again, new videos would not be."""
    shutil.rmtree(ws.features_dir, ignore_errors=True)
    ws.features_dir.mkdir()
    return ws


def faceless_clip_seconds(tmp: Path) -> float:
    """Seconds to score a 60-second, 576x1024 clip of changing patterns (no face) with the face backbone."""
    from monitor.scoring import score_video
    from tests.media import make_video
    from trainer.backbones import FaceBackbone

    clip = make_video(tmp / "faceless.mp4", list(range(60)), fps=5, size=(1024, 576))
    backbone = FaceBackbone()
    model = untrained_model(backbone, "bench-face", hidden=(128,))
    ws = workspace(tmp / "face")
    start = time.perf_counter()
    backbone.embed([np.zeros((64, 64, 3), np.uint8)] * 2 * backbone.pool.workers)  # worker processes start once
    print(f"face backbone: {backbone.pool.workers} worker processes ready in {time.perf_counter() - start:.1f} s "
          "(once per monitor run)")
    start = time.perf_counter()
    score_video(ws, model, backbone, clip, keep_frames=False)
    return time.perf_counter() - start


def long_clip(source: Path, minutes: int, out: Path) -> Path:
    import imageio_ffmpeg

    repeats = math.ceil(minutes * 60 / 58)
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{source.resolve()}'\n" for _ in range(repeats)))
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "concat", "-safe", "0",
                    "-i", str(listing), "-t", str(minutes * 60), "-c", "copy", str(out)], check=True)
    return out


def main() -> None:
    from monitor.scoring import score_video

    dataset = require_dataset()
    biden, trump = dataset / "Biden.mp4", dataset / "Trump.mp4"
    start = time.perf_counter()
    backbone, model = load_models()
    print(f"model loading (VGG16 + head): {time.perf_counter() - start:.1f} s, reported apart from scoring")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ws = workspace(tmp)
        score_video(new_video(ws), model, backbone, trump, keep_frames=False)  # warm up both paths
        tutorial_score(trump, backbone, model, tmp)
        start = time.perf_counter()
        ours = score_video(new_video(ws), model, backbone, biden, keep_frames=False)
        lookout_s = time.perf_counter() - start
        start = time.perf_counter()
        theirs = tutorial_score(biden, backbone, model, tmp)
        tutorial_s = time.perf_counter() - start
        print(f"Biden.mp4, Lookout: {lookout_s:.2f} s ({ours.sampled_frames} frames sampled, "
              f"{len(ours.times)} distinct in a row, "
              f"{ours.forward_passes} forward passes)")
        print(f"Biden.mp4, tutorial steps: {tutorial_s:.2f} s ({len(theirs)} frames)")
        print(f"speed-up: {tutorial_s / lookout_s:.1f}x (target >= 4x)")

        start = time.perf_counter()
        for i in range(CLIPS):
            score_video(new_video(ws), model, backbone, biden if i % 2 else trump, keep_frames=False)
        minutes = (time.perf_counter() - start) / 60
        print(f"throughput: {CLIPS / minutes:.1f} videos per minute over {CLIPS} clips (Biden.mp4 and Trump.mp4)")

        one, ten = long_clip(biden, 1, tmp / "one.mp4"), long_clip(biden, 10, tmp / "ten.mp4")
        small, large = peak_memory_mb(one), peak_memory_mb(ten)
        print(f"peak memory: 1-minute clip {small:.0f} MB, 10-minute clip {large:.0f} MB, ratio {large / small:.2f}")
        print(f"face backbone, 60-second clip with no face: {faceless_clip_seconds(tmp):.1f} s (target <= 15 s)")


if __name__ == "__main__":
    main()
