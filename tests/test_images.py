import io

import numpy as np
import pytest
from PIL import Image

from data.errors import LookoutError
from data.images import load_rgb
from data.importer import import_folder
from tests.media import pattern, save_image


@pytest.mark.parametrize(
    "name, mode, fmt",
    [
        ("gray.png", "L", "PNG"),
        ("rgba.png", "RGBA", "PNG"),
        ("cmyk.jpg", "CMYK", "JPEG"),
        ("pic.webp", "RGB", "WEBP"),
        ("palette.gif", "P", "GIF"),
    ],
)
def test_every_supported_image_loads_as_rgb(tmp_path, name, mode, fmt):
    rgb = load_rgb(save_image(tmp_path / name, 3, mode=mode, fmt=fmt))
    assert rgb.dtype == np.uint8 and rgb.shape == (48, 64, 3)


def test_gif_gives_its_first_frame(tmp_path):
    first, second = (Image.fromarray(pattern(s)) for s in (1, 2))
    first.save(tmp_path / "anim.gif", save_all=True, append_images=[second])
    loaded = load_rgb(tmp_path / "anim.gif").astype(int)
    assert np.abs(loaded - pattern(1)).mean() < np.abs(loaded - pattern(2)).mean()


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(pattern(1)).save(tmp_path / "phone.jpg", exif=exif)
    assert load_rgb(tmp_path / "phone.jpg").shape == (64, 48, 3)


def broken_files(tmp_path):
    good = io.BytesIO()
    Image.fromarray(pattern(5, size=(256, 256))).save(good, "JPEG")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "truncated.jpg").write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    (tmp_path / "text.jpg").write_text("this is not a picture")
    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(bomb, "PNG")  # 100 megapixels in a few kB
    (tmp_path / "bomb.png").write_bytes(bomb.getvalue())
    return {"empty.jpg": "empty", "truncated.jpg": "truncated", "text.jpg": "not an image", "bomb.png": "megapixels"}


def test_each_broken_image_is_a_clear_error_naming_the_file(tmp_path):
    for name, message in broken_files(tmp_path).items():
        with pytest.raises(LookoutError, match=message) as err:
            load_rgb(tmp_path / name)
        assert name in str(err.value)


def test_import_skips_and_reports_broken_files_and_keeps_the_rest(tmp_path, workspace):
    folder = tmp_path / "in"
    folder.mkdir()
    expected = broken_files(folder)
    save_image(folder / "good.jpg", 1)
    (folder / "notes.txt").write_text("shot list")
    (folder / "mapping_trump.csv").write_text("Image_ID,Class\ngood.jpg,1\ntruncated.jpg,0\n")
    report = import_folder(workspace, folder)
    reasons = dict(report.unreadable)
    assert set(reasons) == set(expected) | {"notes.txt"}
    for name, message in expected.items():
        assert message in reasons[name]
    assert report.new_frames == 1 and report.labeled == {"no target": 0, "Trump": 1}
    assert report.missing_images == []  # truncated.jpg is reported as unreadable, not as missing
    assert [p.name for p in workspace.frames_dir.iterdir()] == ["good.jpg"]
