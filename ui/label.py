"""Label page: one frame large, a key per class, skip and undo; the next frame without a reload."""

import streamlit as st

from data import LookoutError
from data.labels import label_counts, set_label, undo
from labeler.labeling import next_to_label
from trainer.features import FeatureCache
from trainer.train import feature_cache_dir
from ui.workspace import active_model, current_workspace


def _label(ws, frame_id: int, label: int) -> None:
    try:
        set_label(ws, frame_id, label)
    except LookoutError as exc:
        st.session_state.label_error = str(exc)


def _skip(frame_id: int) -> None:
    skipped = st.session_state.setdefault("skipped", [])
    if frame_id in skipped:
        skipped.remove(frame_id)
    skipped.append(frame_id)


def _undo(ws) -> None:
    if not undo(ws):
        st.session_state.label_error = "Nothing to undo."


def model_guess(ws, sha256: str) -> tuple[str, float] | None:
    """The active model's most likely class for a frame whose features are already cached."""
    try:
        model, backbone = active_model(ws)
    except LookoutError:
        return None
    if model is None:
        return None
    features = FeatureCache(feature_cache_dir(ws), backbone).get(sha256)
    if features is None:
        return None  # computing features here would slow every key press; the queue computes them
    probs = model.head.predict_proba(features[None])[0]
    best = int(probs.argmax())
    return model.classes[best], float(probs[best])


@st.fragment
def labeling_ui(ws) -> None:
    """Reruns on its own, so a key press swaps the frame without reloading the page."""
    classes = ws.config.classes
    counts = label_counts(ws)
    st.caption(" · ".join(f"{name}: {n}" for name, n in counts.items()))
    if error := st.session_state.pop("label_error", None):
        st.error(error)
    frame = next_to_label(ws, skipped=tuple(st.session_state.get("skipped", [])))
    if frame is None:
        st.success("Every frame is labeled. Train a model on the Train page, or capture more frames.")
        return
    where = f"from video {frame['video_id']} at {frame['timestamp_s']:.1f} s" if frame["video_id"] else "imported"
    picture, controls = st.columns([1, 1])  # portrait frames: buttons beside the picture, not below the fold
    picture.image(str(ws.frames_dir / frame["file_name"]), caption=f"{frame['file_name']} ({where})", width=360)
    guess = model_guess(ws, frame["sha256"])
    if guess:
        controls.caption(f"The model's guess: {guess[0]} ({guess[1]:.2f})")
    for i, name in enumerate(classes):
        controls.button(f"{name} ({i})", key=f"class-{i}", shortcut=str(i), on_click=_label,
                        args=(ws, frame["id"], i), type="primary" if i else "secondary", width="stretch")
    controls.button("Skip (s)", key="skip", shortcut="s", on_click=_skip, args=(frame["id"],), width="stretch")
    controls.button("Undo (u)", key="undo", shortcut="u", on_click=_undo, args=(ws,), width="stretch")


def page() -> None:
    ws = current_workspace()
    st.title("Label")
    st.write("Press the number of the class you see; **s** skips, **u** undoes the last label.")
    labeling_ui(ws)
