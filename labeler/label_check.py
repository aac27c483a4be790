"""Which labels may be wrong: each labeled frame scored by a small head that never saw it."""

from __future__ import annotations

import numpy as np

from trainer.split import FrameFacts, leakage_groups

CHECK_STEPS = 300  # gradient steps per fold of the label check, however many frames are labeled
CHECK_LAYERS = (128,)


def out_of_fold_probabilities(
    X: np.ndarray, labels: np.ndarray, rows: list, *, n_classes: int, folds: int = 4, progress=None
) -> np.ndarray:
    """Each labeled frame scored by a head that never saw it (nor its near-copies).

    The heads are small (one layer of 128 over compact features) and get a fixed number of
    steps, so the check costs about as much for 100,000 labeled frames as for 500.
    """
    # Keras and scikit-learn load when the check runs, not when a page imports the queue
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedGroupKFold

    from trainer.head import Head

    groups = leakage_groups([FrameFacts(r["file_name"], r["video_id"], r["phash"]) for r in rows])
    probs = np.zeros((len(X), n_classes), "float32")
    steps = min(30 * int(np.ceil(len(X) / 128)), CHECK_STEPS)  # 30 passes over a few hundred frames
    template = Head(n_classes=n_classes, hidden=CHECK_LAYERS, steps=steps)
    splitter = StratifiedGroupKFold(n_splits=min(folds, len(set(groups))), shuffle=True, random_state=0)
    splits = list(splitter.split(X, labels, groups))
    for done, (train, test) in enumerate(splits):
        if progress:
            progress("checking labels for mistakes", done, len(splits))
        probs[test] = clone(template).fit(X[train], labels[train]).predict_proba(X[test])
    return probs
