"""Import stays linear in junk: a folder of non-image files and a CSV of rows whose image is
missing, at 1x and 4x the size, planned and stored. Linear work gives a time ratio near 4;
the old rows-times-bad-files loop gave 16.
Run: python -m bench.import_scale
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from data.importer import import_folder, last_import_report
from data.workspace import Workspace
from tests.media import save_image

BASE_JUNK, BASE_ROWS = 1000, 25_000


def junk_folder(root: Path, scale: int) -> Path:
    folder = root / f"x{scale}"
    folder.mkdir()
    for i in range(3):
        save_image(folder / f"frame{i}.jpg", i)
    for i in range(BASE_JUNK * scale):
        (folder / f"notes{i}.txt").write_text("not an image")
    rows = ["Image_ID,Class", *(f"gone{i}.jpg,{i % 2}" for i in range(BASE_ROWS * scale))]
    (folder / "mapping_trump.csv").write_text("\n".join(rows) + "\n")
    return folder


def timed_import(root: Path, folder: Path) -> tuple[float, float]:
    ws = Workspace.open(root / f"ws-{folder.name}")
    start = time.perf_counter()
    import_folder(ws, folder)
    imported = time.perf_counter() - start
    start = time.perf_counter()
    last_import_report(ws).summary()  # what every Dataset page load does
    return imported, time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        small = timed_import(root, junk_folder(root, 1))
        large = timed_import(root, junk_folder(root, 4))
    print(f"import, {BASE_JUNK} junk files + {BASE_ROWS} missing rows: {small[0]:.2f} s; 4x that: {large[0]:.2f} s; "
          f"ratio {large[0] / small[0]:.1f} (linear: ~4, quadratic: ~16)")
    print(f"reading the stored report back: {small[1] * 1000:.1f} ms vs {large[1] * 1000:.1f} ms at 4x; "
          f"ratio {large[1] / max(small[1], 1e-9):.1f} (bounded: ~1)")


if __name__ == "__main__":
    main()
