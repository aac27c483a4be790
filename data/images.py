"""Reading images the way every part of Lookout sees them: RGB, upright, bounded in size."""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from data.errors import LookoutError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif")
MAX_PIXELS = 50_000_000  # far above any video frame; stops decompression bombs
MAX_IMAGE_BYTES = 64 << 20  # a 50-megapixel PNG fits; a gigabyte "image" is not read into memory


class CheckedImage(NamedTuple):  # a tuple: a check builds 100,000 of them from the frames table
    sha256: str
    size_bytes: int
    width: int
    height: int
    phash: int


def sha256_bytes(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def decode_image(content: bytes, *, name: str) -> Image.Image:
    """Decode JPEG/PNG/WebP/GIF (first frame) to an upright RGB image, or raise LookoutError."""
    if not content:
        raise LookoutError(f"{name} is empty (0 bytes); capture or download it again.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content))
            if image.format not in ("JPEG", "PNG", "WEBP", "GIF", "MPO"):
                raise LookoutError(f"{name} is a {image.format} image; Lookout reads JPEG, PNG, WebP and GIF.")
            if image.width * image.height > MAX_PIXELS:
                raise _too_large(name, image.width * image.height)
            image.seek(0)
            image.load()
            rgb = ImageOps.exif_transpose(image.convert("RGB") if image.mode == "CMYK" else image)
            return rgb.convert("RGB")
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _too_large(name, None) from None
    except UnidentifiedImageError:
        raise LookoutError(f"{name} is not an image (JPEG, PNG, WebP or GIF); remove it from the folder.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise LookoutError(f"{name} is truncated or corrupt ({exc}); replace it with a complete copy.") from None


def _too_large(name: str, pixels: int | None) -> LookoutError:
    size = f"{pixels / 1e6:.0f} megapixels" if pixels else f"over {MAX_PIXELS // 1_000_000} megapixels"
    return LookoutError(
        f"{name} is too large ({size}; at most {MAX_PIXELS // 1_000_000} are read); resize it before importing."
    )


def check_image(path: Path) -> CheckedImage:
    """Read and fully decode a file; what import stores about it."""
    size = Path(path).stat().st_size
    if size > MAX_IMAGE_BYTES:
        raise LookoutError(f"{path} is {size >> 20} MB, too large for a frame (at most {MAX_IMAGE_BYTES >> 20} MB are read).")
    content = Path(path).read_bytes()
    image = decode_image(content, name=str(path))
    return CheckedImage(sha256_bytes(content), len(content), image.width, image.height, perceptual_hash(np.asarray(image)))


def load_rgb(path: Path) -> np.ndarray:
    """An image file as an (H, W, 3) uint8 RGB array."""
    return np.asarray(decode_image(Path(path).read_bytes(), name=str(path)))


def encode_jpeg(rgb: np.ndarray, *, quality: int = 95) -> bytes:
    import cv2  # here, not at the top: commands that read no image (a check of known frames) skip its 0.1 s

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise LookoutError("Could not encode a frame as JPEG.")
    return buf.tobytes()


def perceptual_hash(rgb: np.ndarray) -> int:
    """64-bit difference hash: near-identical frames differ in a few bits."""
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(gray, (9, 8), interpolation=cv2.INTER_AREA)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int(np.packbits(bits).view(">u8")[0])


def hash_distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()
