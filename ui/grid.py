"""A grid of frames to tick, with one button per class that labels the ticked ones as one action."""

from collections.abc import Callable

import streamlit as st

GRID_COLUMNS = 6


def grid_ui(ws, frames: list, key: str, *, ticked_ids: set[int] | None = None,
            note: Callable[[dict], str] | None = None) -> tuple[list[int], int] | None:
    """Frames in a grid, each ticked (or those in ticked_ids); a button per class labels the ticked
    ones as one action. note: more caption for a frame.

    Only frames the page showed before the click are labeled: a frame that joined the grid
    since (a new look-alike, a newly captured frame) was never seen, ticked or not.
    """
    shown_before = st.session_state.get(f"{key}-shown", set())
    st.session_state[f"{key}-shown"] = {frame["id"] for frame in frames}
    columns = st.columns(GRID_COLUMNS)
    ticked = []
    for i, frame in enumerate(frames):
        column = columns[i % GRID_COLUMNS]
        when = f"{frame['timestamp_s']:.0f} s" if frame["timestamp_s"] is not None else frame["file_name"]
        labeled = f" · {ws.config.classes[frame['label']]}" if frame["label"] is not None else ""
        column.image(str(ws.frames_dir / frame["file_name"]), caption=when + labeled + (note(frame) if note else ""))
        default = ticked_ids is None or frame["id"] in ticked_ids
        if column.checkbox("include", value=default, key=f"{key}-tick-{frame['id']}", label_visibility="collapsed"):
            ticked.append(frame["id"])
    target = ws.config.classes[1]
    buttons = st.columns(len(ws.config.classes))
    for i, name in enumerate(ws.config.classes):
        text = f"None of the ticked show {target}" if i == 0 else f"All ticked show {name}"
        seen = [frame_id for frame_id in ticked if frame_id in shown_before]
        if buttons[i].button(text, key=f"{key}-as-{i}") and seen:
            return seen, i
    return None
