"""One machine, 100,000 frames: every command and page against its target, in one run.

A generated workspace per size: the shared dataset's frames made distinct (a random crop, a
colour shift and noise each, saved as small JPEGs), 10% of them labeled with their source
frame's class (2% of those flipped, for the label check to find), half of them from "monitored
videos" of 30 frames. Features are vgg16-shaped (7x7x512) and generated, written straight into
the feature cache (extraction speed is bench/backbone_throughput.py's business); the backbone is
VGG16 with random weights, so every command runs as a user would run it. Workspaces are kept in
--cache (default ~/.cache/lookout-bench), outside the repository, and reused.

Every command runs in its own process; peak memory is that process's.
Run: python -m bench.scale [--frames 10000 100000] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from bench.common import REPO, random_vgg16_weights, require_dataset

LABELED_SHARE, FLIPPED_SHARE, VIDEO_FRAMES = 0.10, 0.02, 30
TARGETS = {"queue": 30.0, "queue_mb": 4096, "check": 2.0, "page": 2.0, "label": 0.05}


def build(root: Path, n: int) -> None:
    """The generated workspace at root (skipped when a finished one is there)."""
    if (root / "built").exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    from data.config import ProjectConfig
    from data.frames import FrameStore, NewFrame
    from data.images import encode_jpeg, perceptual_hash, sha256_bytes
    from data.labels import set_labels
    from data.mapping_csv import read_mapping_csv
    from data.schema import transaction
    from data.workspace import Workspace
    from trainer.backbones import VGG16Backbone
    from trainer.features import ORIGINAL, FeatureCache

    dataset = require_dataset() / "Data_deeplearning"
    rows = {row.image_id: row.label for row in read_mapping_csv(dataset / "mapping_trump.csv", class_names=("no target", "Trump"))
            if (dataset / row.image_id).exists()}  # the shared CSV names some missing images
    sources = [(cv2.cvtColor(cv2.imread(str(dataset / name)), cv2.COLOR_BGR2RGB), label) for name, label in rows.items()]
    weights = random_vgg16_weights()
    backbone = VGG16Backbone(weights)
    ws = Workspace.open(root, config=ProjectConfig(backbone="vgg16", vgg16_weights=str(weights)))
    cache = FeatureCache(ws.features_dir, backbone)
    rng = np.random.default_rng(n)
    base = np.maximum(rng.normal(0, 1, (len(sources), 7, 7, 512)), 0).astype("float32")  # ReLU-like maps
    base[[i for i, (_, label) in enumerate(sources) if label == 1], :, :, :64] += 0.7  # what a head can learn
    labels: dict[int, int] = {}
    started = time.perf_counter()
    with transaction(ws.db), FrameStore(ws.db, ws.frames_dir) as store:
        for i in range(n):
            source = int(rng.integers(len(sources)))
            image, label = sources[source]
            variant = _variant(image, rng)
            jpeg = encode_jpeg(variant, quality=80)
            in_video = i < n // 2
            frame_id, _ = store.add(NewFrame(
                jpeg, sha256_bytes(jpeg), f"g{i:06d}.jpg", 144, 256, "monitor" if in_video else "import",
                video_id=_video(ws, i // VIDEO_FRAMES) if in_video else None,
                timestamp_s=float(i % VIDEO_FRAMES) if in_video else None,
                phash=f"{perceptual_hash(variant):016x}",
            ))
            features = base[source] * rng.uniform(0.8, 1.2) + rng.normal(0, 0.3, base[source].shape).astype("float32")
            cache.put(sha256_bytes(jpeg), ORIGINAL, np.maximum(features, 0))
            if rng.random() < LABELED_SHARE:
                labels[frame_id] = 1 - label if rng.random() < FLIPPED_SHARE else label
            if i % 5000 == 0:
                print(f"  {n:,} frames: {i:,} written ({time.perf_counter() - started:.0f} s)", flush=True)
    set_labels(ws, labels, source="import", who="bench")
    print(f"  {n:,} frames written in {time.perf_counter() - started:.0f} s; {len(labels):,} labeled", flush=True)
    (root / "built").write_text("ok")


def _variant(image: np.ndarray, rng) -> np.ndarray:
    """A distinct small frame: random crop, colour shift, noise, 144x256."""
    h, w = image.shape[:2]
    ch, cw = int(h * rng.uniform(0.6, 0.9)), int(w * rng.uniform(0.6, 0.9))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = cv2.resize(image[y : y + ch, x : x + cw], (144, 256), interpolation=cv2.INTER_AREA).astype("float32")
    crop = crop * rng.uniform(0.7, 1.3, 3) + rng.normal(0, 8, crop.shape)
    return np.clip(crop, 0, 255).astype("uint8")


def _video(ws, number: int) -> int:
    from data.schema import now

    ws.db.execute("INSERT OR IGNORE INTO videos (sha256, path, url, source, added_at) VALUES (?, ?, ?, 'bench', ?)",
                  (f"{number:064x}", f"videos/v{number}.mp4", f"https://www.tiktok.com/@bench/video/{number}", now()))
    return ws.db.execute("SELECT id FROM videos WHERE sha256 = ?", (f"{number:064x}",)).fetchone()[0]


def run(args: list[str], ws: Path, *, label: str, kind: str) -> dict:
    """A command in its own process: seconds and peak memory (MB)."""
    env = {**os.environ, "LOOKOUT_WORKSPACE": str(ws), "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak_kb = 0
    while process.poll() is None:  # the child's own high-water mark (wait4's includes this process's)
        peak_kb = max(peak_kb, _high_water_kb(process.pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    out, err = process.communicate()
    if process.returncode != 0:
        sys.exit(f"{label} failed:\n{err.decode()[-3000:]}")
    return {"what": label, "kind": kind, "seconds": seconds, "peak_mb": peak_kb / 1024, "out": out.decode()}


def _high_water_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def measure(ws: Path) -> list[dict]:
    rows = []
    if not (ws / "models" / "ACTIVE").exists():
        rows.append(run(["-m", "trainer", "train", "--augment", "0", "--activate"], ws,
                        label="train (10 epochs, then frames scored)", kind="train"))
    queue = ["-m", "labeler", "queue", "--limit", "20"]
    rows.append(run(queue, ws, label="labeler queue, first after a retrain", kind="queue"))
    rows.append(run(queue, ws, label="labeler queue, again (scores kept)", kind="queue"))
    rows.append(run(["-m", "bench.scale", "--label-100", str(ws)], ws, label="label action (100, median)", kind="label"))
    rows.append(run(queue, ws, label="labeler queue, after 100 new labels", kind="queue"))
    rows.append(run(["-m", "bench.scale", "--warm-queue", str(ws)], ws, label="review queue kept (page rerun)", kind="warm"))
    rows.append(run(["-m", "data", "check"], ws, label="data check", kind="check"))
    for page in ("label", "review", "train", "monitor", "dataset", "frame_map"):
        rows.append(run(["-m", "bench.scale", "--page", page, str(ws)], ws, label=f"{page} page", kind="page"))
    shutil.rmtree(ws / "index" / "scores")  # as for a version trained before training scored frames
    rows.append(run(queue, ws, label="labeler queue, no stored scores", kind="queue"))
    return rows


def label_100(ws_path: Path) -> None:
    """Prints the median seconds of one label action (each a transaction and a CSV rewrite)."""
    from data.labels import set_labels
    from data.workspace import Workspace

    ws = Workspace.open(ws_path)
    ids = [r[0] for r in ws.db.execute("SELECT id FROM frames WHERE label IS NULL ORDER BY id DESC LIMIT 100")]
    times = []
    for frame_id in ids:
        start = time.perf_counter()
        set_labels(ws, {frame_id: 0}, who="bench")
        times.append(time.perf_counter() - start)
    print(json.dumps({"label_s": statistics.median(times)}))


def warm_queue(ws_path: Path) -> None:
    """The review page's second look at the queue: the stored one, while the model is the same."""
    from data.workspace import Workspace
    from labeler.__main__ import active_model_and_backbone
    from labeler.queue import current_queue

    ws = Workspace.open(ws_path)
    model, backbone = active_model_and_backbone(ws)
    current_queue(ws, model=model, backbone=backbone, limit=20)
    start = time.perf_counter()
    current_queue(ws, model=model, backbone=backbone, limit=20)
    print(json.dumps({"warm_s": time.perf_counter() - start}))


def page_load(page: str, ws_path: Path) -> None:
    """A page's load in a server just started (libraries and models loaded), in a new session of a
    running server (what a colleague opening the app waits for), and its rerun (every click)."""
    from streamlit.testing.v1 import AppTest

    os.environ["LOOKOUT_WORKSPACE"] = str(ws_path)
    times = []
    for session in range(2):
        app = AppTest.from_string(f"from ui import {page}\n{page}.page()", default_timeout=600)
        app.session_state["labeler"] = f"bench{session}"
        start = time.perf_counter()
        app.run()
        times.append(time.perf_counter() - start)
        if app.exception:
            sys.exit(f"{page} page failed: {app.exception[0].value}")
    start = time.perf_counter()
    app.run()
    print(json.dumps({"first_s": times[0], "session_s": times[1], "rerun_s": time.perf_counter() - start}))


def report(n: int, rows: list[dict], feature_bytes: float) -> None:
    print(f"\n{n:,} frames ({int(n * LABELED_SHARE):,} labeled), features {feature_bytes / 1e3:.0f} KB a frame on disk")
    print(f"{'what':<40} {'seconds':>8} {'peak MB':>8}  against the target")
    for row in rows:
        extra = json.loads(row["out"].strip().splitlines()[-1]) if row["kind"] in ("label", "warm", "page") else {}
        seconds, kind = row["seconds"], row["kind"]
        if kind == "queue":
            target = f"{seconds / TARGETS['queue']:.2f}x of 30 s, {row['peak_mb'] / TARGETS['queue_mb']:.2f}x of 4 GB"
        elif kind == "check":
            target = f"{seconds / TARGETS['check']:.2f}x of 2 s"
        elif kind == "label":
            seconds = extra["label_s"]
            target = f"{seconds / TARGETS['label']:.2f}x of 50 ms ({seconds * 1000:.1f} ms)"
        elif kind == "warm":
            seconds = extra["warm_s"]
            target = f"{seconds / TARGETS['queue']:.4f}x of 30 s"
        elif kind == "page":
            seconds = extra["session_s"]
            target = (f"{seconds / TARGETS['page']:.2f}x of 2 s; rerun {extra['rerun_s']:.2f} s, "
                      f"first after a server start {extra['first_s']:.1f} s")
        else:
            target = "(no target; measured)"
        print(f"{row['what']:<40} {seconds:8.3f} {row['peak_mb']:8.0f}  {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "lookout-bench")
    parser.add_argument("--label-100", type=Path)
    parser.add_argument("--warm-queue", type=Path)
    parser.add_argument("--page", nargs=2)
    args = parser.parse_args()
    if args.label_100:
        return label_100(args.label_100)
    if args.warm_queue:
        return warm_queue(args.warm_queue)
    if args.page:
        return page_load(args.page[0], Path(args.page[1]))
    for n in args.frames:
        root = args.cache / f"scale-{n}"
        build(root, n)
        pristine = root.with_name(root.name + "-run")  # each run starts from the same labels
        shutil.rmtree(pristine, ignore_errors=True)
        shutil.copytree(root, pristine, ignore=shutil.ignore_patterns("features"), symlinks=True)
        (pristine / "features").symlink_to(root / "features")
        rows = measure(pristine)
        sizes = [p.stat().st_size for p in list((root / "features").rglob("*.npy"))[:200]]
        report(n, rows, statistics.mean(sizes))


if __name__ == "__main__":
    main()
