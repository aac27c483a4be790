"""Dataset page: what the workspace holds, and importing a labeled folder."""

from pathlib import Path

import pandas as pd
import streamlit as st

from data import LookoutError
from data.importer import import_folder, last_import_report
from data.labels import label_counts
from ui.workspace import current_workspace


def import_ui() -> tuple[str, str] | None:
    """The folder (and optional CSV) the user asks to import, once they press the button."""
    with st.form("import"):
        folder = st.text_input("Folder of images on this computer", placeholder="/path/to/Data_deeplearning")
        csv = st.text_input("Mapping CSV (Image_ID,Class)", placeholder="default: mapping_trump.csv in that folder")
        if st.form_submit_button("Import") and folder.strip():
            return folder.strip(), csv.strip()
    return None


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
    report = last_import_report(ws)
    if report:
        st.subheader("Last import")
        st.code(report.summary(), language=None)
