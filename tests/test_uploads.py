"""Zips and videos uploaded through the app."""

import zipfile

import pytest

from data.errors import LookoutError
from data.importer import import_folder, import_zip
from data.labels import label_counts
from data.uploads import save_upload
from tests.media import save_image


def zip_folder(folder, archive, *, prefix="", extra=()):
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, f"{prefix}{path.name}")
        for name, content in extra:
            zf.writestr(name, content)
    return archive


def test_a_zipped_dataset_imports_like_its_folder(workspace, dataset, tmp_path):
    folder = dataset / "Data_deeplearning"
    archive = zip_folder(folder, tmp_path / "frames.zip", prefix="Data_deeplearning/",
                         extra=[("__MACOSX/Data_deeplearning/._frame1.jpg", b"junk")])
    report = import_zip(workspace, archive)
    assert report.new_frames == 584 and report.labeled == {"no target": 344, "Trump": 225}
    assert report.missing_images == ["frame610.jpg"] and report.unreadable == []
    assert report.folder == "frames.zip (Data_deeplearning)"
    assert not list(workspace.root.glob(".unzip-*"))  # the unpacked copy is gone
    assert import_folder(workspace, folder).new_frames == 0  # same frames, stored once


def test_a_zip_without_csv_imports_its_images_unlabeled(workspace, tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(3):
        save_image(folder / f"shot{i}.png", i)
    report = import_zip(workspace, zip_folder(folder, tmp_path / "shots.zip", prefix="a/b/"))
    assert report.new_frames == 3
    assert label_counts(workspace)["unlabeled"] == 3


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a zip at all", "bad.zip is not a zip file"),
        ("slip", "path outside the archive"),
        ("empty", "holds no images"),
    ],
)
def test_a_bad_zip_is_refused_and_changes_nothing(workspace, tmp_path, content, message):
    archive = tmp_path / "bad.zip"
    if content == "slip":
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("../../escaped.jpg", b"x")
    elif content == "empty":
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("notes.txt", b"hello")
    else:
        archive.write_bytes(content)
    with pytest.raises(LookoutError, match=message):
        import_zip(workspace, archive)
    assert not (tmp_path / "escaped.jpg").exists() and not (workspace.root / "escaped.jpg").exists()
    assert workspace.db.execute("SELECT COUNT(*) FROM frames").fetchone()[0] == 0


def test_uploads_get_safe_names_and_the_same_file_is_kept_once(tmp_path):
    first = save_upload("../My clip (1).mp4", b"one", tmp_path)
    assert first.parent == tmp_path and first.name == "My_clip_1_.mp4"
    assert save_upload("My clip (1).mp4", b"one", tmp_path) == first
    other = save_upload("My clip (1).mp4", b"two", tmp_path)
    assert other != first and other.read_bytes() == b"two" and first.read_bytes() == b"one"
