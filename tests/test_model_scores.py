"""A model's scores for the workspace's frames are computed once per version and frame, and kept."""

import numpy as np
import pytest

from data.frames import unlabeled_frames
from data.importer import import_folder
from data.workspace import Workspace
from tests.media import image_folder
from tests.test_features import CountingBackbone
from trainer.model_scores import ModelScores


class CountingHead:
    def __init__(self):
        self.scored = 0

    def predict_proba(self, X):
        self.scored += len(X)
        p = np.asarray(X).mean(axis=1, keepdims=True) / 255
        return np.hstack([1 - p, p]).astype("float32")


class FakeModel:
    classes = ("no target", "Trump")

    def __init__(self, version):
        self.version, self.head = version, CountingHead()


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.delenv("LOOKOUT_FEATURE_CACHE", raising=False)
    ws = Workspace.open(tmp_path / "ws")
    import_folder(ws, image_folder(tmp_path / "in", range(6)))
    return ws


@pytest.mark.parametrize("damage", [None, b"", b"not an npz file"])
def test_frames_are_scored_once_per_version_even_across_processes(ws, tmp_path, damage):
    backbone, model = CountingBackbone(), FakeModel("v1")
    first, rows = ModelScores(ws, model, backbone).probabilities(unlabeled_frames(ws.db))
    assert model.head.scored == 6 and len(rows) == 6

    import_folder(ws, image_folder(tmp_path / "more", [6]))  # one new frame
    if damage is not None:  # a store cut short or overwritten is scored again, never an error
        next((ws.root / "index" / "scores").glob("v1.npz")).write_bytes(damage)
    later = FakeModel("v1")  # the same version loaded again, as a new process would
    again, rows_again = ModelScores(ws, later, backbone).probabilities(unlabeled_frames(ws.db))
    assert later.head.scored == (1 if damage is None else 7)
    by_id = {r["id"]: p for r, p in zip(rows_again, again)}
    assert all(np.allclose(by_id[r["id"]], p) for r, p in zip(rows, first))

    other = FakeModel("v2")  # another version has its own scores
    ModelScores(ws, other, backbone).probabilities(unlabeled_frames(ws.db))
    assert other.head.scored == 7


def test_frames_without_cached_features_are_left_out_when_not_computing(ws):
    backbone, model = CountingBackbone(), FakeModel("v1")
    probs, rows = ModelScores(ws, model, backbone).probabilities(unlabeled_frames(ws.db), compute=False)
    assert len(probs) == len(rows) == 0 and backbone.embedded == 0


def test_training_scores_every_frame_with_features_so_review_after_it_starts_warm(ws, tmp_path):
    from trainer.features import FeatureCache
    from trainer.registry import load_model
    from trainer.testset import original_request
    from trainer.train import train_model

    labeled = image_folder(tmp_path / "labeled", range(10, 50), "".join(f"frame{i}.jpg,{i % 2}\n" for i in range(10, 50)))
    import_folder(ws, labeled)
    backbone = CountingBackbone()
    cache = FeatureCache(ws.feature_cache_dir, backbone)
    cache.ensure([original_request(ws, r) for r in unlabeled_frames(ws.db)[:4]])  # 4 of the 6 unlabeled frames

    version = train_model(ws, backbone=backbone, epochs=2, augment_copies=0).version
    model = load_model(ws, version)
    stored = ModelScores(ws, model, backbone)  # read from disk, as the review queue would
    assert len(stored.position) == 40 + 4  # every frame with features; the other 2 wait for the queue
    probs, rows = stored.probabilities(unlabeled_frames(ws.db), compute=False)
    assert len(rows) == 4 and backbone.embedded == 4 + 40  # nothing computed again
    features, _, _ = cache.load([original_request(ws, r) for r in rows], compute=False)
    np.testing.assert_allclose(probs, model.head.predict_proba(features), atol=1e-5)


def _model_scores(ws, backbone, rows, progress):
    ModelScores(ws, FakeModel("v1"), backbone).probabilities(rows, progress=progress)


def _compact_features(ws, backbone, rows, progress):
    from labeler.frame_features import compact_features
    compact_features(ws, backbone, rows, progress=progress)


@pytest.mark.parametrize("work", [_model_scores, _compact_features])  # Review's ranking: model scores, label check
def test_the_count_moves_while_frames_never_seen_are_computed(ws, work):
    """Review's ranking sat at '0/21' for 24 s: a batch of new frames counted only when all were done."""
    seen = []
    work(ws, CountingBackbone(), unlabeled_frames(ws.db), lambda stage, done, total: seen.append((done, total)))
    counts = [done for done, _ in seen]
    assert any(0 < done < 6 for done in counts) and counts == sorted(counts) and seen[-1] == (6, 6)
