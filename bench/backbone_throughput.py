"""VGG16 images per second against this machine's own fp32 matmul limit, measured in the same run.

limit (images/s) = matmul peak (GFLOP/s) / 30.9 GFLOP per 224x224 image.
Run: python -m bench.backbone_throughput
"""

from __future__ import annotations

import time

import numpy as np

from trainer.backbones import RANDOM, VGG16Backbone

VGG16_GFLOP = 30.9  # multiply-adds counted as 2 FLOP, conv layers of VGG16 at 224x224


def matmul_peak_gflops(n: int = 2048, repeats: int = 20) -> float:
    import tensorflow as tf

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    tf.matmul(a, b).numpy()  # warm up
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        tf.matmul(a, b).numpy()
        best = max(best, 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return best


def vgg16_images_per_second(backbone: VGG16Backbone, batch: int = 16, rounds: int = 5) -> float:
    images = [np.random.default_rng(i).integers(0, 255, (224, 224, 3), dtype=np.uint8) for i in range(batch)]
    backbone.embed(images)  # warm up
    start = time.perf_counter()
    for _ in range(rounds):
        backbone.embed(images)
    return batch * rounds / (time.perf_counter() - start)


def main() -> None:
    peak = matmul_peak_gflops()
    backbone = VGG16Backbone(RANDOM)
    rate = vgg16_images_per_second(backbone)
    limit = peak / VGG16_GFLOP
    print(f"fp32 matmul peak: {peak:.1f} GFLOP/s -> limit {limit:.2f} VGG16 images/s")
    print(f"VGG16 (batch {backbone.batch_size}, preprocessing included): {rate:.2f} images/s")
    print(f"fraction of the limit: {rate / limit:.2f} (target >= 0.8)")


if __name__ == "__main__":
    main()
