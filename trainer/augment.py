"""The tutorial's ImageDataGenerator augmentation (brightness, shear, zoom, horizontal flip),
rebuilt with Keras 3 preprocessing layers and made deterministic per (image, copy)."""

from __future__ import annotations

import hashlib

import numpy as np


class Augmenter:
    def __init__(self, *, seed: int = 0, brightness: float = 0.2, shear: float = 0.2, zoom: float = 0.2):
        from keras import layers

        self.seed = seed
        self.layers = [
            layers.RandomBrightness(brightness, value_range=(0, 255)),
            layers.RandomShear(x_factor=shear, y_factor=0.0, fill_mode="nearest"),
            layers.RandomZoom(zoom, fill_mode="nearest"),
            layers.RandomFlip("horizontal"),
        ]

    def variant(self, _sha256: str, copy: int) -> str:
        """The cache key of augmented copy number `copy` (1, 2, ...)."""
        return f"aug{self.seed}-{copy}"

    def __call__(self, rgb: np.ndarray, *, sha256: str, copy: int) -> np.ndarray:
        """Copy `copy` of the image with content `sha256`: the same every time, whatever the order."""
        base = int.from_bytes(hashlib.sha256(f"{sha256}:{self.seed}:{copy}".encode()).digest()[:4], "little")
        batch = rgb[None].astype("float32")
        for i, layer in enumerate(self.layers):
            transform = layer.get_random_transformation(batch, training=True, seed=(base + i) % 2**31)
            batch = layer.transform_images(batch, transform, training=True)
        return np.clip(np.asarray(batch)[0], 0, 255).astype("uint8")
