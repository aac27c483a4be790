"""Review page: the queue's frames with their reasons, and whole-video judgements."""

import streamlit as st

from data import LookoutError
from labeler.judgements import judge_video, judgement
from labeler.queue import current_queue, label_item, skip
from ui.workspace import active_model, current_workspace


def item_ui(ws, item) -> tuple[int | None, bool, bool]:
    """Shows one queue item; returns (chosen class, apply to duplicates, skip)."""
    where = f"video {item.video_id} at {item.timestamp_s:.1f} s" if item.video_id else "imported"
    st.image(str(ws.frames_dir / item.file_name), caption=f"{item.file_name} ({where})", width=420)
    st.markdown(f"**Why:** {item.reason}  \n*strategy: {item.strategy}*")
    with_duplicates = True
    if item.duplicates:
        with_duplicates = st.checkbox(f"Apply to its {len(item.duplicates)} near-identical frames", value=True)
    columns = st.columns(len(ws.config.classes) + 1)
    chosen = None
    for i, name in enumerate(ws.config.classes):
        if columns[i].button(f"{name} ({i})", key=f"review-{i}", shortcut=str(i)):
            chosen = i
    skipped = columns[-1].button("Skip (s)", key="review-skip", shortcut="s")
    return chosen, with_duplicates, skipped


def judgement_ui(ws) -> tuple[int, bool] | None:
    """A video and the user's judgement of it, once given."""
    videos = ws.db.execute("SELECT id, path, url FROM videos ORDER BY id DESC").fetchall()
    if not videos:
        return None
    target = ws.config.classes[1]
    names = {v["id"]: f"{v['id']}: {v['url'] or v['path']}" for v in videos}
    video_id = st.selectbox("Video", list(names), format_func=names.get)
    frames = ws.db.execute(
        "SELECT file_name FROM frames WHERE video_id = ? ORDER BY timestamp_s LIMIT 12", (video_id,)
    ).fetchall()
    if frames:
        columns = st.columns(6)
        for i, frame in enumerate(frames):
            columns[i % 6].image(str(ws.frames_dir / frame["file_name"]))
    state = judgement(ws, video_id)
    if state is not None:
        st.caption(f"You judged: {target} {'present' if state else 'absent'}")
    left, right = st.columns(2)
    if left.button(f"{target} is in this video"):
        return video_id, True
    if right.button(f"None of these show {target}"):
        return video_id, False
    return None


def page() -> None:
    ws = current_workspace()
    st.title("Review")
    try:
        model, backbone = active_model(ws)
        with st.spinner("Ranking frames..."):
            queue = current_queue(ws, model=model, backbone=backbone)
    except LookoutError as exc:
        st.error(str(exc))
        return
    if not queue:
        st.success("Nothing to review right now.")
    else:
        st.caption(f"{len(queue)} frames in the queue")
        item = queue[0]
        chosen, with_duplicates, skipped = item_ui(ws, item)
        if chosen is not None:
            label_item(ws, item, chosen, with_duplicates=with_duplicates)
            st.rerun()
        if skipped:
            skip(ws, item.frame_id)
            st.rerun()
    st.subheader("Whole videos")
    request = judgement_ui(ws)
    if request:
        video_id, present = request
        labeled = judge_video(ws, video_id, present=present)
        st.success(f"Recorded. {labeled} frames labeled {ws.config.classes[0]}." if labeled else "Recorded.")
