"""Turns labeled frames into a model: backbones, feature cache, augmentation, head, split, export."""

import os

# TensorFlow's start-up chatter (CUDA probes, oneDNN notices) is not for journalists.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from data.cli import drop_startup_noise, started_as_command  # noqa: E402  (after the settings above)

if started_as_command():  # the lines TensorFlow writes before any setting applies
    drop_startup_noise()
