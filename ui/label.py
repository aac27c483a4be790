"""Label page: one frame large, a key per class, skip and undo; the next frame without a reload."""

import streamlit as st

from data import LookoutError
from data.labels import label_counts, set_label, undo
from labeler.labeling import next_to_label
from trainer.features import FeatureCache
from trainer.train import feature_cache_dir
from ui.workspace import active_model, current_workspace


def _press(ws, frame_id: int, name: str, label: int | None) -> None:
    """A class key (or skip, label None) pressed on frame `frame_id`.

    Each frame's buttons are its own widgets, so a press always names the frame it was made
    on. Only the frame on screen takes a press, and only one: a press that arrives for a frame
    already answered (the browser had not yet drawn the next one) is refused, visibly,
    instead of landing on a frame the person never saw.
    """
    state = st.session_state
    if state.get("on_screen") != frame_id:
        state.refused = state.get("refused", 0) + 1
        state.refused_note = f"A press for {name} came after it was answered; press again for the frame shown now."
        return
    state.on_screen = None
    if label is None:
        skipped = state.setdefault("skipped", [])
        if frame_id in skipped:
            skipped.remove(frame_id)
        skipped.append(frame_id)
        return
    try:
        set_label(ws, frame_id, label)
    except LookoutError as exc:
        state.label_error = str(exc)


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
    if note := st.session_state.pop("refused_note", None):
        st.warning(f"Not applied: {note} ({st.session_state.refused} refused this session)")
    frame = next_to_label(ws, skipped=tuple(st.session_state.get("skipped", [])))
    st.session_state.on_screen = frame["id"] if frame else None
    if frame is None:
        st.success("Every frame is labeled. Train a model on the Train page, or capture more frames.")
        return
    where = f"from video {frame['video_id']} at {frame['timestamp_s']:.1f} s" if frame["video_id"] else "imported"
    picture, controls = st.columns([1, 1])  # portrait frames: buttons beside the picture, not below the fold
    picture.image(str(ws.frames_dir / frame["file_name"]), caption=f"{frame['file_name']} ({where})", width=360)
    guess = model_guess(ws, frame["sha256"])
    if guess:
        controls.caption(f"The model's guess: {guess[0]} ({guess[1]:.2f})")
    shown = (ws, frame["id"], frame["file_name"])
    for i, name in enumerate(classes):
        controls.button(f"{name} ({i})", key=f"class-{i}-{frame['id']}", shortcut=str(i), on_click=_press,
                        args=(*shown, i), type="primary" if i else "secondary", width="stretch")
    controls.button("Skip (s)", key=f"skip-{frame['id']}", shortcut="s", on_click=_press, args=(*shown, None),
                    width="stretch")
    if refused := st.session_state.get("refused"):
        controls.caption(f"{refused} refused presses this session: each came for a frame already answered.")
    controls.button("Undo (u)", key="undo", shortcut="u", on_click=_undo, args=(ws,), width="stretch")


def page() -> None:
    ws = current_workspace()
    st.title("Label")
    st.write("Press the number of the class you see; **s** skips, **u** undoes the last label.")
    labeling_ui(ws)
