"""The trainable head on top of frozen backbone features, shaped like a scikit-learn estimator.

- vgg16 features (7, 7, 512): the tutorial's head, Flatten and Dense 1024/512/512/256
  with dropout 0.5, softmax over the project's classes.
- face features (faces, 129): each face row gets class probabilities; a frame shows
  a target when any of its faces is that target (FacePooling).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.class_weight import compute_class_weight

from trainer.backbones import is_face_features
from trainer.progress import Cancelled, Progress, ShouldStop

TUTORIAL_LAYERS = (1024, 512, 512, 256)
FACE_LAYERS = (128,)


@keras.saving.register_keras_serializable(package="lookout")
class FacePooling(layers.Layer):
    """(per-face probabilities, face features) -> frame probabilities.

    The last feature column marks a real face (1) or padding (0). A target's
    probability is its highest over the faces present; "no target" is the lowest
    "no target" probability over them (1 when there is no face).
    """

    def call(self, face_probs, features):
        mask = ops.expand_dims(features[..., -1], -1)
        targets = ops.max(face_probs[..., 1:] * mask, axis=1)
        none = ops.min(face_probs[..., :1] * mask + (1.0 - mask), axis=1)
        frame = ops.concatenate([none, targets], axis=-1)
        return frame / ops.maximum(ops.sum(frame, axis=-1, keepdims=True), 1e-7)


def build_model(feature_shape: tuple[int, ...], n_classes: int, *, hidden: tuple[int, ...], dropout: float):
    inputs = keras.Input(shape=feature_shape, name="features")
    faces = is_face_features(feature_shape)
    x = inputs if faces else layers.Flatten()(inputs)  # face rows are classified one by one
    for units in hidden:
        x = layers.Dense(units, activation="relu")(x)
        x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="face_classes" if faces else "classes")(x)
    if faces:
        outputs = FacePooling(name="frame_classes")(outputs, inputs)
    return keras.Model(inputs, outputs)


class Batches(keras.utils.PyDataset):
    """Feeds Keras from a (possibly memory-mapped) array one shuffled batch at a time.

    Batches are of even size, at most batch_size: 140 frames make two of 70, not
    128 and 12. A small remainder batch makes a noisy step and a noisy epoch loss,
    and early stopping on that loss once ended training underfit (F1 0.43 for a
    head that reaches 0.87).
    """

    def __init__(self, X, y, weights, batch_size: int, seed: int):
        super().__init__()
        self.X, self.y, self.weights, self.batch_size = X, y, weights, batch_size
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(X))

    def __len__(self):
        return int(np.ceil(len(self.X) / self.batch_size))

    def __getitem__(self, i):
        idx = np.sort(np.array_split(self.order, len(self))[i])  # sorted: sequential reads
        return np.asarray(self.X[idx]), self.y[idx], self.weights[idx]

    def on_epoch_end(self):
        self.rng.shuffle(self.order)


class ReportEpochs(keras.callbacks.Callback):
    """Reports each epoch and stops training when the user cancels."""

    def __init__(self, epochs: int, progress: Progress | None, should_stop: ShouldStop | None):
        super().__init__()
        self.epochs, self.progress, self.should_stop, self.cancelled = epochs, progress, should_stop, False

    def on_epoch_end(self, epoch, logs=None):
        if self.progress:
            self.progress("epochs", epoch + 1, self.epochs)
        if self.should_stop and self.should_stop():
            self.cancelled = True
            self.model.stop_training = True


class Head(BaseEstimator, ClassifierMixin):
    """fit(X, y) -> self, predict_proba(X), classes_; X are backbone features.

    hidden: Dense layer sizes (None: the tutorial's for vgg16 features, one layer of
    128 for face features). class_weight: "balanced" or None.
    """

    def __init__(
        self,
        *,
        n_classes: int = 2,
        hidden: tuple[int, ...] | None = None,
        dropout: float = 0.5,
        epochs: int = 100,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        patience: int = 10,
        class_weight: str | None = "balanced",
        seed: int = 0,
    ):
        self.n_classes = n_classes
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.patience = patience
        self.class_weight = class_weight
        self.seed = seed

    def fit(
        self,
        X,
        y,
        *,
        validation: tuple | None = None,
        progress: Progress | None = None,
        should_stop: ShouldStop | None = None,
    ) -> "Head":
        y = np.asarray(y, dtype="int64")
        self.classes_ = np.arange(self.n_classes)
        feature_shape = tuple(X.shape[1:])
        hidden = self.hidden or (FACE_LAYERS if is_face_features(feature_shape) else TUTORIAL_LAYERS)
        keras.utils.set_random_seed(self.seed)
        self.model_ = build_model(feature_shape, self.n_classes, hidden=tuple(hidden), dropout=self.dropout)
        self.model_.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate), loss="sparse_categorical_crossentropy"
        )
        weights = np.ones(len(y), dtype="float32")
        if self.class_weight == "balanced":
            present = np.unique(y)
            per_class = compute_class_weight("balanced", classes=present, y=y)
            weights = per_class[np.searchsorted(present, y)].astype("float32")
        monitor = "val_loss" if validation is not None else "loss"
        callbacks = [
            keras.callbacks.EarlyStopping(monitor=monitor, patience=self.patience, restore_best_weights=True),
            ReportEpochs(self.epochs, progress, should_stop),
        ]
        val = None
        if validation is not None:
            val = (np.asarray(validation[0]), np.asarray(validation[1], dtype="int64"))
        self.model_.fit(
            Batches(X, y, weights, self.batch_size, self.seed),
            validation_data=val,
            epochs=self.epochs,
            callbacks=callbacks,
            verbose=0,
        )
        if callbacks[1].cancelled:
            raise Cancelled()
        self.epochs_run_ = len(self.model_.history.epoch) if self.model_.history else self.epochs
        return self

    def predict_proba(self, X) -> np.ndarray:
        return self._forward(X, training=False)

    def sample_proba(self, X, *, n_samples: int = 20) -> np.ndarray:
        """(n_samples, rows, classes): predictions with dropout left on, one draw of the network each.

        Where the draws disagree, the model lacks examples like the row (the review
        queue's "uncertain" strategy asks for those).
        """
        return np.stack([self._forward(X, training=True) for _ in range(n_samples)])

    def _forward(self, X, *, training: bool) -> np.ndarray:
        out = []
        for start in range(0, len(X), 256):
            out.append(np.asarray(self.model_(np.asarray(X[start : start + 256]), training=training)))
        return np.concatenate(out) if out else np.zeros((0, self.n_classes), "float32")

    def predict(self, X) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)

    @classmethod
    def from_keras(cls, model) -> "Head":
        head = cls(n_classes=int(model.output_shape[-1]))
        head.model_ = model
        head.classes_ = np.arange(head.n_classes)
        return head
