"""Backbones turn RGB frames into the features a head learns from.

Both share one interface (name, identity, feature_shape, embed), so a third
backbone is one new class registered in BACKBONES.

- vgg16: the tutorial's ImageNet VGG16 without its top, 224x224 -> (7, 7, 512).
- face: faces found by MTCNN and dlib's HOG, each described by FaceRes (1024 numbers) or, for
  versions trained before it, dlib's 128-d descriptor; a frame is up to max_faces faces, each
  row the description and a 1/0 "face present" mask.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import socket
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from data.config import FACE_DESCRIPTORS
from data.errors import LookoutError
from trainer.keras_guard import building
from trainer.workers import WorkerPool

VGG16_WEIGHTS_ENV = "LOOKOUT_VGG16_WEIGHTS"
VGG16_WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG16_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + VGG16_WEIGHTS_FILE
)
RANDOM = "random"  # tests and benchmarks only: an explicitly untrained VGG16


DLIB_ROW = 129  # a row of dlib's descriptor: 128 numbers and the "face present" mask
FACE_SIZE_UNIT = 100  # px: a FaceRes row's size column holds the face's larger side in hundreds of pixels


def is_face_features(feature_shape: tuple[int, ...]) -> bool:
    """Face features are rows of faces; vgg16's are a 3-d map. A FaceRes row is its description, the
    face's size and a 1/0 "face present" mask; a dlib row (before FaceRes) has no size column."""
    return len(feature_shape) == 2


def has_face_sizes(feature_shape: tuple[int, ...]) -> bool:
    return is_face_features(feature_shape) and feature_shape[-1] != DLIB_ROW


def face_descriptions(features: np.ndarray) -> np.ndarray:
    """Face rows -> who each face is (their description columns alone)."""
    return features[..., : -2 if has_face_sizes(features.shape[1:]) else -1]


def descriptor_in(identity: str) -> str:
    """The face descriptor a face backbone's identity names ("dlib" for every identity before FaceRes)."""
    return "faceres" if identity.startswith("face-faceres") else "dlib"


def pooled(features: np.ndarray) -> np.ndarray:
    """A vgg16 map averaged over its cells (what the frame shows, not where); face features unchanged."""
    if is_face_features(features.shape[1:]):
        return features
    return features.reshape(len(features), -1, features.shape[-1]).mean(axis=1)


class Backbone:
    name: str
    identity: str  # changes whenever the features would change (weights, settings)
    feature_shape: tuple[int, ...]
    batch_size: int = 16
    lanes: int = 1  # videos worth scoring at once: more than one only where workers would otherwise wait

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        """RGB uint8 images of any size -> float32 features of shape (N, *feature_shape)."""
        raise NotImplementedError


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def keras_cache_file(name: str) -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models" / name


def find_vgg16_weights(configured: str = "") -> Path | None:
    """$LOOKOUT_VGG16_WEIGHTS, then project.toml's vgg16_weights, then Keras' cache."""
    for source, value in ((VGG16_WEIGHTS_ENV, os.environ.get(VGG16_WEIGHTS_ENV, "")), ("vgg16_weights", configured)):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise LookoutError(f"{source} points to {path}, which does not exist; fix the path or unset it.")
            return path
    cached = keras_cache_file(VGG16_WEIGHTS_FILE)
    return cached if cached.is_file() else None


def vgg16_unavailable(configured: str = "") -> str | None:
    """None when VGG16's ImageNet weights are on this computer or their server can be reached; else why not."""
    try:
        if find_vgg16_weights(configured):
            return None
    except LookoutError as exc:
        return str(exc)
    host = VGG16_WEIGHTS_URL.split("/")[2]
    try:
        socket.create_connection((host, 443), timeout=3).close()
    except socket.gaierror:  # words, not "[Errno -2] Name or service not known"
        return f"{host} cannot be reached: no internet, or its name cannot be looked up"
    except OSError as exc:
        return f"{host} cannot be reached: {exc.strerror or 'no answer'}"
    return None


def default_backbone(configured: str = "") -> tuple[str, str]:
    """The backbone a new project should use here, and why, in words."""
    why_not = vgg16_unavailable(configured)
    if why_not is None:
        return "vgg16", "vgg16: its ImageNet weights are on this computer or can be downloaded."
    return "face", f"face, because VGG16's ImageNet weights are not on this computer and cannot be downloaded ({why_not})."


def missing_weights_error(reason: str) -> LookoutError:
    return LookoutError(
        f"VGG16's ImageNet weights are not on this computer and could not be downloaded ({reason}). "
        f"Download {VGG16_WEIGHTS_URL} on a machine with internet access and either put it at "
        f"{keras_cache_file(VGG16_WEIGHTS_FILE)} or set {VGG16_WEIGHTS_ENV} (or vgg16_weights in project.toml) "
        "to its path. The 'face' backbone needs no download."
    )


class VGG16Backbone(Backbone):
    name = "vgg16"
    feature_shape = (7, 7, 512)
    input_size = 224

    def __init__(self, weights: str | os.PathLike | None = None, *, configured: str = ""):
        """weights: a weights file, RANDOM (tests only), or None to find or download ImageNet's."""
        import keras

        if weights == RANDOM:
            with building():
                keras.utils.set_random_seed(0)
                self.model = keras.applications.VGG16(include_top=False, weights=None, input_shape=(224, 224, 3))
            self.identity = "vgg16-random-0"
            return
        path = Path(weights) if weights else find_vgg16_weights(configured)
        if path is None:
            path = self._download()
        try:
            with building():
                self.model = keras.applications.VGG16(include_top=False, weights=str(path), input_shape=(224, 224, 3))
        except (OSError, ValueError) as exc:
            raise LookoutError(f"{path} is not VGG16 no-top weights ({exc}); download {VGG16_WEIGHTS_URL} again.") from None
        self.identity = f"vgg16-{_file_digest(path)}"

    @staticmethod
    def _download() -> Path:
        import keras

        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(30)
        try:
            return Path(keras.utils.get_file(VGG16_WEIGHTS_FILE, VGG16_WEIGHTS_URL, cache_subdir="models"))
        except Exception as exc:  # any network failure means the same thing to the user; name the real cause
            cause = exc.__cause__ or exc.__context__ or exc
            if isinstance(getattr(cause, "reason", cause), socket.gaierror):  # words, not "URLError ... [Errno -2]"
                host = VGG16_WEIGHTS_URL.split("/")[2]
                raise missing_weights_error(f"{host} cannot be reached: no internet, or its name cannot be looked up"
                                            ) from None
            raise missing_weights_error(f"{type(cause).__name__}: {cause}") from None
        finally:
            socket.setdefaulttimeout(previous)

    def preprocess(self, images: list[np.ndarray]) -> np.ndarray:
        from keras.applications.vgg16 import preprocess_input

        size = (self.input_size, self.input_size)
        batch = np.stack([cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in images]).astype("float32")
        return preprocess_input(batch)  # caffe mode: RGB -> BGR, ImageNet means subtracted

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        out = [
            np.asarray(self.model(self.preprocess(images[i : i + self.batch_size]), training=False))
            for i in range(0, len(images), self.batch_size)
        ]
        return np.concatenate(out).astype("float32") if out else np.zeros((0, *self.feature_shape), "float32")


def face_models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise LookoutError("The face backbone needs the face_recognition_models package: pip install face-recognition-models")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def traced(detector):
    """MTCNN with each stage's network traced once by TensorFlow, and the frame made a tensor once.

    The package calls the networks eagerly, once per pyramid scale; traced, a frame costs 0.6x as
    long. It also hands each scale and each stage the frame as a NumPy array, which TensorFlow
    copies into a tensor every time (ten or more 14 MB copies a frame, a third of its time): the
    stages here are given the tensor, made once. The same operations on the same values: the boxes
    are the same (mtcnn is pinned, so its stages keep their `_model` and `_stages`)."""
    import tensorflow as tf

    for stage in detector.stages:
        stage._model = tf.function(stage.model, input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    frame = threading.local()  # per thread: the last frame given, and its tensor

    def given_a_tensor(stage):
        def run(*, images_normalized, **kwargs):
            if getattr(frame, "array", None) is not images_normalized:
                frame.array, frame.tensor = images_normalized, tf.convert_to_tensor(images_normalized)
            return stage(images_normalized=frame.tensor, **kwargs)
        return run

    detector._stages = [given_a_tensor(stage) for stage in detector.stages]
    return detector


def overlap(a, b) -> float:
    """Intersection over union of two dlib rectangles."""
    shared = a.intersect(b).area()
    return shared / (a.area() + b.area() - shared)


class FaceBackbone(Backbone):
    """MTCNN (the mtcnn package: its weights ship inside the wheel) proposes faces on the whole
    frame; dlib's HOG, upsampled once, looks for a frontal face around each proposal; where it
    finds none, MTCNN's sure faces (confidence 0.99) count. Each face is then described (see below).

    Measured on the shared dataset (bench/face_features.py; test-set F1 over 5 seeds): HOG on the
    whole frame first, then MTCNN where it found nothing, cost HOG's full pass on every frame and
    both detectors on frames without a face, which is most frames of most videos. Proposals
    first (at ONet 0.5), HOG on their surroundings only, give F1 0.886 (before: 0.879) and a face
    in 209 of 225 Trump frames (HOG then dlib's CNN: 209; HOG then MTCNN: 210; 207 at ONet 0.7
    before crops started on HOG's cell grid). HOG on the whole frame where it finds nothing
    around the proposals finds 210, at 1.2x the time a frame, which the monitor cannot spare.
    HOG stays the judge of frontal faces: MTCNN alone, or at confidence 0.9, found more faces
    that were not the point (F1 0.836 and 0.845). Dropping
    faces under 24 or 32 px, or giving the head each face's size, did not help on validation
    folds; under 40 px lost small true faces (F1 0.62).
    TikTok puts faces in small windows (duets, stitches), dark rooms and 360p re-encodes
    (bench/robustness.py): HOG looks at small proposals upsampled twice, MTCNN's sure faces count
    beside HOG's (a small face in a window was dropped whenever HOG confirmed the host's), and a dark
    frame's contrast is equalised first. Recall in a one-third window went 0.50 -> 0.71, dark 0.47 -> 0.74.
    Who a face is: FaceRes (trainer/faceres.py), all faces of a frame in one batch, or dlib's 128-d
    descriptor (descriptor="dlib"), which says little about a 20-60 px face (bench/robustness.py).
    Batches are shared among worker processes, one per core (workers: how many; 1 embeds here).
    """

    name = "face"
    max_faces = 4
    MIN_CONFIDENCE = 0.99
    PROPOSAL_CONFIDENCE = 0.5  # MTCNN's last-stage bar for a place worth HOG's look
    AROUND = 0.5  # HOG looks at a proposal widened by half its size on every side
    GRID = 8  # px: a crop starts on HOG's cell grid (4 px once upsampled), so it sees what it sees in the whole frame
    SMALL_FACE = 80  # px: HOG looks at proposals smaller than this upsampled twice (it sees 40 px faces at once)
    KEEP_SURE = True  # MTCNN's sure faces count beside HOG's, not only where HOG found none
    DARK = 60  # mean brightness (0-255) under which a frame's contrast is equalised before faces are looked for
    CROP = 1.2  # FaceRes sees the square CROP times a face's box, as its authors crop

    def __init__(self, *, workers: int | None = None, descriptor: str = "faceres"):
        if descriptor not in FACE_DESCRIPTORS:
            raise LookoutError(f"Face descriptor {descriptor!r} is not one of {', '.join(FACE_DESCRIPTORS)} "
                               "(face_descriptor in project.toml).")
        try:
            import dlib
            from mtcnn import MTCNN
        except ImportError as exc:
            raise LookoutError(f"The face backbone needs {exc.name}: pip install dlib-bin mtcnn") from None
        from importlib.metadata import version

        models = face_models_dir()
        self.hog = dlib.get_frontal_face_detector()
        with building():
            self.mtcnn = traced(MTCNN(device="CPU:0"))
        self.rectangle = dlib.rectangle
        self.descriptor = descriptor
        if descriptor == "dlib":  # its 5-point landmarks align each face for its ResNet
            self.landmarks = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
            self.encoder = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
            described_by, dimensions = "", 128
        else:
            from trainer.faceres import FaceResDescriptor

            self.faceres = FaceResDescriptor(scale=self.CROP)
            described_by, dimensions = f"{self.faceres.identity}-sized-", self.faceres.dimensions
        self.feature_shape = (self.max_faces, dimensions + (1 if descriptor == "dlib" else 2))  # (size and) mask
        # a dlib-described identity is what it was before FaceRes, so those versions' features stay valid
        self.identity = (f"face-{described_by}dlib{dlib.__version__}-mtcnn{version('mtcnn')}-p{self.PROPOSAL_CONFIDENCE}"
                         f"-hog1x{self.AROUND}g{self.GRID}-c{self.MIN_CONFIDENCE}-k{self.max_faces}"
                         + (f"-s{self.SMALL_FACE}" if self.SMALL_FACE else "") + ("-sure" if self.KEEP_SURE else "")
                         + (f"-d{self.DARK}" if self.DARK else ""))
        self.pool = WorkerPool(partial(type(self), workers=1, descriptor=descriptor), workers)
        self.batch_size = 8 * self.pool.workers  # a few frames each between progress reports

    def detect(self, images: list[np.ndarray]) -> list[list]:
        """Per image, its largest faces (dlib rectangles), at most max_faces. One image per MTCNN
        call: in a batch, smaller frames are padded to the largest and their faces change."""
        found = []
        for rgb in images:
            faces = self.proposals(rgb)
            sure = [self.box(box) for box, confidence in faces if confidence >= self.MIN_CONFIDENCE]
            frontal = self.frontal_faces(rgb, [box for box, _ in faces])
            if self.KEEP_SURE:
                found.append(frontal + [b for b in sure if all(overlap(b, face) < 0.3 for face in frontal)])
            else:
                found.append(frontal or sure)
        return [sorted(boxes, key=lambda b: b.area(), reverse=True)[: self.max_faces] for boxes in found]

    def proposals(self, rgb: np.ndarray) -> list[tuple[list, float]]:
        """([x, y, w, h], confidence) per place MTCNN proposes as a face."""
        return [(f["box"], f["confidence"]) for f in self.mtcnn.detect_faces(rgb, threshold_onet=self.PROPOSAL_CONFIDENCE)]

    def frontal_faces(self, rgb: np.ndarray, proposals: list) -> list:
        """HOG's faces around each proposed (x, y, w, h) box, each face once."""
        height, width = rgb.shape[:2]
        faces = []
        for x, y, w, h in (map(int, box) for box in proposals):
            margin = int(self.AROUND * max(w, h))
            left, top = max(0, x - margin) // self.GRID * self.GRID, max(0, y - margin) // self.GRID * self.GRID
            around = np.ascontiguousarray(rgb[top : min(height, y + h + margin), left : min(width, x + w + margin)])
            for r in self.hog(around, 2 if max(w, h) < self.SMALL_FACE else 1):
                face = self.rectangle(r.left() + left, r.top() + top, r.right() + left, r.bottom() + top)
                if all(overlap(face, seen) < 0.5 for seen in faces):  # proposals overlap: one face, found twice
                    faces.append(face)
        return faces

    def lifted(self, rgb: np.ndarray) -> np.ndarray:
        """A dark frame with its contrast equalised (CLAHE on lightness), as a face is found and described in it."""
        if not self.DARK or rgb.mean() >= self.DARK:
            return rgb
        import cv2

        lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
        lab[:, :, 0] = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(lab[:, :, 0])
        return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)

    def box(self, xywh: list) -> object:
        x, y, w, h = map(int, xywh)
        return self.rectangle(x, y, x + w, y + h)

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        if self.pool.workers == 1 or len(images) < 2 * self.pool.workers:
            return self.embed_here(images)
        shares = [list(share) for share in np.array_split(np.arange(len(images)), self.pool.workers)]
        return np.concatenate(self.pool.map("embed_here", [[images[i] for i in share] for share in shares]))

    def embed_here(self, images: list[np.ndarray]) -> np.ndarray:
        return np.stack([self.rows(self.described_faces(rgb)) for rgb in images]) if images else \
            np.zeros((0, *self.feature_shape), "float32")

    def rows(self, described: list[tuple[object, np.ndarray]]) -> np.ndarray:
        """A frame's features from its described faces: per face its description, (its size,) and 1."""
        out = np.zeros(self.feature_shape, "float32")
        for j, (box, description) in enumerate(described):
            out[j, : len(description)], out[j, -1] = description, 1.0
            if has_face_sizes(self.feature_shape):
                out[j, -2] = max(box.width(), box.height()) / FACE_SIZE_UNIT
        return out

    def described_faces(self, rgb: np.ndarray) -> list[tuple[object, np.ndarray]]:
        """(dlib rectangle, description) of each face kept, largest first: the rows of the frame's features."""
        rgb = self.lifted(np.ascontiguousarray(rgb))
        boxes = self.detect([rgb])[0]
        return list(zip(boxes, self.describe(rgb, boxes)))

    def describe(self, rgb: np.ndarray, boxes: list) -> np.ndarray:
        """One row per face box: who the face is, in the descriptor's numbers."""
        if self.descriptor == "faceres":
            return self.faceres.describe(rgb, boxes)
        return np.array([self.encoder.compute_face_descriptor(rgb, self.landmarks(rgb, box)) for box in boxes],
                        dtype="float32").reshape(len(boxes), 128)


class DeferredBackbone(Backbone):
    """A backbone known from a model card. Reading its cached features needs only its identity and
    feature shape, so its weights (and TensorFlow, seconds to import) load on the first embed."""

    def __init__(self, name: str, identity: str, feature_shape, load: Callable[[], Backbone]):
        self.name, self.identity, self.feature_shape = name, identity, tuple(feature_shape)
        self._load, self._loaded = load, None

    @property
    def loaded(self) -> Backbone:
        if self._loaded is None:
            backbone = self._load()
            if backbone.identity != self.identity:
                raise LookoutError(
                    f"This installation computes {backbone.identity} features, not the {self.identity} the active "
                    "model was trained on; train a new model (Train page) and activate it."
                )
            self._loaded = backbone
        return self._loaded

    @property
    def batch_size(self) -> int:
        return self.loaded.batch_size

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        return self.loaded.embed(images)


def load_backbone(name: str, *, vgg16_weights: str | os.PathLike | None = None, configured: str = "",
                  workers: int | None = None, descriptor: str = "faceres") -> Backbone:
    """name: "vgg16" or "face"; vgg16_weights: a file, RANDOM, or None to find ImageNet's;
    workers: face backbone processes (None: one per core); descriptor: the face backbone's, see FACE_DESCRIPTORS.
    Their Keras networks are never built while a page run clears Keras' state (trainer/keras_guard.py): a
    monitor cycle's MTCNN once lost its layers that way. Only the building holds the lock: Streamlit's
    clear_session waits for it at the end of every page run, so loading a whole backbone under it held the
    pages still for a minute."""
    if name == "vgg16":
        return VGG16Backbone(vgg16_weights, configured=configured)
    if name == "face":
        return FaceBackbone(workers=workers, descriptor=descriptor)
    raise LookoutError(f"Backbone {name!r} is not one of vgg16, face (backbone in project.toml).")
