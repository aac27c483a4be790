"""Train page: one-click retraining with live progress and cancel, metrics, versions, activation."""

import json
import re

import pandas as pd
import streamlit as st

from data.config import BACKBONES
from data.labels import mapping_rows
from data.mapping_csv import format_mapping_csv
from trainer.registry import activate, active_version, list_models
from ui.dataset import BACKBONE_HELP
from ui.progress import job_running, job_ui, start_job
from ui.workspace import current_workspace


def train_ui(ws) -> str | None:
    """The backbone the user asks to train with, once they press Train."""
    backbone = st.selectbox("Backbone", BACKBONES, index=BACKBONES.index(ws.config.backbone), help=BACKBONE_HELP)
    return backbone if st.button("Train a new model", type="primary") else None


def train(ws, backbone: str, job):
    from trainer.train import train_model  # TensorFlow loads when the first training starts, not with the page

    return train_model(ws, backbone=backbone, progress=job.progress, should_stop=job.cancel.is_set)


def _slug(text: str) -> str:
    return re.sub(r"[^\w]+", "_", text).strip("_").lower() or "model"


def download_name(project: str, targets, version: str) -> str:
    """<project>-<target>-<version>.h5: a model kept among others still says what it is."""
    return f"{_slug(project)}-{_slug('_'.join(targets))}-{version}.h5"


def describe_training(result) -> str:
    return f"Model {result.version} trained. Activate it below to use it in the monitor."


def metrics_ui(card: dict) -> None:
    validation = card["validation"]
    st.dataframe(pd.DataFrame(validation["per_class"]).T, width="content")
    classes = card["classes"]
    st.write("Confusion matrix (rows: true class, columns: predicted)")
    st.dataframe(pd.DataFrame(validation["confusion_matrix"], index=classes, columns=classes), width="content")
    for name, curve in validation["pr_curves"].items():
        if curve["recall"]:
            st.write(f"Precision-recall for {name}")
            st.line_chart(pd.DataFrame({"precision": curve["precision"]}, index=curve["recall"]))


def page() -> None:
    ws = current_workspace()
    st.title("Train")
    backbone = train_ui(ws)
    if backbone:
        start_job(ws, "train", lambda job: train(ws, backbone, job))
    job_ui(ws, "train", "Training", describe_training, cancel="Cancel training")
    models = list_models(ws)
    if not models:
        if job_running(ws, "train"):
            st.info("The first model is training; it appears here when it is done.")
        else:
            st.info("No model yet. Label frames of each class, then press Train.")
        return
    active = active_version(ws)
    versions = [m["version"] for m in models]
    chosen = st.selectbox("Model version", versions, index=versions.index(active) if active in versions else 0,
                          format_func=lambda v: f"{v} (active)" if v == active else v)
    card = next(m for m in models if m["version"] == chosen)
    st.caption(f"{card['backbone']} · trained on {json.dumps(card['label_counts'])} · {card['split']['grouping']}")
    if reliability := card["split"].get("reliability"):
        (st.warning if reliability.startswith("rough") else st.caption)(f"Validation figures: {reliability}")
    metrics_ui(card)
    if chosen != active and st.button("Activate for the monitor"):
        activate(ws, chosen)
        st.success(f"{chosen} is now the model the monitor uses.")
    st.download_button("Download model.h5", (ws.models_dir / chosen / "model.h5").read_bytes(),
                       file_name=download_name(ws.config.name, ws.config.classes[1:], chosen))
    st.download_button("Download mapping_trump.csv", format_mapping_csv(mapping_rows(ws.db)), file_name="mapping_trump.csv")
