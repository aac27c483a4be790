"""Scoring images with a model: its backbone's features, then its head's probabilities."""

from __future__ import annotations

import numpy as np

from data.workspace import Workspace
from trainer.backbones import Backbone, load_backbone
from trainer.registry import Model


def backbone_for(ws: Workspace, model: Model, *, vgg16_weights=None) -> Backbone:
    """The backbone the model was trained on, checked against the model's input.

    vgg16_weights: a weights file, RANDOM (tests), or None for the configured ImageNet weights.
    """
    backbone = load_backbone(model.card["backbone"], vgg16_weights=vgg16_weights, configured=ws.config.vgg16_weights)
    model.check_backbone(backbone)
    return backbone


def predict_images(model: Model, backbone: Backbone, images: list[np.ndarray]) -> np.ndarray:
    """Class probabilities, one row per RGB image, computed in the backbone's batches."""
    model.check_backbone(backbone)
    if not images:
        return np.zeros((0, len(model.classes)), "float32")
    return model.head.predict_proba(backbone.embed(images))
