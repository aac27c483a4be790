"""The trainable head on top of frozen backbone features, shaped like a scikit-learn estimator.

- vgg16 features (7, 7, 512): the tutorial's head, Flatten and Dense 1024/512/512/256
  with dropout 0.5, softmax over the project's classes.
- face features (faces, row): each face row gets class probabilities, a small face counts
  only at a higher bar (barred_small_faces); a frame shows a target when any of its faces is
  that target (face_pooling).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.class_weight import compute_class_weight

from trainer.backbones import FACE_SIZE_UNIT, has_face_sizes, is_face_features
from trainer.keras_guard import building
from trainer.progress import Cancelled, Progress, ShouldStop

TUTORIAL_LAYERS = (1024, 512, 512, 256)
BATCHES_PER_EPOCH = 50  # with a step budget: enough passes per Keras epoch to keep its per-epoch cost small
FACE_LAYERS = (128,)
# (px, probability): a face smaller than this is a target only at this bar or above. Measured on the test
# side's TikTok edits (bench/robustness.py): no bar vs faces under 40 px at 0.95 (see barred_small_faces).
SMALL_FACE_BAR = (40, 0.95)
BARRED_FACES = "faces_past_small_face_bar"  # the per-face probabilities the frame's come from
FORWARD_BATCH = 1024  # rows per prediction call: the tutorial head scores 1,024 maps 15% faster than 256 at a time


@keras.saving.register_keras_serializable(package="lookout")
class FacePooling(layers.Layer):
    """Loads face models saved before face_pooling() existed; new models are built without it."""

    def call(self, face_probs, features):
        mask = ops.expand_dims(features[..., -1], -1)
        targets = ops.max(face_probs[..., 1:] * mask, axis=1)
        none = ops.min(face_probs[..., :1] * mask + (1.0 - mask), axis=1)
        frame = ops.concatenate([none, targets], axis=-1)
        return frame / ops.maximum(ops.sum(frame, axis=-1, keepdims=True), 1e-7)


def _fixed_dense(units: int, kernel: np.ndarray, bias: np.ndarray | None, name: str) -> layers.Dense:
    """A Dense layer used as arithmetic (select a column, negate, 1 - x): frozen, with set weights."""
    layer = layers.Dense(units, use_bias=bias is not None, trainable=False, name=name)
    layer.build((None, kernel.shape[0]))
    layer.set_weights([kernel] if bias is None else [kernel, bias])
    return layer


def _step(x, kernel: np.ndarray, bias: np.ndarray, name: str):
    """clip(x @ kernel + bias, 0, 1) from Keras' own layers: with a steep kernel, 1 past a line and 0 before it."""
    units = kernel.shape[1]
    rising = layers.ReLU(name=f"{name}_rising")(_fixed_dense(units, kernel, bias, f"{name}_line")(x))
    flipped = np.diag(-np.ones(units, "float32"))  # min(x, 1) = 1 - relu(1 - x)
    capped = layers.ReLU(name=f"{name}_capped")(_fixed_dense(units, flipped, np.ones(units, "float32"), f"{name}_flip")(rising))
    return _fixed_dense(units, flipped, np.ones(units, "float32"), name)(capped)


def barred_small_faces(face_probs, features, n_classes: int):
    """Per-face probabilities where a face smaller than SMALL_FACE_BAR's size counts as a target only at
    its higher bar (else "no target"): FaceRes still takes a 20-40 px face of another man for Trump now
    and then, and one such face made a frame, and a window of a duet video, a false alert
    (bench/robustness.py). The size is the feature row's next-to-last column (FaceRes rows)."""
    size_px, bar = SMALL_FACE_BAR
    width, steep = features.shape[-1], 1000.0
    size_line = np.zeros((width, 1), "float32")
    size_line[-2, 0] = -steep  # small: 1 below size_px, 0 from it on (the column is in FACE_SIZE_UNIT px)
    small = _step(features, size_line, np.array([steep * size_px / FACE_SIZE_UNIT], "float32"), "small_face")
    eye = np.eye(n_classes, dtype="float32")
    over_bar = _step(face_probs, steep * eye[:, 1:], np.full(n_classes - 1, -steep * bar, "float32"), "over_bar")
    flipped = np.diag(-np.ones(n_classes - 1, "float32"))
    under_bar = _fixed_dense(n_classes - 1, flipped, np.ones(n_classes - 1, "float32"), "under_bar")(over_bar)
    held_back = layers.Multiply(name="small_and_under_bar")([small, under_bar])
    kept = _fixed_dense(n_classes - 1, flipped, np.ones(n_classes - 1, "float32"), "kept")(held_back)
    targets = layers.Multiply(name="targets_past_bar")([_fixed_dense(n_classes - 1, eye[:, 1:], None, "face_targets")(
        face_probs), kept])
    none = _fixed_dense(1, -np.ones((n_classes - 1, 1), "float32"), np.ones(1, "float32"), "face_none")(targets)
    return layers.Concatenate(name=BARRED_FACES)([none, targets])


def face_pooling(face_probs, features, n_classes: int):
    """(per-face probabilities, face features) -> frame probabilities, from Keras' own layers only,
    so the saved .h5 loads in plain Keras with nothing of Lookout's installed.

    The last feature column marks a real face (1) or padding (0). A target's probability is its
    highest over the faces present; "no target" is the lowest "no target" probability over them
    (1 when there is no face). With one target the two add up to 1; with several, each target's
    number is the probability that some face is that target.
    """
    width = features.shape[-1]
    pick_mask = np.zeros((width, 1), "float32")
    pick_mask[-1, 0] = 1
    mask = _fixed_dense(1, pick_mask, None, "face_present")(features)
    eye = np.eye(n_classes, dtype="float32")
    targets = _fixed_dense(n_classes - 1, eye[:, 1:], None, "target_probs")(face_probs)
    targets = layers.GlobalMaxPooling1D(name="best_face")(layers.Multiply(name="present_targets")([targets, mask]))
    none = _fixed_dense(1, eye[:, :1], None, "none_probs")(face_probs)
    absent = _fixed_dense(1, -np.ones((1, 1), "float32"), np.ones(1, "float32"), "padding")(mask)
    none = layers.Add(name="none_or_padding")([layers.Multiply(name="present_none")([none, mask]), absent])  # padding: 1
    negate = np.array([[-1.0]], "float32")
    none = _fixed_dense(1, negate, None, "negate")(none)  # min over faces = -max(-x)
    none = _fixed_dense(1, negate, None, "least_none")(layers.GlobalMaxPooling1D(name="most_negated")(none))
    return layers.Concatenate(name="frame_classes")([none, targets])


def _glorot(seed: int, layer: int):
    return keras.initializers.GlorotUniform(seed=seed * 1000 + layer)


def build_model(feature_shape: tuple[int, ...], n_classes: int, *, hidden: tuple[int, ...], dropout: float,
                small_face_bar: bool = True, seed: int = 0):
    """Every layer is named: Streamlit clears Keras' session after each script run, which restarts its
    automatic names ("dense", "dense_1", ...) in every thread, so a model built by a background job
    during a page's rerun could get two layers called "dense" and fail to build.

    FaceRes rows are classified by their description alone (not the face's size or mask). The small-face
    bar is left out of the model that is trained: it is flat below the bar, so a small true face would
    teach nothing; the model that is used and saved has it (small_face_bar, see Head.fit).

    Every random draw (initial weights, dropout) has its own seed from `seed`: Keras' global seed is shared
    by every thread of the server, and a page loading a model while a version trained gave the same labels
    and seed another model (confusion [[63,5],[2,55]] then [[65,3],[2,55]])."""
    with building():  # never while a page run clears Keras' state (trainer/keras_guard.py)
        inputs = keras.Input(shape=feature_shape, name="features")
        faces = is_face_features(feature_shape)
        x = inputs if faces else layers.Flatten(name="flatten")(inputs)  # face rows are classified one by one
        if has_face_sizes(feature_shape):  # Keras' own layers only: columns are cropped as the steps of a sequence
            columns = layers.Permute((2, 1), name="columns")(inputs)
            x = layers.Permute((2, 1), name="descriptions")(layers.Cropping1D((0, 2), name="without_size_and_mask")(columns))
        for i, units in enumerate(hidden):
            x = layers.Dense(units, activation="relu", name=f"hidden_{i}", kernel_initializer=_glorot(seed, i))(x)
            x = layers.Dropout(dropout, name=f"dropout_{i}", seed=seed * 1000 + i)(x)
        outputs = layers.Dense(n_classes, activation="softmax", name="face_classes" if faces else "classes",
                               kernel_initializer=_glorot(seed, len(hidden)))(x)
        if faces and has_face_sizes(feature_shape) and small_face_bar:
            outputs = barred_small_faces(outputs, inputs, n_classes)
        if faces:
            outputs = face_pooling(outputs, inputs, n_classes)
        return keras.Model(inputs, outputs)


def class_layers(keras_model) -> list:
    """The softmax layers giving each face's (or frame's) class probabilities."""
    return [layer for layer in keras_model.layers
            if isinstance(layer, layers.Dense) and layer.get_config().get("activation") == "softmax"]


class Batches(keras.utils.PyDataset):
    """Feeds Keras from a (possibly memory-mapped) array one shuffled batch at a time.

    Batches are of even size, at most batch_size: 140 frames make two of 70, not
    128 and 12. A small remainder batch makes a noisy step and a noisy epoch loss,
    and early stopping on that loss once ended training underfit (F1 0.43 for a
    head that reaches 0.87).
    passes: shuffled passes over the data per Keras epoch. Keras spends tens of
    milliseconds between epochs, so 20 frames trained for 1,000 steps as 1,000
    one-batch epochs took minutes; as 20 epochs of 50 passes, seconds.
    """

    def __init__(self, X, y, weights, batch_size: int, seed: int, passes: int = 1):
        super().__init__()
        self.X, self.y, self.weights, self.batch_size, self.passes = X, y, weights, batch_size, passes
        self.per_pass, self.seed, self.epoch = int(np.ceil(len(X) / batch_size)), seed, 0

    def __len__(self):
        return self.per_pass * self.passes

    def __getitem__(self, i):
        # The order follows from the batches asked for, not from on_epoch_end, which Keras may call before
        # or after it prefetches the next epoch's first batches (in another thread, as the machine's load has it).
        if i == 0:
            self.epoch += 1
        one_pass, batch = divmod(i, self.per_pass)
        order = np.random.default_rng([self.seed, self.epoch, one_pass]).permutation(len(self.X))
        idx = np.sort(np.array_split(order, self.per_pass)[batch])  # sorted: sequential reads
        return np.asarray(self.X[idx]), self.y[idx], self.weights[idx]


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
    The schedule is fixed, never stopped early on the test frames (that would tune the
    model to the frames it is judged on): `epochs` passes over the data, or, with `steps`,
    as many passes as make that many gradient steps (few labeled frames still get enough).
    average_steps: keep the weights' moving average over about that many last steps, not the
    last step's weights (None: the last step's). A head's last steps wander around a minimum, and
    where they stop decided one or two borderline test frames: for the face head, test F1 over
    10 seeds spread 0.061 without it and 0.016 with 100 steps, at no extra cost (bench/retrain.py).
    The same data and seed give the same model.
    """

    def __init__(
        self,
        *,
        n_classes: int = 2,
        hidden: tuple[int, ...] | None = None,
        dropout: float = 0.5,
        epochs: int = 100,
        steps: int | None = None,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        class_weight: str | None = "balanced",
        average_steps: int | None = None,
        seed: int = 0,
    ):
        self.n_classes = n_classes
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.steps = steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.class_weight = class_weight
        self.average_steps = average_steps
        self.seed = seed

    def fit(
        self,
        X,
        y,
        *,
        progress: Progress | None = None,
        should_stop: ShouldStop | None = None,
    ) -> "Head":
        y = np.asarray(y, dtype="int64")
        self.classes_ = np.arange(self.n_classes)
        feature_shape = tuple(X.shape[1:])
        hidden = self.hidden or (FACE_LAYERS if is_face_features(feature_shape) else TUTORIAL_LAYERS)
        keras.utils.set_random_seed(self.seed)
        self.model_ = build_model(feature_shape, self.n_classes, hidden=tuple(hidden), dropout=self.dropout,
                                  small_face_bar=False, seed=self.seed)
        averaged = {"use_ema": True, "ema_momentum": 1 - 1 / self.average_steps} if self.average_steps else {}
        self.model_.compile(  # Keras puts the averaged weights in the model when fit ends
            optimizer=keras.optimizers.Adam(self.learning_rate, **averaged), loss="sparse_categorical_crossentropy"
        )
        weights = np.ones(len(y), dtype="float32")
        if self.class_weight == "balanced":
            present = np.unique(y)
            per_class = compute_class_weight("balanced", classes=present, y=y)
            weights = per_class[np.searchsorted(present, y)].astype("float32")
        if self.steps:
            per_pass = int(np.ceil(len(X) / self.batch_size))
            batches = Batches(X, y, weights, self.batch_size, self.seed, passes=max(1, BATCHES_PER_EPOCH // per_pass))
            epochs = -(-self.steps // len(batches))
        else:
            batches, epochs = Batches(X, y, weights, self.batch_size, self.seed), self.epochs
        reporter = ReportEpochs(epochs, progress, should_stop)
        # shuffle=False: Keras would shuffle the batches with Python's global random, which every thread of
        # the server draws from, so the same labels and seed trained another model when a page was busy.
        self.model_.fit(batches, epochs=epochs, callbacks=[reporter], verbose=0, shuffle=False)
        if reporter.cancelled:
            raise Cancelled()
        # Every retrain starts afresh, so Adam's state (twice the weights) is of no use after training;
        # without it each saved version takes a third of the disk (two files of 320 MB became 106 MB each).
        trained = self.model_
        self.model_ = build_model(feature_shape, self.n_classes, hidden=tuple(hidden), dropout=self.dropout)
        for layer in trained.layers:  # by name: the model used has the small-face bar's fixed layers besides
            if layer.weights:
                self.model_.get_layer(layer.name).set_weights(layer.get_weights())
        self.epochs_run_ = epochs
        return self

    def predict_proba(self, X) -> np.ndarray:
        return self._forward(X, training=False)

    def sample_proba(self, X, *, n_samples: int = 20) -> np.ndarray:
        """(n_samples, rows, classes): predictions with dropout left on, one draw of the network each.

        Where the draws disagree, the model lacks examples like the row (the review
        queue's "uncertain" strategy asks for those). The draws start from the same seeds on
        every call: a loaded model's dropout is seeded at random, and the same model and frames
        once gave a different queue, with different reasons, at each run.
        """
        for i, layer in enumerate(layer for layer in self.model_.layers if isinstance(layer, layers.Dropout)):
            if hasattr(layer, "seed_generator"):  # a rate of 0 draws nothing
                layer.seed_generator.state.assign(ops.cast([i, 0], layer.seed_generator.state.dtype))
        return np.stack([self._forward(X, training=True) for _ in range(n_samples)])

    def _forward(self, X, *, training: bool) -> np.ndarray:
        out = []
        for start in range(0, len(X), FORWARD_BATCH):
            out.append(np.asarray(self.model_(np.asarray(X[start : start + FORWARD_BATCH]), training=training)))
        return np.concatenate(out) if out else np.zeros((0, self.n_classes), "float32")

    def predict(self, X) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)

    @classmethod
    def from_keras(cls, model) -> "Head":
        head = cls(n_classes=int(model.output_shape[-1]))
        head.model_ = model
        head.classes_ = np.arange(head.n_classes)
        return head
