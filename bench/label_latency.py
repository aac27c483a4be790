"""Server time per label on the Label page, on the shared dataset, against its 150 ms budget.

Two things in one run: the page's server work after a key press (the rerun that
shows the next frame, timed inside the script, plus the label write its callback
does) and the label write alone (history + atomic mapping CSV rewrite).
Run: python -m bench.label_latency
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from bench.common import require_dataset
from data.config import ProjectConfig
from data.importer import import_folder
from data.labels import set_label
from data.workspace import Workspace

LABELS = 40
TIMED_PAGE = """
import time
import streamlit as st
from ui import label
start = time.perf_counter()
label.page()
st.session_state["page_ms"] = (time.perf_counter() - start) * 1000
"""
BUDGET_MS = 150


def main() -> None:
    dataset = require_dataset()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "ws", config=ProjectConfig(classes=("no target", "Trump")))
        import_folder(ws, dataset / "Data_deeplearning")
        ws.db.execute("UPDATE frames SET label = NULL")  # every frame waits to be labeled again
        os.environ["LOOKOUT_WORKSPACE"] = str(ws.root)
        app = AppTest.from_string(TIMED_PAGE, default_timeout=60).run()
        page_ms = []
        for i in range(LABELS):
            app.button(key=f"class-{i % 2}").click().run()
            page_ms.append(app.session_state["page_ms"])
        frames = [r[0] for r in ws.db.execute("SELECT id FROM frames LIMIT ?", (LABELS,))]
        write_ms = []
        for i, frame in enumerate(frames):
            start = time.perf_counter()
            set_label(ws, frame, i % 2)
            write_ms.append((time.perf_counter() - start) * 1000)
    page, write = statistics.median(page_ms), statistics.median(write_ms)
    total = page + write
    print(f"label write alone: median {write:.1f} ms")
    print(f"page rerun after a key press: median {page:.1f} ms, max {max(page_ms):.1f} ms over {LABELS} labels")
    print(f"server time per label {total:.1f} ms = {total / BUDGET_MS:.2f} of the {BUDGET_MS} ms budget (target <= 1)")


if __name__ == "__main__":
    main()
