"""Which face a frame's score comes from.

A face model scores each face and calls the frame a target when one of its faces is (trainer/head.py,
face_pooling). Here each face the backbone keeps is scored alone and drawn on the frame, so a journalist
sees which face an alert was about, and that a frame was called for a look-alike in the corner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from data.errors import LookoutError
from trainer.backbones import Backbone, DeferredBackbone, is_face_features
from trainer.head import BARRED_FACES, class_layers
from trainer.registry import Model


@dataclass(frozen=True)
class ScoredFace:
    box: tuple[int, int, int, int]  # left, top, right, bottom in pixels
    probs: np.ndarray  # per class, as the model gives it for this face alone


def per_face_model(model: Model):
    """The model up to its per-face probabilities."""
    import keras

    keras_model = model.head.model_
    barred = [layer.output for layer in keras_model.layers if layer.name == BARRED_FACES]  # small faces held back
    outputs = barred or [layer.output for layer in class_layers(keras_model)]
    if not is_face_features(tuple(keras_model.input_shape[1:])) or len(outputs) != 1:
        raise LookoutError(f"Model {model.version} scores whole frames, not faces: only a face model can say "
                           "which face it saw. Train one with the face backbone (backbone = \"face\" in project.toml).")
    return keras.Model(keras_model.input, outputs[0])


def scored_faces(model: Model, backbone: Backbone, rgb: np.ndarray) -> list[ScoredFace]:
    """Each face the model's backbone keeps in the frame (largest first), with its own probabilities."""
    scorer = per_face_model(model)
    loaded = backbone.loaded if isinstance(backbone, DeferredBackbone) else backbone
    faces = loaded.described_faces(rgb)
    if not faces:
        return []
    probs = np.asarray(scorer(loaded.rows(faces)[None]))[0]
    return [ScoredFace((box.left(), box.top(), box.right(), box.bottom()), probs[i]) for i, (box, _) in enumerate(faces)]


def drawn(rgb: np.ndarray, faces: list[ScoredFace], classes: tuple[str, ...]) -> Image.Image:
    """The frame with each face boxed and named by its likeliest class; the face most like a target in red."""
    image = Image.fromarray(np.ascontiguousarray(rgb))
    draw = ImageDraw.Draw(image)
    width = max(2, image.width // 200)
    best = max(range(len(faces)), key=lambda i: faces[i].probs[1:].max(), default=None)
    for i, face in enumerate(faces):
        top_class = int(face.probs.argmax())
        color = (230, 30, 30) if i == best and top_class else (255, 255, 255)
        draw.rectangle(face.box, outline=color, width=width)
        label = f"{i + 1}: {classes[top_class]} {face.probs[top_class]:.2f}"
        left = max(0, min(face.box[0], image.width - int(draw.textlength(label, font_size=10 * width))))
        draw.text((left, max(0, face.box[1] - 12 * width)), label, fill=color, font_size=10 * width)
    return image


def faces_in_words(faces: list[ScoredFace], classes: tuple[str, ...]) -> str:
    if not faces:
        return "No face found: the face model cannot see anyone in this frame, so it cannot call it a target."
    parts = [f"face {i + 1}: {classes[int(f.probs.argmax())]} {f.probs.max():.2f}" for i, f in enumerate(faces)]
    return "; ".join(parts) + ". The frame's score is its face most like a target."
