"""Label page: one frame large, a key per class, skip and undo; the next frame without a reload."""

from functools import wraps

import streamlit as st

from data import LookoutError
from data.errors import full_disk_as_error
from data.labels import label_counts, set_label
from labeler.leases_and_opinions import give_second_opinion, next_for_second_opinion, next_to_label, withdraw_second_opinion
from trainer.model_scores import frame_guess
from ui.faces import which_face_ui
from ui.label_keys import frame_and_keys, new_presses
from ui.people import labeler, me, require_labeler, undo_mine
from ui.progress import session_token
from ui.similar import more_like_this_button, similar_ui
from ui.words import counted, frame_origin
from ui.workspace import active_card, active_model, current_workspace

KEYS = "label-keys"
SECOND_OPINION = "second_opinion"  # session state: this session gives blind second opinions
# Session state: what the last press or undo said. Kept until the next one, not for one rerun: a busy
# server gets the browser's presses again before it has answered them, and that rerun took the message away.
ERROR, NOTE, REFUSED = "label_page_error", "label_page_note", "label_page_refused"


def _say(kind: str | None = None, message: str = "") -> None:
    """What this press or undo says (kind: ERROR, NOTE or REFUSED; None: nothing), in place of the last one's."""
    for key in (ERROR, NOTE, REFUSED):
        st.session_state.pop(key, None)
    if kind:
        st.session_state[kind] = message


def _said_if_failed(action):
    """A press or undo runs in a button's callback, before the page: what stops it (a full disk,
    a class that is gone) is said on the page, not left to a traceback."""

    @wraps(action)
    def run(ws, *args) -> None:
        try:
            with full_disk_as_error(ws.root):
                action(ws, *args)
        except LookoutError as exc:
            _say(ERROR, str(exc))

    return run


@_said_if_failed
def _press(ws, frame_id: int | None, label: int | None) -> None:
    """A class (or skip, label None) chosen for frame `frame_id`.

    Every press names the frame it was made on (each frame has its own buttons, and key
    presses carry the frame the browser showed). Only the frame on screen takes a press, and
    only one: a press that arrives for a frame already answered (the browser had not drawn
    the next one yet) is refused, visibly, instead of landing on a frame nobody saw.
    """
    state = st.session_state
    if frame_id is None or state.get("on_screen") != frame_id:
        state.refused = state.get("refused", 0) + 1
        _say(REFUSED, "a press came for a frame already answered; press again for the frame shown now.")
        return
    _say()
    state.on_screen = None
    if label is None:
        skipped = state.setdefault("skipped", [])
        if frame_id in skipped:
            skipped.remove(frame_id)
        skipped.append(frame_id)
        return
    if state.get(SECOND_OPINION):
        give_second_opinion(ws, frame_id, label, who=labeler())
        state.last_opinion = frame_id
    else:
        set_label(ws, frame_id, label, **me())


@_said_if_failed
def _undo(ws) -> None:
    """Undo this person's last action; another person's labels are theirs to undo."""
    if st.session_state.get(SECOND_OPINION):
        frame_id = st.session_state.pop("last_opinion", None)
        if frame_id is None:
            _say(ERROR, "No second opinion of yours to undo in this session.")
        else:
            withdraw_second_opinion(ws, frame_id, who=labeler())
            _say(NOTE, "Undone: your last second opinion.")
        return
    said = undo_mine(ws)
    _say(NOTE, said) if said else _say(ERROR, "Nothing of yours to undo in this browser.")


def _keys_pressed(ws) -> None:
    """Apply the browser's key presses in the order they were made."""
    for press in new_presses(KEYS):
        if press["key"] == "u":
            _undo(ws)
        else:
            _press(ws, press["frame"], None if press["key"] == "s" else int(press["key"]))


def model_guess(ws, sha256: str) -> tuple[str, float] | None:
    """The active model's likeliest class for the frame (trainer.model_scores.frame_guess), or None."""
    try:
        card = active_card(ws)
        return None if card is None else frame_guess(ws, card, sha256, lambda: active_model(ws))
    except LookoutError:
        return None


@st.fragment
def labeling_ui(ws) -> None:
    """Reruns on its own, so a key press swaps the frame without reloading the page."""
    classes = ws.config.classes
    counts = label_counts(ws)
    st.caption(" · ".join(f"{name}: {n}" for name, n in counts.items()))
    second = st.session_state.get(SECOND_OPINION, False)
    pick = next_for_second_opinion if second else next_to_label
    frame, cannot_pick = None, None
    try:
        with full_disk_as_error(ws.root):  # picking a frame writes: it is reserved for this person
            frame = pick(ws, session=session_token(), who=labeler(), skipped=tuple(st.session_state.get("skipped", [])))
    except LookoutError as exc:
        cannot_pick = str(exc)
    st.session_state.on_screen = frame["id"] if frame else None
    if error := cannot_pick or st.session_state.get(ERROR):
        st.error(error)
    if note := st.session_state.get(NOTE):
        st.info(note)
    if note := st.session_state.get(REFUSED):
        st.warning(f"Not applied: {note} ({st.session_state.refused} refused this session)")
    if cannot_pick:
        st.button("Try again", key="label-try-again")
        return
    picture, controls = st.columns([1, 1])  # portrait frames: buttons beside the picture, not below the fold
    where = "" if frame is None else frame_origin(ws, frame["video_id"], frame["timestamp_s"])
    with picture:
        frame_and_keys(key=KEYS, frame=st.session_state.on_screen, keys=[*map(str, range(len(classes))), "s", "u"],
                       image=ws.frames_dir / frame["file_name"] if frame else None,
                       caption=f"{frame['file_name']} ({where})" if frame else "", on_press=lambda: _keys_pressed(ws))
    if frame is None:
        st.success("No frame is left for a second opinion from you." if second else
                   "Every frame is labeled, or on another labeler's screen. Train a model on the Train page, "
                   "or capture more frames.")
        return
    guess = None if second else model_guess(ws, frame["sha256"])  # a second opinion is given blind
    if guess:
        controls.caption(f"The model's guess: {guess[0]} ({guess[1]:.2f})")
    for i, name in enumerate(classes):
        controls.button(f"{name} ({i})", key=f"class-{i}-{frame['id']}", on_click=_press,
                        args=(ws, frame["id"], i), type="primary" if i else "secondary", width="stretch")
    controls.button("Skip (s)", key=f"skip-{frame['id']}", on_click=_press, args=(ws, frame["id"], None),
                    width="stretch")
    if refused := st.session_state.get("refused"):
        controls.caption(f"{counted(refused, 'refused press', 'refused presses')} this session: each came for a frame "
                         "already answered.")
    controls.button("Undo (u)", key="undo", on_click=_undo, args=(ws,), width="stretch")
    if not second:  # a second opinion is given on the frame alone
        more_like_this_button(controls, frame["id"], "label")
        which_face_ui(ws, ws.frames_dir / frame["file_name"], key=f"label-faces-{frame['id']}", where=controls)


def page() -> None:
    ws = current_workspace()
    st.title("Label")
    st.write("Press the number of the class you see; **s** skips, **u** undoes your last label.")
    if require_labeler():
        st.toggle("Second opinion: label frames someone else labeled, without seeing their label", key=SECOND_OPINION,
                  help="Your answers are kept apart and never change a label; the Dataset page shows how often you agree.")
        similar_ui(ws)
        labeling_ui(ws)
