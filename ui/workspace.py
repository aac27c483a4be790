"""The workspace the app works on, shared by every page and session."""

import streamlit as st

from data import Workspace
from data.model_card import ModelCard
from data.untrusted_input import serves_others
from data.workspace import workspace_path
from ui.jobs import JobRegistry


@st.cache_resource
def _open(path: str) -> Workspace:
    return Workspace.open(path)


@st.cache_resource
def jobs() -> JobRegistry:
    """One registry for the server process: jobs outlive reruns and tabs."""
    return JobRegistry()


def current_workspace() -> Workspace:
    return _open(str(workspace_path().resolve()))


def serving_others() -> bool:
    """Whether people on other computers can open this app (then server paths stay private)."""
    return serves_others(st.get_option("server.address"))


def sidebar(ws: Workspace) -> None:
    # No label counts here: the sidebar redraws only with the whole page, so beside the Label
    # page's own counts (which change with every key) it showed stale numbers.
    if not serving_others():
        st.sidebar.caption(f"Workspace: `{ws.root}`")


@st.cache_resource(max_entries=2)
def _model_and_backbone(root: str, version: str):
    from trainer.predict import backbone_for
    from trainer.registry import load_model

    ws = _open(root)
    model = load_model(ws, version)
    return model, backbone_for(ws, model)


def active_model(ws: Workspace):
    """(model, backbone) of the active version, loaded once per version; (None, None) before any.
    Loading imports Keras (seconds): pages that only show the model use active_card."""
    from trainer.registry import active_version

    version = active_version(ws)
    return _model_and_backbone(str(ws.root), version) if version else (None, None)


def active_card(ws: Workspace) -> ModelCard | None:
    """The active version's card (its version, backbone, classes, thresholds), read without loading
    the model; None before any model is active."""
    from trainer.registry import active_version, read_card

    version = active_version(ws)
    return read_card(ws, version) if version else None
