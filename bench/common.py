"""What the benchmarks share: the shared dataset's location and a VGG16 weights file of random values."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
DATASET = Path(os.environ.get("LOOKOUT_SHARED_DATASET", REPO.parent / "shared" / "datasets" / "trump_tiktok"))


def require_dataset() -> Path:
    if not (DATASET / "Data_deeplearning").is_dir():
        sys.exit(f"the shared dataset is not at {DATASET}; set LOOKOUT_SHARED_DATASET")
    return DATASET


def random_vgg16_weights() -> Path:
    """Timing does not depend on the weights' values, and ImageNet's cannot be downloaded here."""
    from trainer.backbones import RANDOM, VGG16Backbone

    path = OUT / "random-vgg16.weights.h5"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        VGG16Backbone(RANDOM).model.save_weights(path)
    return path
