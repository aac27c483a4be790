"""Scoring images with a model: its backbone's features, then its head's probabilities."""

from __future__ import annotations

import numpy as np

from data.config import ray_address
from data.workspace import Workspace
from trainer.backbones import Backbone, default_backbone, descriptor_in, load_backbone
from trainer.registry import Model, active_version, read_card


def chosen_backbone(ws: Workspace) -> str:
    """The project's backbone; a new project's is chosen here, where first needed, and kept in
    project.toml: vgg16 when its weights are here or can be downloaded, else face (the Dataset page says why)."""
    from dataclasses import replace

    if not ws.config.backbone:
        with ws.write_lock():
            if not ws.reload_config().backbone:
                ws.save_config(replace(ws.config, backbone=default_backbone(ws.config.vgg16_weights)[0]))
    return ws.config.backbone


def project_backbone(ws: Workspace, name: str | None = None, *, identity: str | None = None,
                     vgg16_weights=None) -> Backbone:
    """A backbone (default: the project's) with the project's weights, on the project's Ray
    cluster when one is named (data.config.ray_address), else on this computer.

    identity: the identity a model's card names, so that a version keeps the face descriptor it was
    trained with (None: the project's face_descriptor, for what is trained next).
    vgg16_weights: a weights file, RANDOM (tests), or None for the configured ImageNet weights.
    """
    name = name or chosen_backbone(ws)
    options = {"vgg16_weights": vgg16_weights, "configured": ws.config.vgg16_weights,
               "descriptor": descriptor_in(identity) if identity else ws.config.face_descriptor}
    address = ray_address(ws.config)
    if address:
        from trainer.cluster import cluster_backbone

        return cluster_backbone(address, name, **options)
    return load_backbone(name, **options)


def active_backbone(ws: Workspace) -> Backbone | None:
    """The active model's backbone (the descriptor it was trained with too), or None before any model is active."""
    version = active_version(ws)
    if version is None or not (ws.models_dir / version / "model.json").is_file():
        return None
    card = read_card(ws, version)
    return project_backbone(ws, card.backbone, identity=card.backbone_identity)


def backbone_for(ws: Workspace, model: Model, *, vgg16_weights=None) -> Backbone:
    """The backbone the model was trained on (see project_backbone), checked against the model's input."""
    backbone = project_backbone(ws, model.card.backbone, identity=model.card.backbone_identity, vgg16_weights=vgg16_weights)
    model.check_backbone(backbone)
    return backbone


def predict_images(model: Model, backbone: Backbone, images: list[np.ndarray]) -> np.ndarray:
    """Class probabilities, one row per RGB image, computed in the backbone's batches."""
    model.check_backbone(backbone)
    if not images:
        return np.zeros((0, len(model.classes)), "float32")
    return model.head.predict_proba(backbone.embed(images))
