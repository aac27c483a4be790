"""'Which face?' beside a frame: the faces the active face model found in it, each boxed with its score."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from data.errors import LookoutError
from ui.workspace import active_card, active_model

SHOWN = "faces-shown"  # the frames whose faces were asked for: shown until the page moves on, through reruns


@st.cache_data(max_entries=32, show_spinner=False)
def _faces_drawn(_ws, version: str, image: str):
    """(the frame with its faces boxed, what they are in words) for one version: found once, not at every rerun."""
    from data.images import load_rgb
    from trainer.face_scores import drawn, faces_in_words, scored_faces

    model, backbone = active_model(_ws)
    rgb = load_rgb(Path(image))
    faces = scored_faces(model, backbone, rgb)
    return drawn(rgb, faces, model.classes), faces_in_words(faces, model.classes)


def which_face_ui(ws, image: Path, *, key: str, where=st) -> None:
    """A button that boxes each face of the frame with the model's score for it (face models only)."""
    try:
        card = active_card(ws)
    except LookoutError:  # the page says what is wrong with the model; the button is not offered
        return
    if card is None or card.backbone != "face":
        return
    shown = st.session_state.setdefault(SHOWN, set())
    # a callback, not the button's value: it is kept when the run the click asked for is cut short by another
    where.button("Which face?", key=key, on_click=shown.add, args=(key,),
                 help="Find the faces in this frame and show what the model says of each")
    if key not in shown:
        return
    try:
        with st.spinner("Finding the faces in this frame..."):
            picture, words = _faces_drawn(ws, card.version, str(image))
    except LookoutError as exc:
        where.error(str(exc))
        return
    where.image(picture, caption=words, width=360)
