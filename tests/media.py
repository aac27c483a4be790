"""Small images and videos made by the tests themselves."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image


def pattern(seed: int, size=(48, 64)) -> np.ndarray:
    """A blocky random RGB picture: distinct seeds give frames a perceptual hash tells apart."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(size[0] // 8, size[1] // 8, 3), dtype=np.uint8)
    return np.kron(blocks, np.ones((8, 8, 1), dtype=np.uint8))


def save_image(path: Path, seed: int, *, mode: str = "RGB", fmt: str | None = None) -> Path:
    Image.fromarray(pattern(seed)).convert(mode).save(path, format=fmt)
    return path


def image_folder(folder: Path, seeds, mapping: str = "") -> Path:
    """A folder of pattern images frame{seed}.jpg and its mapping_trump.csv (rows after the header)."""
    folder.mkdir(exist_ok=True)
    for seed in seeds:
        save_image(folder / f"frame{seed}.jpg", seed)
    (folder / "mapping_trump.csv").write_text("Image_ID,Class\n" + mapping)
    return folder


def make_video(path: Path, seconds: list[int], *, fps: int = 10, extra_args: tuple[str, ...] = (), input_args=(),
               size=(48, 64)) -> Path:
    """An H.264 mp4 showing pattern(seconds[i]) during second i."""
    frames = np.concatenate([np.repeat(pattern(seed, size)[None], fps, axis=0) for seed in seconds])
    h, w = frames.shape[1:3]
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps), *input_args, "-i", "-",
        *extra_args, "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv444p", str(path),
    ]
    subprocess.run(cmd, input=frames.tobytes(), check=True)
    return path


def ffmpeg(*args: str) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)
