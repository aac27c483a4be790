"""Lookout's app: navigation and the shared sidebar; each page lives in ui/."""

import streamlit as st

from data.errors import LookoutError, full_disk_as_error
from data.frames import frame_count
from ui import dataset, frame_map, label, monitor, review, train
from ui.people import labeler_ui
from ui.workspace import current_workspace, sidebar, warm_up

st.set_page_config(page_title="Lookout", layout="wide")
ws = current_workspace()
warm_up(str(ws.root))
pages = [
    st.Page(label.page, title="Label", url_path="label"),
    st.Page(review.page, title="Review", url_path="review"),
    st.Page(train.page, title="Train", url_path="train"),
    st.Page(monitor.page, title="Monitor", url_path="monitor"),
    st.Page(frame_map.page, title="Map", url_path="map"),
    st.Page(dataset.page, title="Dataset", url_path="dataset"),
]


def start() -> None:
    """The bare address opens Dataset on an empty workspace and Label otherwise. It is a page of its
    own because Streamlit serves a default page only at "/": every page keeps its bookmarkable URL."""
    empty = frame_count(ws.db) == 0
    st.switch_page(pages[-1] if empty else pages[0])


current = st.navigation([st.Page(start, title="Lookout", url_path="start", default=True), *pages], position="hidden")
for page in pages:
    st.sidebar.page_link(page)
sidebar(ws)
labeler_ui()
try:
    with full_disk_as_error(ws.root):
        current.run()
except LookoutError as exc:  # the pages show their own errors; a full disk can strike any of them
    st.error(str(exc))
