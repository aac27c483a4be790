"""Dataset page: what the workspace holds, and importing a labeled folder."""

from pathlib import Path

import pandas as pd
import streamlit as st

from data import LookoutError
from data.importer import import_folder, last_import_report
from data.labels import label_counts, label_timeline, open_conflicts, resolve_conflict
from ui.workspace import current_workspace


def import_ui() -> tuple[str, str] | None:
    """The folder (and optional CSV) the user asks to import, once they press the button."""
    with st.form("import"):
        folder = st.text_input("Folder of images on this computer", placeholder="/path/to/Data_deeplearning")
        csv = st.text_input("Mapping CSV (Image_ID,Class)", placeholder="default: mapping_trump.csv in that folder")
        if st.form_submit_button("Import") and folder.strip():
            return folder.strip(), csv.strip()
    return None


def conflicts_ui(ws) -> None:
    """Images whose CSV rows disagreed: show each, let the journalist decide."""
    conflicts = open_conflicts(ws)
    if not conflicts:
        return
    st.subheader(f"Conflicting labels to resolve ({len(conflicts)})")
    for conflict in conflicts[:10]:
        left, right = st.columns([1, 2])
        left.image(str(ws.frames_dir / conflict["file_name"]), width=200)
        right.write(f"{conflict['file_name']}: the CSV said {conflict['detail']}")
        for i, name in enumerate(ws.config.classes):
            if right.button(name, key=f"conflict-{conflict['id']}-{i}"):
                resolve_conflict(ws, conflict["id"], i)
                st.rerun()


def page() -> None:
    ws = current_workspace()
    st.title("Dataset")
    counts = label_counts(ws)
    if sum(counts.values()) == 0:
        st.info(
            "This workspace is empty. Import a folder of frames with its mapping_trump.csv "
            "(Image_ID,Class) to start; Lookout learns from the frames you label."
        )
    request = import_ui()
    if request:
        folder, csv = request
        try:
            with st.spinner("Importing..."):
                report = import_folder(ws, Path(folder), Path(csv) if csv else None)
            st.success(f"Imported {report.new_frames} new frames.")
        except LookoutError as exc:
            st.error(str(exc))
    st.subheader("Frames per class")
    st.dataframe(pd.DataFrame({"frames": counts}), width="content")
    timeline = label_timeline(ws)
    if len(timeline) > 1:
        st.subheader("Labels over time")
        st.line_chart(pd.DataFrame(timeline).set_index("day"))
    conflicts_ui(ws)
    report = last_import_report(ws)
    if report:
        st.subheader("Last import")
        st.code(report.summary(), language=None)
