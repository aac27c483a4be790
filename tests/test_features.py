import time

import numpy as np
import pytest

from tests.media import pattern
from trainer.augment import Augmenter
from trainer.backbones import Backbone
from trainer.features import ORIGINAL, FeatureCache, FeatureRequest
from trainer.progress import Cancelled


class CountingBackbone(Backbone):
    name = "mean"
    identity = "mean-v1"
    feature_shape = (3,)
    batch_size = 4

    def __init__(self):
        self.embedded = 0

    def embed(self, images):
        self.embedded += len(images)
        return np.stack([im.reshape(-1, 3).mean(axis=0) for im in images]).astype("float32")


def requests(n):
    return [FeatureRequest(f"{i:064x}", ORIGINAL, lambda i=i: pattern(i)) for i in range(n)]


def test_features_are_computed_once_and_only_what_is_missing(tmp_path):
    backbone = CountingBackbone()
    cache = FeatureCache(tmp_path, backbone)
    assert cache.ensure(requests(6)) == (6, {})
    assert cache.ensure(requests(9)) == (3, {})
    assert backbone.embedded == 9
    assert np.allclose(cache.get(f"{2:064x}"), pattern(2).reshape(-1, 3).mean(axis=0), rtol=1e-3)  # float16 on disk


def entry(array: np.ndarray) -> bytes:
    """A cache entry as put() frames one (.npy body, magic, CRC32), of any array."""
    import io
    import struct
    import zlib

    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue() + struct.pack("<4sI", b"LKF1", zlib.crc32(buf.getvalue()))


def test_float32_entries_of_earlier_versions_are_still_read(tmp_path):
    cache = FeatureCache(tmp_path, CountingBackbone())
    path = cache.path("a" * 64, ORIGINAL)
    path.parent.mkdir(parents=True)
    path.write_bytes(entry(np.array([1.0, 2.5, 1e-5], "float32")))
    assert cache.get("a" * 64).tolist() == [1.0, 2.5, np.float32(1e-5)]
    assert cache.ensure([FeatureRequest("a" * 64, ORIGINAL, lambda: pattern(0))]) == (0, {})
    features, kept, _ = cache.load(requests(2) + [FeatureRequest("a" * 64, ORIGINAL, lambda: pattern(0))])
    assert len(kept) == 3 and features[2].tolist() == [1.0, 2.5, np.float32(1e-5)]


def flip_a_bit(blob: bytes) -> bytes:
    flipped = bytearray(blob)
    flipped[-20] ^= 0xFF  # inside the numbers
    return bytes(flipped)


@pytest.mark.parametrize("damage", [
    flip_a_bit,
    lambda blob: blob[:50],  # truncated
    lambda blob: b"garbage",
    lambda blob: b"",
    lambda blob: entry(np.zeros(4, "float16")),  # a sound entry of another shape
    lambda blob: entry(np.zeros(3, "int16")),  # ... of another type, as many bytes
    lambda blob: entry(np.zeros((1, 3), "float16")),  # ... the same numbers, another shape
])
def test_damaged_entries_are_recomputed_never_used(tmp_path, damage):
    backbone = CountingBackbone()
    cache = FeatureCache(tmp_path, backbone)
    cache.ensure(requests(3))
    expected, _, _ = cache.load(requests(3))
    damaged = cache.path(requests(3)[1].sha256, ORIGINAL)
    damaged.write_bytes(damage(damaged.read_bytes()))
    assert cache.get(requests(3)[1].sha256) is None
    features, kept, _ = cache.load(requests(3), compute=False)  # left out, the others kept in order
    assert [r.sha256 for r in kept] == [requests(3)[i].sha256 for i in (0, 2)]
    np.testing.assert_array_equal(features, expected[[0, 2]])
    features, kept, _ = cache.load(requests(3))
    assert len(kept) == 3 and backbone.embedded == 4
    np.testing.assert_array_equal(features, expected)


def test_another_backbone_identity_never_sees_old_features(tmp_path):
    old = CountingBackbone()
    FeatureCache(tmp_path, old).ensure(requests(2))
    new = CountingBackbone()
    new.identity = "mean-v2"
    assert FeatureCache(tmp_path, new).get(requests(1)[0].sha256) is None


def test_unreadable_images_are_reported_not_fatal(tmp_path):
    from data.errors import LookoutError

    def broken():
        raise LookoutError("frame9.jpg is truncated")

    cache = FeatureCache(tmp_path, CountingBackbone())
    computed, failed = cache.ensure(requests(2) + [FeatureRequest("f" * 64, ORIGINAL, broken)])
    assert computed == 2 and failed == {"f" * 64: "frame9.jpg is truncated"}


class SlowBackbone(CountingBackbone):
    """A backbone on a busy machine: each frame takes `seconds`."""

    batch_size = 16

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def embed(self, images):
        time.sleep(self.seconds * len(images))
        return super().embed(images)


@pytest.mark.parametrize("seconds, most_between_reports", [(0.4, 3), (0.001, 16)], ids=["slow frames", "fast frames"])
def test_the_features_bar_moves_every_few_seconds_however_slow_a_frame_is(tmp_path, seconds, most_between_reports):
    """Batches of 16 frames froze the bar for 10-28 s on a busy machine. Now the first frame reports at once and
    each batch is sized to report within REPORT_EVERY_S (1.5 s: 3 frames of 0.4 s); fast frames keep full batches."""
    done = [0]
    FeatureCache(tmp_path, SlowBackbone(seconds)).ensure(requests(40), progress=lambda stage, n, total: done.append(n))
    steps = np.diff(done)
    assert done[-1] == 40 and steps[0] == 1 and steps.max() == most_between_reports


def test_cancel_stops_feature_work(tmp_path):
    with pytest.raises(Cancelled):
        FeatureCache(tmp_path, CountingBackbone()).ensure(requests(8), should_stop=lambda: True)


def test_augmented_copies_are_deterministic_whatever_the_order():
    augment = Augmenter(seed=0)
    image = pattern(4, (96, 128))
    a = augment(image, sha256="abc", copy=1)
    augment(image, sha256="other", copy=1)
    assert np.array_equal(a, augment(image, sha256="abc", copy=1))
    assert np.array_equal(a, Augmenter(seed=0)(image, sha256="abc", copy=1))
    assert not np.array_equal(a, augment(image, sha256="abc", copy=2))
    assert not np.array_equal(a, Augmenter(seed=1)(image, sha256="abc", copy=1))
    assert a.shape == image.shape and a.dtype == np.uint8


def test_copies_as_tiktok_shows_a_frame_are_deterministic_and_name_their_host():
    from trainer.tiktok_edits import FormatAugmenter

    hosts = [(f"{i:064x}", lambda i=i: pattern(10 + i, (128, 96))) for i in range(5)]
    augment = FormatAugmenter(hosts, seed=0)
    image = pattern(4, (128, 96))
    copies = {copy: augment(image, sha256=hosts[0][0], copy=copy) for copy in range(1, 21)}
    insets = [c for c in copies if augment.plan(hosts[0][0], c)["host"]]
    assert 4 <= len(insets) <= 16  # about half the copies are a small window in another frame
    assert all(augment.plan(hosts[0][0], c)["host"] != hosts[0][0] for c in insets)  # never itself
    fewer_hosts = FormatAugmenter(hosts[:1] + hosts[2:], seed=0)  # a host is relabeled: other windows are drawn
    moved = [c for c in insets if fewer_hosts.plan(hosts[0][0], c)["host"] != augment.plan(hosts[0][0], c)["host"]]
    assert moved and all(fewer_hosts.variant(hosts[0][0], c) != augment.variant(hosts[0][0], c) for c in moved)
    assert all(np.array_equal(copies[c], augment(image, sha256=hosts[0][0], copy=c)) for c in copies)
    assert all(c.dtype == np.uint8 and c.ndim == 3 for c in copies.values())
