import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
import pytest

from data.errors import LookoutError
from data.images import load_rgb
from tests.media import pattern
from trainer.backbones import (
    VGG16_WEIGHTS_FILE,
    FaceBackbone,
    VGG16Backbone,
    load_backbone,
    traced,
)


def test_vgg16_gives_the_tutorials_feature_shape(random_vgg16):
    images = [pattern(1, (96, 128)), pattern(2, (300, 200))]
    features = random_vgg16.embed(images)
    assert features.shape == (2, 7, 7, 512) and features.dtype == np.float32
    assert random_vgg16.identity == "vgg16-random-0"
    assert not np.allclose(features[0], features[1])


def test_vgg16_without_weights_or_network_says_where_the_file_goes(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("LOOKOUT_VGG16_WEIGHTS", raising=False)

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(LookoutError) as err:
        VGG16Backbone()
    message = str(err.value)
    assert str(tmp_path / "keras" / "models" / VGG16_WEIGHTS_FILE) in message
    assert "LOOKOUT_VGG16_WEIGHTS" in message and "https://" in message
    assert "OSError: network unreachable" in message  # the real cause, not "(Exception)"


def test_vgg16_offline_says_so_in_words(tmp_path, monkeypatch):
    """The Train page showed "URLError: <urlopen error [Errno -2] Name or service not known>"."""
    import socket
    from urllib.error import URLError

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("LOOKOUT_VGG16_WEIGHTS", raising=False)

    def offline(*args, **kwargs):
        try:
            raise URLError(socket.gaierror(-2, "Name or service not known"))
        except URLError as exc:
            raise Exception("URL fetch failure") from exc

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(LookoutError) as err:
        VGG16Backbone()
    assert "cannot be reached: no internet, or its name cannot be looked up" in str(err.value)
    assert "Errno" not in str(err.value) and "URLError" not in str(err.value)


def test_a_failed_download_names_its_real_cause(tmp_path, monkeypatch):
    import socket

    import trainer.backbones as backbones

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("LOOKOUT_VGG16_WEIGHTS", raising=False)
    monkeypatch.setattr(backbones, "VGG16_WEIGHTS_URL", f"http://127.0.0.1:{port}/{VGG16_WEIGHTS_FILE}")
    with pytest.raises(LookoutError, match="could not be downloaded \\(.*Connection refused"):
        VGG16Backbone()


@pytest.mark.parametrize("weights, reachable, expected", [
    ("file", False, "vgg16"),   # weights on this computer
    (None, True, "vgg16"),      # downloadable
    (None, False, "face"),      # neither: the backbone that works offline
])
def test_a_new_project_gets_a_backbone_that_works_on_this_computer(tmp_path, monkeypatch, random_vgg16, weights,
                                                                  reachable, expected):
    import socket

    from data.workspace import Workspace
    from trainer.predict import chosen_backbone

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("LOOKOUT_VGG16_WEIGHTS", raising=False)
    if weights:
        path = tmp_path / "w.weights.h5"
        path.write_bytes(b"weights")
        monkeypatch.setenv("LOOKOUT_VGG16_WEIGHTS", str(path))

    def connect(address, timeout=None):
        if not reachable:
            raise socket.gaierror(-2, "Name or service not known")  # as offline: the page showed "[Errno -2]"
        return socket.socket()

    monkeypatch.setattr(socket, "create_connection", connect)
    ws = Workspace.open(tmp_path / "ws")  # opening a workspace asks no host anything: the backbone waits
    assert ws.config.backbone == ""
    assert chosen_backbone(ws) == expected and Workspace.open(tmp_path / "ws").config.backbone == expected  # kept
    ws.close()
    from trainer.backbones import default_backbone

    assert (expected == "face") == ("cannot be downloaded (storage.googleapis.com cannot be reached" in default_backbone()[1])
    assert "Errno" not in default_backbone()[1]


def test_vgg16_weights_from_the_environment_are_used_and_identified(tmp_path, monkeypatch, random_vgg16):
    weights = tmp_path / "random-vgg16.weights.h5"
    random_vgg16.model.save_weights(weights)
    monkeypatch.setenv("LOOKOUT_VGG16_WEIGHTS", str(weights))
    loaded = load_backbone("vgg16")
    assert loaded.identity.startswith("vgg16-") and loaded.identity != random_vgg16.identity
    image = [pattern(3, (64, 64))]
    assert np.allclose(loaded.embed(image), random_vgg16.embed(image), atol=1e-4)
    monkeypatch.setenv("LOOKOUT_VGG16_WEIGHTS", str(tmp_path / "absent.h5"))
    with pytest.raises(LookoutError, match="LOOKOUT_VGG16_WEIGHTS points to .*absent.h5"):
        load_backbone("vgg16")


def test_unknown_backbone_is_refused():
    with pytest.raises(LookoutError, match="'resnet' is not one of vgg16, face"):
        load_backbone("resnet")


# frame73: Trump on a TV, a 37-pixel face; frame79: a 37-pixel face HOG found in the whole frame but
# not in the crop around MTCNN's proposal until the crop started on HOG's cell grid
@pytest.mark.parametrize("small_face", ["frame73.jpg", "frame79.jpg"])
def test_face_backbone_finds_a_small_face_and_ignores_a_faceless_frame(face_backbone, dataset, small_face):
    frame = load_rgb(dataset / "Data_deeplearning" / small_face)
    blank = np.full((512, 288, 3), 90, np.uint8)
    features = face_backbone.embed([frame, blank])
    assert features.shape == (2, *face_backbone.feature_shape) and face_backbone.feature_shape == (FaceBackbone.max_faces, 1026)
    assert features[0, :, -1].sum() >= 1
    assert np.linalg.norm(features[0, 0, :1024]) == pytest.approx(1, abs=1e-3)  # FaceRes' description, unit length
    assert 0.2 < features[0, 0, -2] < 1  # the face's size, in hundreds of pixels (a small face: 20-100 px)
    assert features[1].sum() == 0


@pytest.mark.parametrize("shape", [(1, 1, 3), (8, 8, 3), (11, 13, 3), (30, 2000, 3), (2000, 30, 3)])
def test_a_tiny_or_extreme_frame_has_no_face_and_stops_nothing(face_backbone, shape):
    noise = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)  # below MTCNN's smallest face, or a sliver
    features = face_backbone.embed([noise])
    assert features.shape == (1, *face_backbone.feature_shape) and features[0, :, -1].sum() == 0


def test_face_features_are_the_same_alone_or_in_a_batch(face_backbone, dataset):
    # frame151 is 960x540 among 1024x576 frames: padded into their batch, MTCNN found 4 faces, alone 2
    frames = [load_rgb(dataset / "Data_deeplearning" / f"frame{i}.jpg") for i in (0, 10, 11, 73, 151)]
    together = face_backbone.embed(frames)
    alone = np.stack([face_backbone.embed([frame])[0] for frame in frames])
    assert np.allclose(together, alone, atol=1e-5)  # a frame's features are cached: they cannot depend on its batch
    assert together[1:4, 0, -1].tolist() == [1.0, 1.0, 1.0]


def test_face_features_from_all_cores_match_one_process(dataset):
    frames = [load_rgb(dataset / "Data_deeplearning" / f"frame{i}.jpg") for i in (0, 10, 11, 73)]  # frame0: no HOG face
    parallel = FaceBackbone(workers=2)
    try:
        assert np.array_equal(parallel.embed(frames), FaceBackbone(workers=1).embed(frames))
    finally:
        parallel.pool.close()


KILLED_PARENT = """
import multiprocessing, sys, time
from data.images import load_rgb
from trainer.backbones import FaceBackbone

if __name__ == "__main__":
    frame = load_rgb(sys.argv[1])
    backbone = FaceBackbone(workers=2)
    backbone.embed([frame] * 4)
    print(*[p.pid for p in multiprocessing.active_children()], flush=True)
    time.sleep(600)
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_face_workers_exit_when_their_process_is_killed(tmp_path, dataset):
    script = tmp_path / "embed_then_wait.py"
    script.write_text(KILLED_PARENT)
    parent = subprocess.Popen([sys.executable, str(script), str(dataset / "Data_deeplearning" / "frame10.jpg")],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    workers = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(workers) == 2
    parent.kill()  # SIGKILL: the parent cannot stop its workers itself
    parent.wait()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(_alive(pid) for pid in workers)


def _alive(pid: int) -> bool:
    """Running, not a zombie: an orphan's zombie lingers until the container's init reaps it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_the_face_backbone_loads_while_a_page_run_clears_keras_state(dataset, monkeypatch):
    """The first "Run one monitor cycle now" after training showed "ValueError: You called set_weights(weights)
    on layer 'p_net' with a weight list of length 13, but the layer was expecting 11 weights." The page runner
    (Streamlit) clears Keras' state after every page run, from its own thread; one that came while MTCNN's
    networks were being built dropped their layers. Here it comes at that moment, every time."""
    import threading

    from keras.src.layers.layer import Layer

    from trainer.backbones import load_backbone

    set_attribute, page_runs = Layer.__setattr__, []

    def page_run_ends_meanwhile(layer, name, value):
        if not page_runs and type(layer).__name__ == "PNet" and name == "_tracker":  # MTCNN's first network, being built
            page_runs.append(threading.Thread(target=keras.backend.clear_session))
            page_runs[0].start()
            page_runs[0].join(2)  # it waits for the build now; before, it cleared Keras' state right here
        set_attribute(layer, name, value)

    monkeypatch.setattr(Layer, "__setattr__", page_run_ends_meanwhile)
    backbone = load_backbone("face", workers=1)
    monkeypatch.undo()
    page_runs[0].join()  # and ran once the build was done
    features = backbone.embed([load_rgb(dataset / "Data_deeplearning" / "frame64.jpg")])
    assert features[0, :, -1].sum() >= 1  # a face found by the MTCNN built meanwhile


def test_the_traced_face_detector_finds_the_same_faces_as_the_packages_own(dataset):
    from mtcnn import MTCNN

    frames = [load_rgb(dataset / "Data_deeplearning" / f"frame{i}.jpg") for i in (0, 73)]  # no HOG face; a 37-px face
    as_packaged, fast = MTCNN(device="CPU:0"), traced(MTCNN(device="CPU:0"))
    for frame in frames:  # features are cached by the package's version: tracing must not change a box
        expected, got = as_packaged.detect_faces(frame), fast.detect_faces(frame)
        assert [f["box"] for f in got] == [f["box"] for f in expected]
        assert [f["confidence"] for f in got] == pytest.approx([f["confidence"] for f in expected], abs=1e-5)
    assert any(fast.detect_faces(frames[1]))
    with ThreadPoolExecutor(2) as pool:  # a page and a background job share one detector: each gets its frame's faces
        together = list(pool.map(fast.detect_faces, frames * 3))
    assert [[f["box"] for f in faces] for faces in together] == [[f["box"] for f in fast.detect_faces(f)] for f in frames] * 3


# No `if __name__ == "__main__"`: a Streamlit page is such a script, and so is many a newsroom's.
STARTS_WORKERS = """
import sys
from trainer.workers import WorkerPool

with open(sys.argv[1], "a") as runs:
    runs.write("ran\\n")
print(WorkerPool(dict, workers=2).map("get", ["a", "b", "c"]))
"""


def test_a_script_that_starts_workers_runs_once_not_again_in_each_worker(tmp_path):
    # Seen: the face workers started from a page ran that page again, each opening ./workspace
    script, runs = tmp_path / "page.py", tmp_path / "runs.txt"
    script.write_text(STARTS_WORKERS)
    done = subprocess.run([sys.executable, str(script), str(runs)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[None, None, None]" and runs.read_text() == "ran\n"


CHOOSE = """
import sys, time
from pathlib import Path
import trainer.predict as predict
from data.workspace import Workspace

root, name, wait_for = sys.argv[1:]
def slow_choice(configured=""):  # this computer's answer, given while the other one waits for the lock
    Path(root, name + "-choosing").touch()
    time.sleep(1)
    return name, ""
predict.default_backbone = slow_choice
ws = Workspace.open(root)
assert ws.config.backbone == ""  # opened before anyone chose, as an app left open since the project began
Path(root, name + "-opened").touch()
deadline = time.monotonic() + 60
while not Path(root, wait_for).exists() and time.monotonic() < deadline:
    time.sleep(0.05)
print(predict.chosen_backbone(ws))
"""


def test_two_people_opening_a_new_project_at_once_get_one_backbone(tmp_path):
    """Two colleagues opened a brand-new project and their computers would choose differently (one
    has VGG16's weights): both must work with the backbone project.toml keeps, never each their own."""
    from data.workspace import Workspace

    root = tmp_path / "ws"
    Workspace.open(root).close()
    first = subprocess.Popen([sys.executable, "-c", CHOOSE, str(root), "vgg16", "face-opened"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.run([sys.executable, "-c", CHOOSE, str(root), "face", "vgg16-choosing"],
                            capture_output=True, text=True, timeout=120)
    first_out, first_err = first.communicate(timeout=120)
    assert (first_out.strip(), second.stdout.strip()) == ("vgg16", "vgg16"), (first_err + second.stderr)[-2000:]
    assert not (root / "face-choosing").exists()  # the second never chose: it read the first's choice
    assert Workspace.open(root).config.backbone == "vgg16"
