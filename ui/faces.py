"""'Which face?' beside a frame: the faces the active face model found in it, each boxed with its score."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from data.errors import LookoutError
from ui.workspace import active_card, active_model


def which_face_ui(ws, image: Path, *, key: str, where=st) -> None:
    """A button that boxes each face of the frame with the model's score for it (face models only)."""
    card = active_card(ws)
    if card is None or card.get("backbone") != "face":
        return
    if not where.button("Which face?", key=key, help="Find the faces in this frame and show what the model says of each"):
        return
    from data.images import load_rgb
    from trainer.face_scores import drawn, faces_in_words, scored_faces

    try:
        with st.spinner("Finding the faces in this frame..."):
            model, backbone = active_model(ws)
            rgb = load_rgb(image)
            faces = scored_faces(model, backbone, rgb)
    except LookoutError as exc:
        where.error(str(exc))
        return
    where.image(drawn(rgb, faces, model.classes), caption=faces_in_words(faces, model.classes), width=360)
