"""What to label next: small functions over arrays.

Each `*_sampling(...)` takes features and the model's probabilities (or its dropout draws) and
returns the indices of the n rows most worth a person's look, best first; with no probabilities
yet, uncertainty falls back to representative sampling. Array maths lives in the private helpers.
"""

from __future__ import annotations

import numpy as np

from trainer.backbones import face_descriptions, is_face_features


def _margin(probs: np.ndarray) -> np.ndarray:
    """1 - (top probability - second): 1 is a coin toss, 0 is certain."""
    top2 = np.sort(probs, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def _entropy(probs: np.ndarray) -> np.ndarray:
    p = np.clip(probs, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1) / np.log(probs.shape[1])


def _frame_vectors(X) -> np.ndarray:
    """One vector a frame for measuring how alike frames are.

    Face features are slots of faces, biggest first: the same two people in a
    different order would look unalike flattened, so a frame is the mean of the
    faces it shows (all zeros when it shows none).
    """
    X = np.asarray(X, dtype="float32")
    if is_face_features(X.shape[1:]):
        present = X[..., -1:]
        return (face_descriptions(X) * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1.0)
    return X.reshape(len(X), -1)


def _disagreement(samples: np.ndarray) -> np.ndarray:
    """Mutual information between a row's label and the model's draws (BALD): high where the draws
    disagree with each other, not where each draw is merely unsure."""
    return _entropy(samples.mean(axis=0)) - np.mean([_entropy(s) for s in samples], axis=0)


def uncertainty_sampling(
    X, *, probs: np.ndarray | None = None, samples: np.ndarray | None = None, n: int = 20,
    measure: str = "disagreement", spread: bool = True,
) -> np.ndarray:
    """Rows the model is least sure about. measure: "disagreement", "margin" or "entropy".

    X: the rows' features (to spread the picks); probs: the model's probabilities for them;
    samples: its dropout draws, (draws, rows, classes). disagreement, among the draws, asks for
    what the model has not seen yet, where margin and entropy also pick frames that are ambiguous
    however many are labeled. Without draws, or when they all agree, rows are ranked by margin.
    With neither probabilities nor draws (no model yet): representative rows.
    spread: picks unlike each other, so a batch is not one scene (see _spread).
    """
    if measure not in ("disagreement", "margin", "entropy"):
        raise ValueError(f"measure must be 'disagreement', 'margin' or 'entropy', not {measure!r}")
    if probs is None and samples is None:
        return representative_sampling(X, n=n)
    if measure == "disagreement" and samples is not None and np.ptp(samples, axis=0).max(initial=0) > 1e-6:
        score = _disagreement(np.asarray(samples))
    else:
        probs = np.asarray(np.mean(samples, axis=0) if probs is None else probs)
        score = _entropy(probs) if measure == "entropy" else _margin(probs)
    order = np.argsort(-score, kind="stable")
    return _spread(order, X, n, score) if spread else order[:n]


def _spread(order: np.ndarray, X, n: int, score: np.ndarray, candidates: int = 10) -> np.ndarray:
    """n rows that are uncertain and unlike each other, best first (batch-mode active learning).

    Twenty uncertain frames of one scene teach the model what one of them does, and a 60-second
    clip of one scene can be the 60 most uncertain frames of all. So the batch is picked greedily:
    each next row maximises its uncertainty times how far it is from the rows already picked
    (capped at the candidates' mean distance apart, beyond which a row counts as a new scene).
    Identical rows count once: with the face backbone every frame without a face has the same features.
    """
    from sklearn.metrics import euclidean_distances  # see representative_sampling

    flat = _frame_vectors(X)
    _, first = np.unique(flat[order], axis=0, return_index=True)
    top = order[np.sort(first)][: max(n * candidates, 200)]  # distinct rows, most uncertain first
    if len(top) <= n:
        return np.concatenate([top, order[~np.isin(order, top)]])[:n]
    vectors, weight = flat[top], np.maximum(score[top], 1e-9)
    apart = euclidean_distances(vectors)  # not by broadcasting: vgg16 rows have 25,088 numbers
    scale = max(float(apart.mean()), 1e-12)
    picked = [0]
    nearest = apart[0].copy()
    while len(picked) < n:
        gain = weight * np.minimum(1.0, nearest / scale)
        gain[picked] = -1.0
        best = int(gain.argmax())
        picked.append(best)
        nearest = np.minimum(nearest, apart[best])
    return top[picked]


def confident_positive_sampling(probs: np.ndarray, *, n: int = 20) -> np.ndarray:
    """Rows most confidently called a target: check them before they trigger alerts."""
    score = np.asarray(probs)[:, 1:].max(axis=1)
    return np.argsort(-score, kind="stable")[:n]


def random_sampling(rows: int, *, n: int = 20, seed: int = 0) -> np.ndarray:
    """A uniform sample of `rows` rows: unbiased, so precision and recall can be estimated from it."""
    return np.random.default_rng(seed).permutation(rows)[:n]


def representative_sampling(X, *, n: int = 20, seed: int = 0) -> np.ndarray:
    """Cold start: the row nearest each of n cluster centres of the features."""
    # scikit-learn is imported here, not at the top: the Review page imports this module and opens 0.8 s sooner without it
    from sklearn.cluster import KMeans

    flat = _frame_vectors(X)
    if len(flat) <= n:
        return np.arange(len(flat))
    distances = KMeans(n_clusters=n, n_init=3, random_state=seed).fit(flat).transform(flat).T  # (n, rows)
    chosen: list[int] = []
    for row in distances:  # nearest unused row to each centre
        for index in np.argsort(row):
            if index not in chosen:
                chosen.append(int(index))
                break
    return np.array(chosen)


def label_issue_sampling(pred_probs: np.ndarray, labels: np.ndarray, *, n: int = 20) -> np.ndarray:
    """Labeled rows whose label disagrees with out-of-fold predictions (cleanlab), most suspicious first."""
    from cleanlab.filter import find_label_issues

    # n_jobs=1: cleanlab would fork a multiprocessing pool, and forking the app's process (TensorFlow's
    # threads, the face workers' queues) can leave the child waiting on a lock forever; it hung the Review page.
    return find_label_issues(
        labels=np.asarray(labels), pred_probs=np.asarray(pred_probs), return_indices_ranked_by="self_confidence",
        n_jobs=1,
    )[:n]
