"""Lookout's app: navigation and the shared sidebar; each page lives in ui/."""

import streamlit as st

from ui import dataset, label, monitor, review, train
from ui.workspace import current_workspace, sidebar

st.set_page_config(page_title="Lookout", layout="wide")
ws = current_workspace()
# An empty workspace opens on Dataset; kept for the session, so finishing an import does not move the page.
empty = st.session_state.setdefault("opened_empty", ws.db.execute("SELECT COUNT(*) FROM frames").fetchone()[0] == 0)
pages = [
    st.Page(label.page, title="Label", url_path="label", default=not empty),
    st.Page(review.page, title="Review", url_path="review"),
    st.Page(train.page, title="Train", url_path="train"),
    st.Page(monitor.page, title="Monitor", url_path="monitor"),
    st.Page(dataset.page, title="Dataset", url_path="dataset", default=empty),
]
sidebar(ws)
st.navigation(pages).run()
