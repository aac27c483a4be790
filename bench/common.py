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


def untrained_model(backbone, version: str, hidden: tuple[int, ...], dropout: float = 0.5):
    """A two-class head with fresh weights for `backbone`, as a Model: timing needs no trained head."""
    from data.model_card import ModelCard
    from trainer.head import Head, build_model
    from trainer.registry import Model

    card = ModelCard(version=version, backbone=backbone.name, backbone_identity=backbone.identity,
                     input_shape=tuple(backbone.feature_shape), classes=("no target", "target"))
    return Model(Head.from_keras(build_model(backbone.feature_shape, 2, hidden=hidden, dropout=dropout)), card,
                 Path("bench"))
