"""Does the uncertainty queue beat labeling at random? A simulation on the shared dataset.

Face backbone (offline). Start from 20 labels, add 20 per round chosen (a) by the
uncertainty strategy (disagreement among the head's dropout draws) and (b) at
random, retrain the head each round, and measure F1 for Trump on a fixed
leakage-aware held-out split. Reports how many labels each
needs to reach 95% of the F1 that all labels give (the mean over the runs' last
round, which labels the whole pool) and their ratio (target <= 0.6),
the same for staying at or above that F1 from then on, and saves the learning
curves as bench/out/active_learning.png.
Run: python -m bench.active_learning   (set LOOKOUT_FEATURE_CACHE to reuse features)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np
from sklearn.metrics import f1_score

from bench.common import OUT, require_dataset
from data.config import ProjectConfig
from data.importer import import_folder
from data.workspace import Workspace
from labeler.scores import frame_features
from labeler.strategies import random_sampling, uncertainty_sampling
from trainer.backbones import FaceBackbone
from trainer.head import Head
from trainer.split import FrameFacts, choose_test_groups, leakage_groups

START, STEP = 20, 20
SEEDS = range(10)  # one run's curve is noisy (F1 moves by 0.05 between rounds); the ratio is read off the mean


def fit(X, y):
    return Head(n_classes=2, epochs=100, seed=0).fit(X, y)


def run(X_pool, y_pool, X_test, y_test, choose, seed=0) -> list[tuple[int, float]]:
    rng = np.random.default_rng(seed)
    labeled = list(rng.choice(np.flatnonzero(y_pool == 1), 2, replace=False)) + list(
        rng.choice(np.flatnonzero(y_pool == 0), START - 2, replace=False))
    curve = []
    while True:
        model = fit(X_pool[labeled], y_pool[labeled])
        curve.append((len(labeled), f1_score(y_test, model.predict(X_test))))
        rest = np.setdiff1d(np.arange(len(X_pool)), labeled)
        if len(rest) == 0:
            return curve
        picks = choose(model, X_pool[rest], min(STEP, len(rest)), len(labeled))
        labeled += list(rest[picks])


def labels_to_reach(curve, goal) -> int:
    return next((n for n, f1 in curve if f1 >= goal), curve[-1][0])


def labels_to_stay(curve, goal) -> int:
    """Labels after which F1 never falls below the goal again: one lucky round does not count."""
    for i, (n, _) in enumerate(curve):
        if all(f1 >= goal for _, f1 in curve[i:]):
            return n
    return curve[-1][0]


def plot(curves: dict, goal: float, path: Path) -> None:
    w, h, pad = 800, 500, 60
    image = np.full((h, w, 3), 255, np.uint8)
    most = max(n for c in curves.values() for n, _ in c)
    to_xy = lambda n, f: (int(pad + (w - 2 * pad) * n / most), int(h - pad - (h - 2 * pad) * f))  # noqa: E731
    cv2.line(image, to_xy(0, goal), to_xy(most, goal), (160, 160, 160), 1)
    for i, ((name, curve), colour) in enumerate(zip(curves.items(), [(200, 80, 0), (0, 0, 200)])):
        points = np.array([to_xy(n, f) for n, f in curve], np.int32)
        cv2.polylines(image, [points], False, colour, 2)
        cv2.putText(image, name, (pad + 10, h - pad - 40 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2)
    cv2.rectangle(image, (pad, pad), (w - pad, h - pad), (0, 0, 0), 1)
    cv2.putText(image, "F1 (Trump) vs labels; grey: 95% of all-label F1", (pad, 35), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
    cv2.putText(image, f"0 .. {most} labels", (w // 2 - 60, h - 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)


def main() -> None:
    dataset = require_dataset()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "ws", config=ProjectConfig(classes=("no target", "Trump"), backbone="face"))
        import_folder(ws, dataset / "Data_deeplearning")
        rows = ws.db.execute("SELECT * FROM frames WHERE label IS NOT NULL ORDER BY id").fetchall()
        X, rows = frame_features(ws, FaceBackbone(), rows)
    y = np.array([r["label"] for r in rows])
    facts = [FrameFacts(r["file_name"], r["video_id"], r["phash"]) for r in rows]
    is_test = choose_test_groups(facts, y, leakage_groups(facts))
    pool, test = np.flatnonzero(~is_test), np.flatnonzero(is_test)
    X_pool, y_pool, X_test, y_test = X[pool], y[pool], X[test], y[test]
    choosers = {
        "uncertainty": lambda m, Xr, n, k: uncertainty_sampling(m, Xr, n=n),
        "random": lambda m, Xr, n, k: random_sampling(m, Xr, n=n, seed=k),
    }
    curves, all_label_f1 = {}, []
    for name, choose in choosers.items():
        runs = [run(X_pool, y_pool, X_test, y_test, choose, seed=seed) for seed in SEEDS]
        curves[name] = [(n, float(np.mean([r[i][1] for r in runs]))) for i, (n, _) in enumerate(runs[0])]
        all_label_f1 += [r[-1][1] for r in runs]
    # Every run ends with all pool labels; their mean is the reference, measured like the curves it is
    # compared with (one fit alone moves by 0.01, as much as a curve does between rounds).
    full = float(np.mean(all_label_f1))
    goal = 0.95 * full
    needed = {name: labels_to_reach(curve, goal) for name, curve in curves.items()}
    print(f"all {len(pool)} pool labels: F1 {full:.3f} (mean of {len(all_label_f1)} fits); goal (95%): {goal:.3f}; "
          f"held out: {len(test)} frames")
    for name, curve in curves.items():
        points = " ".join(f"{n}:{f:.2f}" for n, f in curve)
        print(f"{name:<12} (mean of {len(SEEDS)} starts) reaches the goal at {needed[name]} labels; curve: {points}")
    print(f"uncertainty needs {needed['uncertainty'] / needed['random']:.2f} of random's labels to reach the goal "
          f"(target <= 0.6; no strategy can need fewer than {START + STEP} here, the first round after the "
          f"shared start, so the best ratio possible is {(START + STEP) / needed['random']:.2f})")
    kept = {name: labels_to_stay(curve, goal) for name, curve in curves.items()}
    print(f"to stay at or above it: uncertainty {kept['uncertainty']}, random {kept['random']} labels, "
          f"ratio {kept['uncertainty'] / kept['random']:.2f}")
    plot(curves, goal, OUT / "active_learning.png")
    print(f"learning curves: {OUT / 'active_learning.png'}")


if __name__ == "__main__":
    main()
