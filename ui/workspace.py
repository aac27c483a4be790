"""The workspace the app works on, shared by every page and session."""

import os
import threading

import streamlit as st

from data import Workspace
from data.frames import frame_count
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


@st.cache_resource(max_entries=2, show_spinner=False)
def _loaded_backbone(name: str, configured: str, descriptor: str, weights_from_env: str | None):
    from trainer.backbones import load_backbone

    return load_backbone(name, configured=configured, descriptor=descriptor)


def project_backbone_once(ws: Workspace):
    """The project's backbone (what is trained next), loaded once per server: each training loaded its own,
    and showed "loading TensorFlow" for 17-60 s every time. On a Ray cluster, the cluster's (not kept)."""
    from data.config import ray_address
    from trainer.predict import chosen_backbone, project_backbone

    if ray_address(ws.config):
        return project_backbone(ws)
    return _loaded_backbone(chosen_backbone(ws), ws.config.vgg16_weights, ws.config.face_descriptor,
                            os.environ.get("LOOKOUT_VGG16_WEIGHTS"))


@st.cache_resource(show_spinner=False)
def warm_up(root: str) -> threading.Thread | None:
    """Once per server, in the background, for a workspace with frames: TensorFlow and the project's backbone load
    while the first page is read, so that the first training, "More like this" or review ranking does not wait for
    them. Not for an empty workspace: a first import on a busy 2-core machine went from 10 s to over 2 minutes beside
    it. A failure here is only logged: the action that needs the backbone says what went wrong, in words."""
    ws = _open(root)
    if not frame_count(ws.db):
        return None

    def load():
        try:
            project_backbone_once(ws)  # TensorFlow and Keras with it
        except Exception:  # noqa: BLE001 - shown by whatever needs the backbone, when it is asked for
            import logging

            logging.getLogger(__name__).info("the backbone did not load ahead of time", exc_info=True)

    thread = threading.Thread(target=load, name="warm-up", daemon=True)
    thread.start()
    return thread
