"""Lookout's app: navigation and the shared sidebar; each page lives in ui/."""

import streamlit as st

from ui import dataset
from ui.workspace import current_workspace, sidebar

st.set_page_config(page_title="Lookout", layout="wide")
pages = [st.Page(dataset.page, title="Dataset", url_path="dataset", default=True)]
sidebar(current_workspace())
st.navigation(pages).run()
