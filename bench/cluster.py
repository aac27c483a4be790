"""A backlog of videos scored on this computer against a 2-node Ray cluster on this computer, in one run.

The backlog: VIDEOS clips of SECONDS distinct shared frames each (288x512, as TikTok's 9:16
at half size), scored with VGG16 (random weights: the speed is the same) and the tutorial's
head, each run in a fresh workspace and feature cache, as a new backlog would be. Runs:

1. here: one process, TensorFlow on every core (how Lookout runs without a cluster);
2. here again, features cached: what the driver alone costs per video (decode, look-up,
   head, SQLite), which no cluster can spread;
3. here, TensorFlow on one thread: one core's compute per video;
4. a Ray cluster of two nodes (one CPU each), started here on 127.0.0.1.

Ray's overhead per video = (4) - (3) / 2: what the cluster costs beyond a perfect split of one
core's work between two workers. Videos are scored as many at once as the cluster has workers.

Run: python -m bench.cluster [--videos 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import random_vgg16_weights, require_dataset, untrained_model

SECONDS = 2
SIZE = (512, 288)  # height, width


def make_backlog(folder: Path, videos: int) -> list[Path]:
    import imageio_ffmpeg

    from data.images import load_rgb

    frames = sorted((require_dataset() / "Data_deeplearning").glob("*.jpg"))
    import cv2

    clips = []
    for v in range(videos):
        shown = [cv2.resize(load_rgb(frames[(v * SECONDS + s) % len(frames)]), SIZE[::-1]) for s in range(SECONDS)]
        raw = np.concatenate([np.repeat(im[None], 10, axis=0) for im in shown])  # 10 fps
        path = folder / f"clip{v:03d}.mp4"
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo",
                        "-pix_fmt", "rgb24", "-s", f"{SIZE[1]}x{SIZE[0]}", "-r", "10", "-i", "-", "-c:v", "libx264",
                        "-pix_fmt", "yuv420p", str(path)], input=raw.tobytes(), check=True)
        clips.append(path)
    return clips


def score_backlog(workspace: Path, clips: list[Path], address: str, weights: Path, repeat: bool) -> dict:
    """One run, in this process: seconds to start the backbone, then to score every clip (twice with repeat)."""
    from data.config import ProjectConfig
    from data.workspace import Workspace
    from monitor.scoring import in_order, score_video
    from trainer.predict import project_backbone

    if address:
        os.environ["LOOKOUT_RAY_ADDRESS"] = address
    ws = Workspace.open(workspace, config=ProjectConfig(name="Backlog", classes=("no target", "target"), backbone="vgg16"))
    start = time.perf_counter()
    backbone = project_backbone(ws, vgg16_weights=weights)
    started = time.perf_counter() - start
    model = untrained_model(backbone, "bench", hidden=(1024, 512, 512, 256))
    timings = []
    for _ in range(2 if repeat else 1):
        start = time.perf_counter()
        for _ in in_order(backbone, lambda clip: score_video(ws, model, backbone, clip, keep_frames=False), clips):
            pass
        timings.append(time.perf_counter() - start)
    return {"start_s": started, "score_s": timings}


def run(name: str, clips: list[Path], root: Path, *, address: str = "", threads: int = 0, repeat: bool = False) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOKOUT_")}
    if threads:
        env.update(TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS="1", OMP_NUM_THREADS=str(threads))
    args = [sys.executable, "-m", "bench.cluster", "--run", str(root / name), "--address", address,
            *(["--repeat"] if repeat else []), *map(str, clips)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)  # one run, in a process of its own
    parser.add_argument("--address", default="", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("clips", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    weights = random_vgg16_weights()
    if args.run:
        print(json.dumps(score_backlog(args.run, args.clips, args.address, weights, args.repeat)))
        return

    from tests.servers import RayCluster

    with tempfile.TemporaryDirectory(prefix="lookout-cluster-") as tmp:
        root = Path(tmp)
        clips = make_backlog(root, args.videos)
        here = run("here", clips, root, repeat=True)
        one_core = run("one-core", clips, root, threads=1)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("LOOKOUT_")}, "LOOKOUT_VGG16_WEIGHTS": str(weights)}
        (root / "ray").mkdir()
        with RayCluster(root / "ray", env) as cluster:
            remote = run("cluster", clips, root, address=cluster.address)
    n = args.videos
    local, driver = here["score_s"][0] / n, here["score_s"][1] / n
    core, spread = one_core["score_s"][0] / n, remote["score_s"][0] / n
    print(f"{n} videos of {SECONDS} distinct frames, VGG16 (random weights), 2-core machine")
    print("| run | start (s) | s per video | backlog (s) |")
    print("|---|---|---|---|")
    print(f"| here, TensorFlow on 2 cores | {here['start_s']:.1f} | {local:.3f} | {here['score_s'][0]:.1f} |")
    print(f"| here, features cached (driver only) | | {driver:.3f} | {here['score_s'][1]:.1f} |")
    print(f"| here, TensorFlow on 1 core | {one_core['start_s']:.1f} | {core:.3f} | {one_core['score_s'][0]:.1f} |")
    print(f"| Ray, 2 nodes x 1 CPU | {remote['start_s']:.1f} | {spread:.3f} | {remote['score_s'][0]:.1f} |")
    print(f"ratio here / Ray: {local / spread:.2f}x")
    print(f"Ray overhead per video: {spread - core / 2:.3f} s (Ray per video - one core's per video / 2)")
    worker_s = 2 * spread  # both workers' time per video, overhead included
    print(f"on paper, N machines of C cores: per video ~ max({driver:.3f} s of this process (decode, head, SQLite), "
          f"{worker_s:.3f} worker-seconds / (N x C)); this process limits it from N x C = {worker_s / driver:.0f}")


if __name__ == "__main__":
    main()
