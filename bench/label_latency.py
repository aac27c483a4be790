"""Labeling at scale, and the app's import against the command line's.

1. Server time per label on a 10,000-frame workspace (the shared frames made distinct:
   shrunk, shifted, noised): the Label page's rerun after a press (timed inside the
   script; it leases the next frame) plus the label write its callback does (history +
   atomic mapping CSV rewrite). Target <= 50 ms.
2. Importing the shared folder through the app (Dataset page, background job) and with
   `import_folder` as the CLI does, each into a new workspace; printed as a ratio (target <= 2).
Run: python -m bench.label_latency
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from bench.common import require_dataset
from data.config import ProjectConfig
from data.importer import import_folder
from data.labels import set_label
from data.workspace import Workspace

FRAMES = 10_000
LABELS = 40
BUDGET_MS = 50
TIMED_PAGE = """
import time
import streamlit as st
from ui import label
start = time.perf_counter()
label.page()
st.session_state["page_ms"] = (time.perf_counter() - start) * 1000
"""


def distinct_frames(dataset: Path, folder: Path, n: int) -> None:
    """n small JPEGs, each a shared frame shrunk, shifted in colour and noised: all distinct."""
    sources = sorted((dataset / "Data_deeplearning").glob("*.jpg"))
    small = [np.asarray(Image.open(p).convert("RGB").resize((96, 96))) for p in sources]
    rng = np.random.default_rng(0)
    folder.mkdir()
    for i in range(n):
        pixels = small[i % len(small)].astype(np.int16) + rng.integers(-12, 13, (96, 96, 3)) + (i // len(small))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(folder / f"frame{i}.jpg", quality=80)


def label_latency(root: Path, folder: Path) -> tuple[list[float], list[float], float]:
    ws = Workspace.open(root, config=ProjectConfig(classes=("no target", "Trump")))
    start = time.perf_counter()
    import_folder(ws, folder)
    imported = time.perf_counter() - start
    os.environ["LOOKOUT_WORKSPACE"] = str(ws.root)
    app = AppTest.from_string(TIMED_PAGE, default_timeout=120)
    app.session_state["labeler"] = "bench"
    app.run()
    page_ms = []
    for i in range(LABELS):
        next(b for b in app.button if b.label.startswith(f"{ws.config.classes[i % 2]} (")).click().run()
        page_ms.append(app.session_state["page_ms"])
    frames = [r[0] for r in ws.db.execute("SELECT id FROM frames WHERE label IS NULL LIMIT ?", (LABELS,))]
    write_ms = []
    for i, frame in enumerate(frames):
        start = time.perf_counter()
        set_label(ws, frame, i % 2, who="bench")
        write_ms.append((time.perf_counter() - start) * 1000)
    return page_ms, write_ms, imported


def app_import(root: Path, folder: Path) -> float:
    """The Dataset page's Import button, until the background job reports it is done."""
    Workspace.open(root, config=ProjectConfig(classes=("no target", "Trump"))).close()
    os.environ["LOOKOUT_WORKSPACE"] = str(root)
    app = AppTest.from_string("from ui import dataset\ndataset.page()", default_timeout=120)
    app.session_state["labeler"] = "bench"
    app.run()
    next(t for t in app.text_input if t.label.startswith("Folder")).input(str(folder))
    start = time.perf_counter()
    next(b for b in app.button if b.label == "Import").click().run()
    while not any("Imported" in s.value for s in app.success):
        time.sleep(1.0)  # the page's progress fragment reruns once a second
        app.run()
    return time.perf_counter() - start


def main() -> None:
    dataset = require_dataset()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "frames"
        distinct_frames(dataset, folder, FRAMES)
        page_ms, write_ms, imported = label_latency(Path(tmp) / "big", folder)
        shared = dataset / "Data_deeplearning"
        start = time.perf_counter()
        import_folder(Workspace.open(Path(tmp) / "cli", config=ProjectConfig(classes=("no target", "Trump"))), shared)
        cli = time.perf_counter() - start
        app = app_import(Path(tmp) / "app", shared)
    page, write = statistics.median(page_ms), statistics.median(write_ms)
    total = page + write
    print(f"{FRAMES} frames imported in {imported:.1f} s")
    print(f"label write alone: median {write:.1f} ms")
    print(f"page rerun after a press: median {page:.1f} ms, max {max(page_ms):.1f} ms over {LABELS} labels")
    print(f"server time per label {total:.1f} ms = {total / BUDGET_MS:.2f} of the {BUDGET_MS} ms budget (target <= 1)")
    print(f"shared folder imported: app {app:.1f} s, CLI {cli:.1f} s, ratio {app / cli:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
