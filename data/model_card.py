"""The model card: what a model version is, written once by training and read as attributes.

It is stored as JSON in three places (models/<version>/model.json, the .h5 file's attributes,
the models table), so a card written by an older Lookout may lack the newer fields: they
default to "not measured". Fields a newer Lookout added are ignored when read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class ModelCard:
    version: str
    backbone: str  # "vgg16" or "face"
    input_shape: tuple[int, ...]  # the backbone's features, e.g. (7, 7, 512)
    classes: tuple[str, ...]  # classes[0] is "no target"
    backbone_identity: str | None = None  # the weights' identity; None for a tutorial head
    created_at: str | None = None
    threshold: float = 0.5  # the project's floor when trained
    thresholds: dict[str, float] = field(default_factory=dict)  # per target, chosen for the precision goal
    precision_goal: float | None = None
    operating_points: dict[str, dict] = field(default_factory=dict)  # trainer.operating_point
    frame_rule: dict[str, float] | None = None
    training_data_hash: str | None = None
    label_action: int | None = None  # the newest label action when the labels were read (data/label_changes.py)
    label_counts: dict[str, int] = field(default_factory=dict)
    split: dict[str, Any] = field(default_factory=dict)  # grouping, train/test frames, reliability
    augment_copies: int | None = None
    epochs_run: int | None = None
    schedule: dict[str, int] = field(default_factory=dict)
    seed: int | None = None
    validation: dict[str, Any] | None = None  # trainer.evaluate.evaluate on the test set
    calibration_error: float | None = None
    skipped_frames: int = 0
    origin: str | None = None  # how a card came to be when not trained here, e.g. "tutorial format"

    @classmethod
    def from_json(cls, data: Any, *, version: str | None = None) -> ModelCard:
        """A card from its JSON object; `version` names it instead of the version it claims.
        Raises ValueError naming what is missing or wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"a model card is a JSON object, not {type(data).__name__}")
        for key in ("input_shape", "classes"):
            if not isinstance(data.get(key), list) or not data[key]:
                raise ValueError(f"it lacks the {key.replace('_', ' ')}")
        if not isinstance(data.get("backbone"), str):
            raise ValueError("it lacks the backbone")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values.update(input_shape=tuple(int(n) for n in data["input_shape"]),
                      classes=tuple(str(c) for c in data["classes"]),
                      version=str(version if version is not None else data.get("version", "")))
        for key in ("thresholds", "operating_points", "label_counts", "split", "schedule"):
            if not isinstance(values.get(key) or {}, dict):
                raise ValueError(f"its {key.replace('_', ' ')} is not an object")
            values[key] = dict(values.get(key) or {})
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(input_shape=list(self.input_shape), classes=list(self.classes))
        return data

    @property
    def targets(self) -> tuple[str, ...]:
        return self.classes[1:]
