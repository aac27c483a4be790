"""Lookout's workspace: project config, frames, labels, mapping CSV, video capture, database."""

import os

# OpenCV and FFmpeg print warnings for every unreadable file; Lookout reports those itself.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

from data.errors import LookoutError  # noqa: E402
from data.workspace import Workspace  # noqa: E402

__all__ = ["LookoutError", "Workspace"]
