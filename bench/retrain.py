"""Retrain time on the shared dataset: cold feature cache, warm cache, and recomputing every run.

The tutorial recomputed VGG16 features on every run; Lookout caches them per image,
so a retrain after a few new labels only trains the head. VGG16 runs with random
weights (the speed is the same; ImageNet's cannot be downloaded here).
Run: python -m bench.retrain
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import random_vgg16_weights, require_dataset
from data.config import ProjectConfig
from data.importer import import_folder
from data.workspace import Workspace
from trainer.train import train_model


def timed_train(ws: Workspace) -> float:
    start = time.perf_counter()
    train_model(ws, backbone="vgg16")
    return time.perf_counter() - start


def main() -> None:
    dataset = require_dataset()
    os.environ["LOOKOUT_VGG16_WEIGHTS"] = str(random_vgg16_weights())
    os.environ.pop("LOOKOUT_FEATURE_CACHE", None)
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "ws", config=ProjectConfig(classes=("no target", "Trump")))
        import_folder(ws, dataset / "Data_deeplearning")
        cold = timed_train(ws)
        warm = timed_train(ws)
        shutil.rmtree(ws.features_dir)  # the tutorial's way: features recomputed on every run
        ws.features_dir.mkdir()
        recompute = timed_train(ws)
    print(f"cold cache:          {cold:7.1f} s")
    print(f"warm cache:          {warm:7.1f} s   (target <= 15 s)")
    print(f"recompute every run: {recompute:7.1f} s")
    print(f"warm vs recompute: {recompute / warm:.1f}x faster; warm vs cold: {cold / warm:.1f}x faster")


if __name__ == "__main__":
    main()
