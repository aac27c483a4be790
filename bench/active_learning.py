"""Does the review queue find a rare target faster than labeling at random? A simulation on the shared dataset.

A newsroom's target is in few frames. From the training side of the shared dataset's labeled
frames (face backbone), a pool is drawn where Trump is 5% of frames: every no-target frame plus
a random share of Trump frames, redrawn for each start. Each start labels 1 Trump frame and 9
others (the journalist brings one example), then adds 10 labels a round up to 200, chosen by
(a) the queue's uncertainty strategy (disagreement among the head's dropout draws, one pick per
cluster of look-alike frames) and (b) at random; the head is retrained every round and scored
on the held-out split at its natural rate. The goal is 95% of the F1 with the whole pool labeled.
Printed: labels each needs to reach and to stay at the goal (mean curve of the starts), and the
ratio (target <= 0.5 to stay); then the same on the whole (balanced) pool for comparison.
The curves are saved as bench/out/active_learning.png.

Run: python -m bench.active_learning [STARTS]   (default 10; set LOOKOUT_FEATURE_CACHE to reuse features)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from bench.common import OUT, require_dataset
from data.config import ProjectConfig
from data.importer import import_folder
from data.workspace import Workspace
from labeler.frame_features import frame_features
from labeler.strategies import random_sampling, uncertainty_sampling
from trainer.backbones import FaceBackbone
from trainer.head import Head
from trainer.split import FrameFacts, choose_test_groups, leakage_groups

START, STEP, LAST = 10, 10, 200
TARGET_SHARE = 0.05
STEPS = 300  # gradient steps per fit: 800 fits make this bench; at 1,000 it would take hours (see bench/retrain.py)
CHOOSERS = {
    "uncertainty + diversity": lambda model, X, n, seed: uncertainty_sampling(
        X, probs=model.predict_proba(X), samples=model.sample_proba(X), n=n),
    "random": lambda model, X, n, seed: random_sampling(len(X), n=n, seed=seed),
}


def rare_pool(y: np.ndarray, rng) -> np.ndarray:
    """Every no-target frame and enough random target frames to make them TARGET_SHARE of the pool."""
    negatives, positives = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    wanted = max(2, round(TARGET_SHARE * len(negatives) / (1 - TARGET_SHARE)))
    return np.sort(np.concatenate([negatives, rng.choice(positives, wanted, replace=False)]))


def learning_curve(X, y, X_test, y_test, choose, seed: int) -> list[tuple[int, float]]:
    rng = np.random.default_rng(seed)
    labeled = [int(rng.choice(np.flatnonzero(y == 1)))] + list(rng.choice(np.flatnonzero(y == 0), START - 1, replace=False))
    curve = []
    while True:
        model = Head(n_classes=2, steps=STEPS, seed=0).fit(X[labeled], y[labeled])
        curve.append((len(labeled), f1_score(y_test, model.predict_proba(X_test).argmax(axis=1), zero_division=0)))
        rest = np.setdiff1d(np.arange(len(X)), labeled)
        if len(labeled) >= LAST or not len(rest):
            return curve
        labeled += [int(i) for i in rest[choose(model, X[rest], min(STEP, len(rest)), seed)]]


def all_label_f1(X, y, X_test, y_test) -> float:
    model = Head(n_classes=2, steps=STEPS, seed=0).fit(X, y)
    return f1_score(y_test, model.predict_proba(X_test).argmax(axis=1))


def labels_to_reach(curve, goal) -> int | None:
    return next((n for n, f1 in curve if f1 >= goal), None)


def labels_to_stay(curve, goal) -> int | None:
    """Labels after which F1 never falls below the goal again: one lucky round does not count."""
    return next((n for i, (n, _) in enumerate(curve) if all(f1 >= goal for _, f1 in curve[i:])), None)


def compare(name: str, pools: list[np.ndarray], X, y, X_test, y_test) -> dict[str, list[tuple[int, float]]]:
    """Mean curve per strategy over the pools (one start each), and what each needs to reach the goal."""
    full = float(np.mean([all_label_f1(X[p], y[p], X_test, y_test) for p in pools]))
    goal = 0.95 * full
    print(f"\n{name}: {len(pools)} starts; pool of {len(pools[0])} frames, {int(y[pools[0]].sum())} Trump; "
          f"all-pool F1 {full:.3f}; goal (95%) {goal:.3f}")
    curves, stay = {}, {}
    for strategy, choose in CHOOSERS.items():
        runs = [learning_curve(X[p], y[p], X_test, y_test, choose, seed) for seed, p in enumerate(pools)]
        curves[strategy] = [(n, float(np.mean([r[i][1] for r in runs]))) for i, (n, _) in enumerate(runs[0])]
        reach, stay[strategy] = labels_to_reach(curves[strategy], goal), labels_to_stay(curves[strategy], goal)
        print(f"  {strategy:<24} reaches the goal at {reach or f'>{LAST}'} labels, stays from {stay[strategy] or f'>{LAST}'}; "
              "curve: " + " ".join(f"{n}:{f:.2f}" for n, f in curves[strategy]))
    ours, theirs = stay["uncertainty + diversity"], stay["random"]
    if ours and theirs:
        print(f"  labels to stay at the goal, strategy / random: {ours / theirs:.2f} (target <= 0.5)")
    else:
        print(f"  labels to stay at the goal: strategy {ours or f'>{LAST}'}, random {theirs or f'>{LAST}'} "
              f"(ratio {'<=' if ours else '>='} {(ours or LAST) / (theirs or LAST):.2f})")
    return {f"{strategy} ({name})": curve for strategy, curve in curves.items()} | {f"goal ({name})": [(0, goal), (LAST, goal)]}


def plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5))
    for name, curve in curves.items():
        n, f1 = zip(*curve)
        axes.plot(n, f1, linestyle=":" if name.startswith("goal") else "-", label=name)
    axes.set(xlabel="labels", ylabel="F1 (Trump), held-out frames", title="Labels needed: uncertainty + diversity vs random")
    axes.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")


def main() -> None:
    starts = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    dataset = require_dataset()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "ws", config=ProjectConfig(classes=("no target", "Trump"), backbone="face"))
        import_folder(ws, dataset / "Data_deeplearning")
        rows = ws.db.execute("SELECT * FROM frames WHERE label IS NOT NULL ORDER BY id").fetchall()
        X, rows = frame_features(ws, FaceBackbone(), rows)
    y = np.array([r["label"] for r in rows])
    facts = [FrameFacts(r["file_name"], r["video_id"], r["phash"]) for r in rows]
    is_test = choose_test_groups(facts, y, leakage_groups(facts))
    X_train, y_train, X_test, y_test = X[~is_test], y[~is_test], X[is_test], y[is_test]
    print(f"held out: {is_test.sum()} frames, {y_test.sum()} Trump; training side: {len(y_train)} frames, {y_train.sum()} Trump")
    rng = np.random.default_rng(0)
    curves = compare("rare target, 5%", [rare_pool(y_train, rng) for _ in range(starts)], X_train, y_train, X_test, y_test)
    curves |= compare("whole pool", [np.arange(len(y_train))] * max(2, starts // 2), X_train, y_train, X_test, y_test)
    plot(curves, OUT / "active_learning.png")
    print(f"\nlearning curves: {OUT / 'active_learning.png'}")


if __name__ == "__main__":
    main()
