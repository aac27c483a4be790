"""More like this: look-alike frames by the backbone's features, from the command line and the pages."""

import json
import threading

import cv2
import numpy as np
import pytest

from data.capture import capture_frames
from data.cli import run
from data.config import ProjectConfig
from data.errors import LookoutError
from data.importer import import_folder
from data.labels import set_label
from data.workspace import Workspace
from labeler.__main__ import main as labeler_main
from labeler.frame_map import load_map, map_path
from labeler.similar import SimilarityIndex, search_vectors
from tests.media import image_folder, pattern, save_image
from tests.test_app import (
    page,
    random_weights,  # noqa: F401 (a fixture)
    rerun_until,
    small_workspace,
    success_text,
)
from trainer.backbones import Backbone, load_backbone
from trainer.features import ORIGINAL, FeatureCache
from trainer.testset import original_request

TRUMP_FRAME = "frame19.jpg"  # one large frontal face


@pytest.fixture(scope="module")
def face_workspace(tmp_path_factory, dataset, feature_cache, trained_face_workspace):
    """The shared frames, two retouched copies of one Trump frame, and Biden.mp4's frames, face backbone
    (trained_face_workspace has cached the shared frames' features)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("LOOKOUT_FEATURE_CACHE", str(feature_cache))
    root = tmp_path_factory.mktemp("similar")
    copies = root / "copies"
    copies.mkdir()
    original = cv2.imread(str(dataset / "Data_deeplearning" / TRUMP_FRAME))
    cv2.imwrite(str(copies / "brighter.jpg"), cv2.convertScaleAbs(original, alpha=1.0, beta=6), [cv2.IMWRITE_JPEG_QUALITY, 85])
    cv2.imwrite(str(copies / "cropped.jpg"), original[4:-4, 4:-4], [cv2.IMWRITE_JPEG_QUALITY, 90])
    (copies / "mapping_trump.csv").write_text("Image_ID,Class\n")
    ws = Workspace.open(root / "ws", config=ProjectConfig(name="Trump", classes=("no target", "Trump"), backbone="face"))
    import_folder(ws, dataset / "Data_deeplearning")
    import_folder(ws, copies)
    capture_frames(ws, dataset / "Biden.mp4")
    yield ws
    mp.undo()
    ws.close()


def run_similar(ws, capsys, frame, limit=10) -> list[dict]:
    assert labeler_main(["similar", str(frame), "--limit", str(limit), "--json", "--workspace", str(ws.root)]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_frames_retouched_copies_come_first(face_workspace, capsys):
    found = run_similar(face_workspace, capsys, TRUMP_FRAME)
    assert {f["file_name"] for f in found[:2]} == {"brighter.jpg", "cropped.jpg"}
    assert [f["distance"] for f in found] == sorted(f["distance"] for f in found)


def test_a_labeled_biden_frames_neighbours_are_biden_frames(face_workspace, capsys):
    ws = face_workspace
    biden = ws.db.execute("SELECT f.id, f.video_id FROM frames f JOIN videos v ON v.id = f.video_id "
                          "WHERE v.path LIKE '%Biden.mp4' ORDER BY f.timestamp_s").fetchall()
    set_label(ws, biden[len(biden) // 2]["id"], 0, who="tester")
    found = run_similar(ws, capsys, biden[len(biden) // 2]["id"])
    assert len(found) == 10
    assert all(f["label"] != 1 for f in found)  # not one Trump frame among them
    # mostly the same clip; the others are the imported frames of Biden at a lectern
    assert sum(f["video_id"] == biden[0]["video_id"] for f in found) >= 7


@pytest.mark.parametrize("frame, expected", [
    ("no-such-frame.jpg", "No frame 'no-such-frame.jpg'"),
    ("black.jpg", "No face found in black.jpg"),
])
def test_similar_explains_what_it_cannot_do(face_workspace, tmp_path, capsys, frame, expected):
    folder = tmp_path / "black"
    folder.mkdir()
    cv2.imwrite(str(folder / "black.jpg"), np.zeros((320, 240, 3), np.uint8))
    (folder / "mapping_trump.csv").write_text("Image_ID,Class\n")
    import_folder(face_workspace, folder)
    assert run(labeler_main, ["similar", frame, "--workspace", str(face_workspace.root)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_the_index_only_adds_new_frames_and_survives_a_restart(tmp_path, random_vgg16, monkeypatch):
    monkeypatch.setenv("LOOKOUT_FEATURE_CACHE", str(tmp_path / "features"))
    ws = Workspace.open(tmp_path / "ws")
    folder = image_folder(tmp_path / "in", range(4))
    import_folder(ws, folder)
    index = SimilarityIndex(ws, random_vgg16)
    assert index.update(compute=False) == 0 and index.unindexed == 4  # nothing cached: nothing computed
    assert index.update() == 4
    save_image(folder / "frame9.jpg", 9)
    import_folder(ws, folder)
    again = SimilarityIndex(ws, random_vgg16)  # read from disk
    assert len(again.shas) == 4 and again.update() == 1 and len(again.shas) == 5
    whole = again.path.read_bytes()
    for damage in (b"", b"not an index", whole[: len(whole) // 2]):  # a damaged index is rebuilt; its map drawn again
        again.path.write_bytes(damage)
        map_path(again).write_bytes(damage)
        assert SimilarityIndex(ws, random_vgg16).update() == 5 and load_map(again) is None


def test_two_updates_at_once_index_each_frame_once(tmp_path, random_vgg16, monkeypatch):
    """A page and a background job update one index together; both find the same new frames."""
    monkeypatch.setenv("LOOKOUT_FEATURE_CACHE", str(tmp_path / "features"))
    ws = Workspace.open(tmp_path / "ws")
    import_folder(ws, image_folder(tmp_path / "in", range(6)))
    index = SimilarityIndex(ws, random_vgg16)
    index.cache.ensure([original_request(ws, r) for r in ws.db.execute("SELECT * FROM frames")])
    both_reading = threading.Barrier(2)
    load = index.cache.load

    def load_together(requests, **options):  # neither update has added anything when both read
        both_reading.wait(timeout=30)
        return load(requests, **options)

    monkeypatch.setattr(index.cache, "load", load_together)
    threads = [threading.Thread(target=index.update, kwargs={"compute": False}) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(index.shas) == len(set(index.shas.tolist())) == 6


class StoredFaces(Backbone):
    """Face-shaped features written straight into the cache: indexing is what is tested."""
    name, identity, feature_shape = "face", "stored-faces", (4, 129)


@pytest.mark.parametrize("read_batch", [1, 2, 3, 1024])
def test_the_index_reads_features_in_batches_and_keeps_every_face_with_its_frame(tmp_path, monkeypatch, read_batch):
    """Indexing 100,000 vgg16 frames held every map in memory at once (10 GB); now it reads batches.
    Faces per frame vary (none, one, four) and one frame has no features: each face must stay with its frame."""
    import labeler.similar

    monkeypatch.setenv("LOOKOUT_FEATURE_CACHE", str(tmp_path / "features"))
    ws = Workspace.open(tmp_path / "ws")
    import_folder(ws, image_folder(tmp_path / "in", range(7)))
    rows = ws.db.execute("SELECT sha256 FROM frames ORDER BY id").fetchall()
    cache, rng = FeatureCache(ws.feature_cache_dir, StoredFaces()), np.random.default_rng(0)
    faces = {}
    for row, n in zip(rows, [1, 0, 4, 2, None, 1, 3]):  # None: no features cached
        if n is not None:
            features = np.zeros((4, 129), "float32")
            features[:n, :-1], features[:n, -1] = rng.random((n, 128)).astype("float16"), 1
            cache.put(row["sha256"], ORIGINAL, features)
            faces[row["sha256"]] = features[:n, :-1]
    monkeypatch.setattr(labeler.similar, "READ_BATCH", read_batch)
    index = SimilarityIndex(ws, StoredFaces())
    assert index.update(compute=False) == 6 and index.unindexed == 1
    assert index.shas.tolist() == list(faces)
    for sha, mine in faces.items():
        np.testing.assert_array_equal(index.vectors[index.shas[index.owners] == sha], mine)


def store_faces(ws: Workspace, seed: int) -> None:
    """One stored face for every frame of the workspace that has none."""
    cache, rng = FeatureCache(ws.feature_cache_dir, StoredFaces()), np.random.default_rng(seed)
    for row in ws.db.execute("SELECT sha256 FROM frames"):
        if cache.get(row["sha256"]) is not None:
            continue
        features = np.zeros((4, 129), "float32")
        features[0, :-1], features[0, -1] = rng.random(128).astype("float16"), 1
        cache.put(row["sha256"], ORIGINAL, features)


def stored_faces_workspace(tmp_path, monkeypatch, frames: int) -> Workspace:
    monkeypatch.setenv("LOOKOUT_FEATURE_CACHE", str(tmp_path / "features"))
    ws = Workspace.open(tmp_path / "ws")
    import_folder(ws, image_folder(tmp_path / "in", range(frames)))
    store_faces(ws, 0)
    return ws


def test_an_index_read_from_disk_searches_the_version_it_opened_while_another_process_grows_it(tmp_path, monkeypatch):
    """A page opens the index without its vectors (200 MB at 100,000 frames); they are read at the first
    search. Meanwhile the command line may have indexed new frames and replaced the file."""
    ws = stored_faces_workspace(tmp_path, monkeypatch, 3)
    SimilarityIndex(ws, StoredFaces()).update(compute=False)
    page = SimilarityIndex(ws, StoredFaces())  # vectors not read yet
    save_image(tmp_path / "in" / "frame7.jpg", 7)
    import_folder(ws, tmp_path / "in")
    store_faces(ws, 1)
    assert SimilarityIndex(ws, StoredFaces()).update(compute=False) == 1  # the file now holds 4 frames
    query = page.vectors[:1]
    assert [sha for sha, _ in page.nearest(query, 10)][0] == page.shas[0] and len(page.nearest(query, 10)) == 3
    assert page.update(compute=False) == 1 and len(page.nearest(query, 10)) == 4


@pytest.mark.parametrize("damage", ["vectors", "all"])
def test_a_damaged_index_is_rebuilt_or_named(tmp_path, monkeypatch, damage):
    ws = stored_faces_workspace(tmp_path, monkeypatch, 3)
    index = SimilarityIndex(ws, StoredFaces())
    index.update(compute=False)
    data = bytearray(index.path.read_bytes())
    if damage == "all":  # the zip's directory is gone: rebuilt from the cache
        index.path.write_bytes(data[: len(data) // 2])
        assert SimilarityIndex(ws, StoredFaces()).update(compute=False) == 3
        return
    at = data.index(b"vectors.npy")  # the vectors member's header, then its data
    data[at + 200 : at + 260] = b"\xff" * 60  # its bytes no longer match its checksum
    index.path.write_bytes(bytes(data))
    opened = SimilarityIndex(ws, StoredFaces())
    assert len(opened.shas) == 3  # the rest opens; the search says what to do
    with pytest.raises(LookoutError, match=f"The search index {opened.path} is damaged.*delete it"):
        opened.nearest(np.zeros((1, 128), "float32"), 5)


def test_faces_are_searched_one_by_one_and_vgg16_maps_are_pooled():
    faces = np.zeros((2, 4, 129), "float32")
    faces[0, :2, -1] = 1
    faces[1, 0, -1] = 1
    vectors, rows = search_vectors(faces)
    assert vectors.shape == (3, 128) and list(rows) == [0, 0, 1]
    vectors, rows = search_vectors(np.random.default_rng(0).random((3, 7, 7, 512), "float32"))
    assert vectors.shape == (3, 512) and np.allclose(np.linalg.norm(vectors, axis=1), 1)


def look_alike_ticks(app) -> list:
    """The tick boxes of the More like this grid."""
    return [c for c in app.checkbox if c.key and c.key.startswith("similar-") and "-tick-" in c.key]


def cached_small_workspace(ws_env, tmp_path, monkeypatch) -> Workspace:
    """Six frames with their features cached, and "many new frames" meaning more than 3."""
    import ui.similar

    ws = small_workspace(ws_env, tmp_path, n=6)
    FeatureCache(ws.feature_cache_dir, load_backbone("vgg16")).ensure(
        [original_request(ws, r) for r in ws.db.execute("SELECT * FROM frames")])
    monkeypatch.setattr(ui.similar, "UPDATED_ON_PAGE", 3)
    return ws


@pytest.mark.usefixtures("random_weights")
def test_more_like_this_from_the_dataset_grid_labels_the_ticked_frames_at_once(ws_env, tmp_path):
    ws = small_workspace(ws_env, tmp_path, n=6)
    app = page("dataset").run()
    next(b for b in app.button if b.label == "More like this").click().run()
    assert not app.exception and "More like frame0.jpg" in app.subheader[0].value
    next(b for b in app.button if b.label.startswith("Compute features for 5 frames")).click().run()
    app = rerun_until(app, lambda a: len(look_alike_ticks(a)) == 5)  # look-alikes show as their features come
    ticks = look_alike_ticks(app)
    assert len(ticks) == 5 and all(c.value for c in ticks)  # all unlabeled, so all ticked
    captions = [c for i in app.get("image") for c in [i.proto.imgs[0].caption] if "look-alike" in c]
    assert sorted(c.rsplit("no. ", 1)[1] for c in captions) == ["1", "2", "3", "4", "5"]  # it said "0.39 away"
    ticks[0].uncheck()
    image_folder(tmp_path / "later", [99])  # a look-alike arrives after the grid was drawn, before the click
    import_folder(ws, tmp_path / "later")
    late = ws.db.execute("SELECT id, sha256 FROM frames WHERE file_name = 'frame99.jpg'").fetchone()
    backbone = load_backbone("vgg16")
    FeatureCache(ws.feature_cache_dir, backbone).put(late["sha256"], ORIGINAL, backbone.embed([pattern(99)])[0])
    next(b for b in app.button if b.label == "All ticked show target").click().run()
    labels = dict(ws.db.execute("SELECT file_name, label FROM frames").fetchall())
    assert labels["frame99.jpg"] is None  # never seen, so never labeled
    assert sorted(labels.values(), key=str) == sorted([0, 1, 1, 1, 1, None, None], key=str)
    assert "4 frames labeled target" in success_text(app)


@pytest.mark.usefixtures("random_weights")
def test_more_like_this_leaves_many_new_frames_to_a_background_job(ws_env, tmp_path, monkeypatch):
    """At 100,000 frames new to the search, the first click held the page for half a minute while it read them."""
    cached_small_workspace(ws_env, tmp_path, monkeypatch)
    app = page("dataset").run()
    next(b for b in app.button if b.label == "More like this").click().run()
    assert not app.exception and "6 frames are new since the last search" in " ".join(c.value for c in app.caption)
    app = rerun_until(app, look_alike_ticks)
    assert not app.exception and len(look_alike_ticks(app)) == 5
    assert not any("are new since the last search" in c.value for c in app.caption)


@pytest.mark.usefixtures("random_weights")
def test_a_colleagues_failed_update_is_shown_where_a_page_would_wait_for_it(ws_env, tmp_path, monkeypatch):
    """Bob read "frames are being added" while nothing was: Alice's click to compute features had failed,
    only she was told, and her unclosed error kept Bob's page from starting the update."""
    import ui.similar

    ws = small_workspace(ws_env, tmp_path, n=6)
    monkeypatch.setattr(ui.similar, "UPDATED_ON_PAGE", 3)
    cache = FeatureCache(ws.feature_cache_dir, load_backbone("vgg16"))
    cache.ensure([original_request(ws, r) for r in ws.db.execute("SELECT * FROM frames ORDER BY id LIMIT 2")])
    update = SimilarityIndex.update

    def computing_fails(index, **options):
        if options.get("compute", True):
            raise LookoutError("The disk is full: free some space.")
        return update(index, **options)

    monkeypatch.setattr(SimilarityIndex, "update", computing_fails)
    alice = page("dataset").run()
    next(b for b in alice.button if b.label == "More like this").click().run()
    alice = rerun_until(alice, lambda a: any(b.label == "Compute features for 4 frames" for b in a.button))
    next(b for b in alice.button if b.label == "Compute features for 4 frames").click().run()
    alice = rerun_until(alice, lambda a: a.error)
    import_folder(ws, image_folder(tmp_path / "later", [201, 202, 203, 204]))
    cache.ensure([original_request(ws, r) for r in ws.db.execute("SELECT * FROM frames WHERE id > 6")])
    bob = page("dataset").run()
    next(b for b in bob.button if b.label == "More like this").click().run()
    assert "The disk is full" in bob.error[0].value
    next(b for b in bob.button if b.label == "Close this message").click().run()
    rerun_until(bob, lambda a: not any("are new since the last search" in c.value for c in a.caption))
    assert SimilarityIndex(ws, load_backbone("vgg16")).new_frames() == 0  # Bob's retry added them


@pytest.mark.usefixtures("random_weights")
def test_a_failed_search_update_is_shown_to_everyone_once_and_retried_when_closed(ws_env, tmp_path, monkeypatch):
    """A page starts this job by itself on every run: a failure must not be repeated every second, nor
    leave a colleague's page silently waiting for a search that is not being updated."""
    cached_small_workspace(ws_env, tmp_path, monkeypatch)
    attempts, update = [], SimilarityIndex.update

    def fails_first(index, **options):
        if not threading.current_thread().name.startswith("lookout-"):
            return update(index, **options)  # the page's own look at a few new frames
        attempts.append(1)
        if len(attempts) == 1:
            raise LookoutError("The disk is full: free some space.")
        return update(index, **options)

    monkeypatch.setattr(SimilarityIndex, "update", fails_first)
    app = page("dataset").run()
    next(b for b in app.button if b.label == "More like this").click().run()
    app = rerun_until(app, lambda a: a.error)
    for _ in range(3):
        app.run()
    assert "The disk is full" in app.error[0].value and len(attempts) == 1
    colleague = page("dataset").run()
    next(b for b in colleague.button if b.label == "More like this").click().run()
    assert "The disk is full" in colleague.error[0].value and len(attempts) == 1
    next(b for b in app.button if b.label == "Close this message").click().run()
    rerun_until(app, look_alike_ticks)
    assert len(attempts) == 2
