import pandas as pd
import pytest

from data.errors import LookoutError
from data.importer import import_folder
from data.mapping_csv import read_mapping_csv
from tests.media import save_image

CLASSES = ("no target", "Trump")


def write(tmp_path, content: bytes):
    path = tmp_path / "mapping_trump.csv"
    path.write_bytes(content)
    return path


def test_bom_windows_line_endings_and_blank_lines_are_read(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbfImage_ID,Class\r\n\r\nframe0.jpg,0\r\nframe1.jpg,1\r\n\r\n")
    rows = read_mapping_csv(path, class_names=CLASSES)
    assert [(r.image_id, r.label) for r in rows] == [("frame0.jpg", 0), ("frame1.jpg", 1)]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b"frame0.jpg,0\nframe1.jpg,1\n", "header 'Image_ID,Class'"),
        (b"Image,Label\nframe0.jpg,0\n", "header 'Image_ID,Class'"),
        (b"Image_ID,Class\nframe0.jpg,yes\n", "line 2: Class 'yes' is not a whole number"),
        (b"Image_ID,Class\nframe0.jpg,0\nframe1.jpg,2\n", "line 3: Class 2 is not a class"),
        (b"Image_ID,Class\nframe0.jpg,-1\n", "Class -1 is not a class"),
        (b"Image_ID,Class\nframe0.jpg\n", "line 2: expected two values, Image_ID and Class"),
        (b"Image_ID,Class\n,1\n", "Image_ID is empty"),
        (b"Image_ID,Class\n../../etc/passwd,1\n", "'../../etc/passwd' is a path"),
        (b"Image_ID,Class\n/etc/passwd,1\n", "is a path"),
        (b"Image_ID,Class\nC:\\frames\\a.jpg,1\n", "is a path"),
        (b"Image_ID,Class\nsub/frame0.jpg,1\n", "is a path"),
        (b"Image_ID,Class\n..,1\n", "is a path"),
        (b"Image_ID,Class\n\xff\xfe,1\n", "is not UTF-8"),
    ],
)
def test_bad_csv_is_refused_naming_file_and_problem(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(LookoutError, match="mapping_trump.csv") as err:
        read_mapping_csv(path, class_names=CLASSES)
    assert message in str(err.value)


def test_a_bad_csv_refuses_the_whole_import_and_changes_nothing(tmp_path, workspace):
    folder = tmp_path / "in"
    folder.mkdir()
    save_image(folder / "frame0.jpg", 0)
    save_image(folder / "frame1.jpg", 1)
    write(folder, b"Image_ID,Class\nframe0.jpg,1\nframe1.jpg,maybe\n")
    before = workspace.mapping_csv.read_bytes()
    with pytest.raises(LookoutError, match="line 3"):
        import_folder(workspace, folder)
    assert workspace.db.execute("SELECT COUNT(*) FROM frames").fetchone()[0] == 0
    assert list(workspace.frames_dir.iterdir()) == []
    assert workspace.mapping_csv.read_bytes() == before
    assert pd.read_csv(workspace.mapping_csv).empty
