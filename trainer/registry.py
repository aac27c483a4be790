"""Model versions on disk: models/<version>/{model.h5, model.keras, model.json} and the ACTIVE marker.

model.h5 is the head only (input: backbone features, output: probabilities over the
project's classes), which the monitor loads; it holds only Keras' own layers, and its
attributes carry the model card, so the file alone is a portable model. model.json is
the model card. A head in the tutorial's format (a .h5 with (7, 7, 512) input, 2
outputs, no card) loads as a vgg16 model with classes [no target, target].
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np
from filelock import FileLock

from data.atomic import write_atomically
from data.config import FrameRule
from data.errors import LookoutError
from data.model_card import ModelCard
from data.model_records import forget_model, is_recorded, model_cards, record_model
from data.scratch import scratch_dir
from data.workspace import Workspace
from trainer.backbones import Backbone, VGG16Backbone
from trainer.keras_guard import building
from trainer.model_scores import scores_path

if TYPE_CHECKING:
    from trainer.head import Head

ACTIVE = "ACTIVE"
TUTORIAL_CLASSES = ("no target", "target")


@dataclass
class Model:
    head: Head
    card: ModelCard
    path: Path

    @property
    def version(self) -> str:
        return self.card.version

    @property
    def classes(self) -> tuple[str, ...]:
        return self.card.classes

    def thresholds(self, rule: FrameRule) -> np.ndarray:
        """Per target (classes[1:]), what a frame's probability must reach: the threshold chosen
        for the precision goal when the card has one, never below the project's frame_rule.threshold."""
        chosen = self.card.thresholds if rule.precision_goal > 0 else {}
        return np.array([max(chosen.get(name, rule.threshold), rule.threshold) for name in self.card.targets])

    def check_backbone(self, backbone: Backbone) -> None:
        if backbone.name != self.card.backbone or tuple(backbone.feature_shape) != self.card.input_shape:
            raise LookoutError(
                f"Model {self.version} was trained on {self.card.backbone} features "
                f"{self.card.input_shape}, not {backbone.name} {backbone.feature_shape}; "
                "use the backbone it names or train a new model."
            )
        trained_on = self.card.backbone_identity
        if trained_on and trained_on != backbone.identity:
            raise LookoutError(
                f"Model {self.version} was trained on features from {trained_on}, but this installation computes "
                f"{backbone.identity} (other weights, or a newer face detector); its scores would be meaningless. "
                "Train a new model (python -m trainer train, or Train on the Train page) and activate it."
            )


def new_version(ws: Workspace) -> str:
    """A sortable version name: the UTC time, with a suffix if that second is taken."""
    base = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    version, n = base, 1
    while (ws.models_dir / version).exists():
        n += 1
        version = f"{base}-{n}"
    return version


def save_model(ws: Workspace, head: Head, card: ModelCard) -> Path:
    """Write models/<version>/ and record it; the version is card.version.

    The files are written in a scratch folder that is renamed into place only when
    complete, and the version is listed (recorded) only after that, so a kill at any
    moment leaves either no version or a whole one.
    """
    folder = ws.models_dir / card.version
    if folder.exists():
        raise LookoutError(f"Model version {card.version} already exists in {ws.models_dir}; train again.")
    with scratch_dir(ws.models_dir, "saving") as tmp:
        absl = logging.getLogger("absl")
        level = absl.level
        absl.setLevel(logging.ERROR)  # .h5 is "legacy" to Keras, but it is the format the monitor and tutorial load
        try:
            head.model_.save(Path(tmp) / "model.h5")
        finally:
            absl.setLevel(level)
        write_card_attrs(Path(tmp) / "model.h5", card)
        head.model_.save(Path(tmp) / "model.keras")
        write_atomically(Path(tmp) / "model.json", json.dumps(card.to_json(), indent=2).encode())
        Path(tmp).rename(folder)
    _record(ws, folder, card)
    return folder


CARD_ATTR = "lookout_card"


def write_card_attrs(path: Path, card: ModelCard) -> None:
    """Store the model card in the .h5 file's attributes, so the file alone says what it is
    (backbone and its identity, classes, thresholds) on a machine that has only the file.
    Keras ignores attributes it does not know, so the file still loads in plain Keras."""
    with h5py.File(path, "a") as f:
        f.attrs[CARD_ATTR] = json.dumps(card.to_json())
        f.attrs["lookout_backbone"] = card.backbone
        f.attrs["lookout_backbone_identity"] = card.backbone_identity or ""
        f.attrs["lookout_classes"] = json.dumps(list(card.classes))
        f.attrs["lookout_thresholds"] = json.dumps(card.thresholds)


def _card_in_attrs(path: Path) -> dict | None:
    if path.suffix != ".h5":
        return None
    with h5py.File(path, "r") as f:
        text = f.attrs.get(CARD_ATTR)
    return json.loads(text) if text else None


def _slug(text: str) -> str:
    return re.sub(r"[^\w]+", "_", text).strip("_").lower() or "model"


def download_name(project: str, targets, version: str) -> str:
    """<project>-<target>-<version>.h5: a model kept among others still says what it is."""
    return f"{_slug(project)}-{_slug('_'.join(targets))}-{version}.h5"


def export_h5(ws: Workspace, version: str) -> bytes:
    """A version's model.h5 with its current card in the file's attributes (older versions were
    saved without them), ready to copy to another machine."""
    folder = ws.models_dir / version
    card = read_card(ws, version)
    with scratch_dir(ws.models_dir, "export") as tmp:
        copy = Path(tmp) / "model.h5"
        copy.write_bytes((folder / "model.h5").read_bytes())
        write_card_attrs(copy, card)
        return copy.read_bytes()


def _record(ws: Workspace, folder: Path, card: ModelCard) -> None:
    """List a whole version folder."""
    record_model(ws.db, folder, card)


def _versions_lock(ws: Workspace) -> FileLock:
    """Held to activate or remove a version: a version being removed is never made the active one."""
    return FileLock(ws.root / ".versions.lock")


def activate(ws: Workspace, version: str) -> None:
    """Make `version` the model the monitor uses (an atomic rename, so never half-switched).
    Only a listed version can be activated: one whose files were all written and that loads."""
    folder = _version_folder(ws, version)
    with _versions_lock(ws):
        if not is_recorded(ws.db, version):
            # A version folder copied in from another workspace: its card is written last, so it marks it whole.
            if not (folder / "model.json").is_file() or not (folder / "model.h5").is_file():
                raise LookoutError(f"No complete model {version!r} in {ws.models_dir}; see `python -m trainer list`.")
            _record(ws, folder, read_card(ws, version))
        try:  # whatever a comparison said (--force overrides only that): the monitor must be able to load it
            load_model(ws, version)
        except LookoutError as exc:
            raise LookoutError(f"Model {version} cannot be loaded, so it was not activated: {exc} "
                               "Train again, or activate another version.") from None
        write_atomically(ws.models_dir / ACTIVE, version.encode())


def remove(ws: Workspace, version: str) -> int:
    """Delete a version the monitor does not use: its files and stored scores. Returns the bytes freed.

    It is unlisted first, then its folder is moved aside and deleted: a kill in between leaves an
    unlisted folder, which removing the version again deletes, never a listed version without files.
    """
    folder = _version_folder(ws, version)
    with _versions_lock(ws):
        if version == active_version(ws):
            raise LookoutError(f"{version} is the model the monitor uses; activate another version first, "
                               "then remove this one.")
        if not is_recorded(ws.db, version) and not folder.is_dir():
            raise LookoutError(f"No model {version!r} in {ws.models_dir}; see `python -m trainer list`.")
        freed = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        forget_model(ws.db, version)
        scores = scores_path(ws, version)
        freed += scores.stat().st_size if scores.is_file() else 0
        scores.unlink(missing_ok=True)
        if folder.is_dir():
            with scratch_dir(ws.models_dir, "removing") as aside:
                folder.rename(Path(aside) / version)
    return freed


def size_in_words(n_bytes: int) -> str:
    """A size as people read it: "213 MB", "640 KB" (a face version freed "0 MB")."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n_bytes >= size:
            return f"{n_bytes / size:.0f} {unit}" if n_bytes >= 10 * size else f"{n_bytes / size:.1f} {unit}"
    return f"{n_bytes} bytes"


def _version_folder(ws: Workspace, version: str) -> Path:
    """models/<version>, for a bare name only: a version typed as ../../something names no folder of ours."""
    if not version or Path(version).name != version or version.startswith("."):
        raise LookoutError(f"{version!r} is not a model version; see `python -m trainer list`.")
    return ws.models_dir / version


def read_card(ws: Workspace, version: str) -> ModelCard:
    """The card a version folder holds in model.json, named by its folder (a folder copied in from
    another workspace may have been renamed)."""
    path = ws.models_dir / version / "model.json"
    try:
        return ModelCard.from_json(json.loads(path.read_text()), version=version)
    except (OSError, ValueError, TypeError) as exc:
        raise LookoutError(f"{path} cannot be read ({type(exc).__name__}); activate another version "
                           "(python -m trainer list) or train a new one.") from None


def active_version(ws: Workspace) -> str | None:
    marker = ws.models_dir / ACTIVE
    return marker.read_text().strip() if marker.exists() else None


def list_models(ws: Workspace) -> list[ModelCard]:
    return model_cards(ws.db)


def resolve_model_path(ws: Workspace, ref: str) -> Path:
    """ref: "active", a version, a model folder, or a .h5/.keras file."""
    if ref == "active":
        version = active_version(ws)
        if version is None:
            raise LookoutError("No model is active yet; train one and activate it (python -m trainer activate VERSION).")
        ref = version
    if (ws.models_dir / ref / "model.h5").is_file():
        return ws.models_dir / ref / "model.h5"
    path = Path(ref)
    if path.is_dir() and (path / "model.h5").is_file():
        return path / "model.h5"
    if path.is_file():
        return path
    raise LookoutError(f"No model {ref!r}: give 'active', a version in {ws.models_dir}, or a .h5 file.")


def _layer_classes(config) -> set[str]:
    """Every class_name anywhere in a Keras model config (nested models included)."""
    if isinstance(config, dict):
        found = {config["class_name"]} if isinstance(config.get("class_name"), str) else set()
        return found.union(*(_layer_classes(v) for v in config.values()))
    if isinstance(config, list):
        return set().union(*(_layer_classes(v) for v in config))
    return set()


def _has_code(path: Path) -> bool:
    """Whether the saved model contains a Lambda layer, i.e. Python code that loading would run.
    The config is parsed, not searched as text: JSON can spell "Lambda" in escapes."""
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as archive:
            config = archive.read("config.json").decode()
    else:
        with h5py.File(path, "r") as f:
            config = f.attrs.get("model_config", "{}")
            config = config.decode() if isinstance(config, bytes) else str(config)
    return "Lambda" in _layer_classes(json.loads(config))


def load_model(ws: Workspace, ref: str, *, trust_code: bool = False) -> Model:
    # Keras is imported here, not at the top: pages that only list or export versions then load
    # in a second instead of the four that importing TensorFlow takes.
    import keras

    from trainer.head import Head

    path = resolve_model_path(ws, ref)
    try:
        if _has_code(path) and not trust_code:
            raise LookoutError(
                f"{path} contains a Lambda layer, which runs code when loaded; load it only if you trust "
                "where it came from (--trust-code)."
            )
        with building():  # never while a page run clears Keras' state (trainer/keras_guard.py)
            keras_model = keras.models.load_model(path, compile=False, safe_mode=not trust_code)
    except LookoutError:
        raise
    except Exception as exc:
        raise LookoutError(f"{path} is not a Keras model Lookout can load ({type(exc).__name__}: {exc}).") from None
    card_path = path.parent / "model.json"
    try:
        if card_path.is_file():
            stored = json.loads(card_path.read_text())
        else:
            stored = _card_in_attrs(path) or _tutorial_card(path, keras_model)
        card = ModelCard.from_json(stored, version=_score_key(ws, path))
    except (ValueError, TypeError) as exc:  # json's errors are ValueErrors; a card that is not an object, TypeError
        raise LookoutError(f"{path.name} carries a model card Lookout cannot read ({type(exc).__name__}: {exc}); "
                           "export it again from the workspace that trained it.") from None
    input_shape = tuple(keras_model.input_shape[1:])
    if input_shape != card.input_shape:
        raise LookoutError(f"{path} takes input {input_shape}, but its card says {card.input_shape}.")
    return Model(Head.from_keras(keras_model), card, path)


def _score_key(ws: Workspace, path: Path) -> str:
    """The name a model's scores, verdicts and alerts are kept under. A version of this workspace is its
    folder's name (we gave it); any other file is named by its content, never by the version its card
    (or its file name) claims: a foreign file claiming the active version's name hid that version's alerts."""
    if path.parent.parent.resolve() == ws.models_dir.resolve():
        return path.parent.name
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return f"file-{digest.hexdigest()[:16]}"


def _tutorial_card(path: Path, keras_model) -> dict:
    input_shape = tuple(keras_model.input_shape[1:])
    outputs = keras_model.output_shape[-1]
    if input_shape != VGG16Backbone.feature_shape or outputs != 2:
        raise LookoutError(
            f"{path} has no model.json and is not a tutorial head ((7, 7, 512) input, 2 outputs); "
            f"it takes {input_shape} and gives {outputs}."
        )
    return {
        "version": path.stem,
        "backbone": "vgg16",
        "backbone_identity": None,
        "input_shape": list(input_shape),
        "classes": list(TUTORIAL_CLASSES),
        "threshold": 0.5,
        "origin": "tutorial format",
    }

