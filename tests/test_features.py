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


def test_float32_entries_of_earlier_versions_are_still_read(tmp_path):
    import io
    import struct
    import zlib

    cache = FeatureCache(tmp_path, CountingBackbone())
    path = cache.path("a" * 64, ORIGINAL)
    path.parent.mkdir(parents=True)
    buf = io.BytesIO()
    np.save(buf, np.array([1.0, 2.5, 1e-5], "float32"))
    path.write_bytes(buf.getvalue() + struct.pack("<4sI", b"LKF1", zlib.crc32(buf.getvalue())))
    assert cache.get("a" * 64).tolist() == [1.0, 2.5, np.float32(1e-5)]
    assert cache.ensure([FeatureRequest("a" * 64, ORIGINAL, lambda: pattern(0))]) == (0, {})


def test_damaged_entries_are_recomputed_never_used(tmp_path):
    backbone = CountingBackbone()
    cache = FeatureCache(tmp_path, backbone)
    cache.ensure(requests(3))
    first, second, third = (cache.path(r.sha256, ORIGINAL) for r in requests(3))
    flipped = bytearray(first.read_bytes())
    flipped[-20] ^= 0xFF  # a bit flip inside the numbers
    first.write_bytes(bytes(flipped))
    second.write_bytes(second.read_bytes()[:50])  # truncated
    third.write_text("garbage")
    assert all(cache.get(r.sha256) is None for r in requests(3))
    assert cache.ensure(requests(3)) == (3, {})
    assert all(cache.get(r.sha256) is not None for r in requests(3))


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
