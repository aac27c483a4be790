"""Queue strategies: arrays in, indices out (no Keras needed)."""

import numpy as np
import pytest

from labeler.strategies import (
    confident_positive_sampling,
    label_issue_sampling,
    random_sampling,
    uncertainty_sampling,
)

PROBS = np.array([[0.95, 0.05], [0.5, 0.5], [0.1, 0.9], [0.6, 0.4], [0.3, 0.7]])
X = np.arange(5)[:, None]


@pytest.mark.parametrize("measure", ["margin", "entropy"])
def test_uncertainty_ranks_the_coin_tosses_first(measure):
    assert list(uncertainty_sampling(X, probs=PROBS, n=3, measure=measure, spread=False)) == [1, 3, 4]


def test_uncertain_picks_come_from_different_scenes():
    """Three near-identical coin tosses and one from another scene: a batch of two takes one of each."""
    features = np.array([[0.0, 0.0], [0.0, 0.01], [0.01, 0.0], [5.0, 5.0], [9.0, 9.0], [9.0, 9.1]])
    probs = np.array([[0.5, 0.5], [0.51, 0.49], [0.52, 0.48], [0.6, 0.4], [0.99, 0.01], [0.98, 0.02]])
    assert list(uncertainty_sampling(features, probs=probs, n=2, spread=False)) == [0, 1]
    assert list(uncertainty_sampling(features, probs=probs, n=2)) == [0, 3]


def test_frames_the_model_disagrees_with_itself_on_come_before_plain_coin_tosses():
    """Row 0: every draw says 0.5 (ambiguous however much is labeled); row 1: draws split 0.1 / 0.9."""
    draws = np.array([[[0.5, 0.5], [0.9, 0.1], [0.95, 0.05]], [[0.5, 0.5], [0.1, 0.9], [0.95, 0.05]]] * 5)
    assert list(uncertainty_sampling(X[:3], samples=draws, n=2, spread=False)) == [1, 0]
    assert list(uncertainty_sampling(X[:3], samples=draws, n=2, measure="margin", spread=False)) == [0, 1]


def test_a_model_whose_draws_all_agree_is_ranked_by_margin():
    assert list(uncertainty_sampling(X, samples=np.stack([PROBS] * 4), n=3, spread=False)) == [1, 3, 4]


def test_uncertainty_refuses_an_unknown_measure():
    with pytest.raises(ValueError, match="measure must be"):
        uncertainty_sampling(X, probs=PROBS, measure="vibes")


def test_confident_positives_are_ranked_for_confirmation():
    assert list(confident_positive_sampling(PROBS, n=2)) == [2, 4]


def test_random_audit_is_uniform_and_reproducible():
    picks = random_sampling(1000, n=500, seed=1)
    assert len(set(picks)) == 500 and list(picks) == list(random_sampling(1000, n=500, seed=1))
    assert 200 < (picks < 500).sum() < 300


def test_cold_start_picks_one_frame_per_cluster():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 10], [-10, 10]])
    X3 = np.concatenate([c + rng.normal(0, 0.5, (30, 2)) for c in centres])
    picks = uncertainty_sampling(X3, n=3)  # no model yet: representative frames
    assert sorted(int(i) // 30 for i in picks) == [0, 1, 2]


def test_label_issues_find_a_deliberately_flipped_label(monkeypatch):
    """...without forking: a fork of the app's threaded process hung the Review page for good."""
    import cleanlab.filter

    def no_fork(*args, **kwargs):
        raise AssertionError("the label check forked a process pool")

    monkeypatch.setattr(cleanlab.filter.multiprocessing, "Pool", no_fork)
    monkeypatch.setattr(cleanlab.filter, "psutil_exists", False)
    monkeypatch.setattr(cleanlab.filter.multiprocessing, "cpu_count", lambda: 4)  # as on a 4-core laptop
    rng = np.random.default_rng(0)
    labels = np.array([0] * 50 + [1] * 50)
    confidence = rng.uniform(0.55, 0.99, 100)  # out-of-fold predictions of a decent model
    confidence[17] = 0.97
    pred_probs = np.where(labels[:, None] == np.arange(2), confidence[:, None], 1 - confidence[:, None])
    flipped = labels.copy()
    flipped[17] = 1
    assert list(label_issue_sampling(pred_probs, flipped, n=5)) == [17]


def test_identical_frames_fill_one_place_in_a_batch():
    """With the face backbone every faceless frame has the same features and the same score."""
    faceless = np.zeros((5, 3))
    faces = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    features = np.vstack([faceless, faces])
    probs = np.array([[0.5, 0.5]] * 5 + [[0.6, 0.4], [0.7, 0.3], [0.8, 0.2]])
    picks = uncertainty_sampling(features, probs=probs, n=3)
    assert len(set(picks)) == 3 and sum(p < 5 for p in picks) == 1
    assert sum(p < 5 for p in uncertainty_sampling(features, probs=probs, n=3, spread=False)) == 3


def face_frame(*people):
    """Face-backbone features of a frame showing these 128-d faces, in the order the detector found them."""
    frame = np.zeros((4, 129), "float32")
    for slot, face in enumerate(people):
        frame[slot, :128], frame[slot, 128] = face, 1.0
    return frame


def test_the_same_people_found_in_another_order_are_one_scene():
    """Two coin tosses show the same two politicians (the detector lists faces biggest first, so their
    order flips as the camera moves) and one shows the first of them alone: a batch of two covers both scenes."""
    a, b = np.eye(128, dtype="float32")[:2]
    features = np.stack([face_frame(a, b), face_frame(b, a), face_frame(a)])
    probs = np.array([[0.5, 0.5], [0.51, 0.49], [0.6, 0.4]])
    assert list(uncertainty_sampling(features, probs=probs, n=2)) == [0, 2]


def test_a_batch_takes_few_frames_from_one_long_near_identical_run():
    """A 60-second clip of one scene scored a little more uncertain than everything else must not fill the page."""
    rng = np.random.default_rng(0)
    run = rng.normal(0, 1, 64) + rng.normal(0, 0.01, (120, 64))  # one scene, 120 near-identical frames
    others = rng.normal(0, 1, (200, 64))  # 200 frames of different scenes
    features = np.vstack([run, others]).astype("float32")
    probs = np.vstack([np.tile([0.5, 0.5], (120, 1)), np.column_stack([1 - (p := rng.uniform(0.2, 0.45, 200)), p])])
    batch = uncertainty_sampling(features, probs=probs, n=20)
    assert len(set(batch)) == 20 and sum(i < 120 for i in batch) <= 2
    assert sum(i < 120 for i in uncertainty_sampling(features, probs=probs, n=20, spread=False)) == 20
