"""Review page: the queue's frames with their reasons, grids of near-duplicates and of whole
videos with bulk labels, and video-level judgements."""

from pathlib import Path

import streamlit as st

from data import LookoutError
from data.frames import frame_count, frames_in_time_order, frames_of_video
from data.labels import set_labels
from data.monitor_records import videos_newest_first
from labeler.judgements import judge_video, judgement
from labeler.queue import STRATEGY_NAMES, kept_queue, label_item, rank_more, skip
from trainer.registry import active_version
from ui.faces import which_face_ui
from ui.grid import grid_ui
from ui.people import me, require_labeler, undo_mine
from ui.progress import job_key, job_ui, start_unless_failed
from ui.similar import more_like_this_button, similar_ui
from ui.words import counted, frame_origin
from ui.workspace import active_card, active_model, current_workspace, jobs

VIDEO_GRID_LIMIT = 60
RANK_JOB = "review-queue"
RANK_AHEAD_AT = 10  # items left when the next ones are ranked, in the background
NOTHING_LEFT = ("Nothing left that needs you: every frame the model is unsure of or would alert on, every label that "
                "may be wrong and the random checks are answered. New frames (from the monitor or a captured video) "
                "or a new version bring more.")


def item_ui(ws, item) -> tuple[int | None, bool]:
    """Shows one queue item, its controls beside it (portrait frames); returns (chosen class, skip)."""
    where = frame_origin(ws, item.video_id, item.timestamp_s)
    picture, controls = st.columns([1, 1])
    picture.image(str(ws.frames_dir / item.file_name), caption=f"{item.file_name} ({where})", width=360)
    controls.markdown(f"**Why:** {item.reason}  \n*{STRATEGY_NAMES.get(item.strategy, item.strategy)}*")
    if item.duplicates:
        controls.caption(f"Labeling it labels its {len(item.duplicates)} near-identical frames too; "
                         "open them below to label some differently.")
    chosen = None
    for i, name in enumerate(ws.config.classes):
        # keys bound to the frame: a press made on this frame can never land on the next one
        if controls.button(f"{name} ({i})", key=f"review-{i}-{item.frame_id}", shortcut=str(i), width="stretch",
                           type="primary" if i else "secondary"):
            chosen = i
    skipped = controls.button("Skip (s)", key=f"review-skip-{item.frame_id}", shortcut="s", width="stretch")
    if controls.button("Undo (u)", key="review-undo", shortcut="u", width="stretch"):
        said = undo_mine(ws)
        (controls.info if said else controls.warning)(said or "Nothing of yours to undo in this browser.")
    more_like_this_button(controls, item.frame_id, "review")
    which_face_ui(ws, ws.frames_dir / item.file_name, key=f"review-faces-{item.frame_id}", where=controls)
    return chosen, skipped


def cluster_frames(ws, item) -> list:
    return frames_in_time_order(ws.db, [item.frame_id, *item.duplicates])


def video_ui(ws) -> tuple[int, str, object] | None:
    """A video's frames in a grid; returns (video, "judge"|"label", present or (frames, class))."""
    videos = videos_newest_first(ws.db)
    if not videos:
        return None
    target = ws.config.classes[1]
    names = {v["id"]: f"{v['id']}: {v['url'] or Path(v['path']).name}" for v in videos}  # no server paths
    video_id = st.selectbox("Video", list(names), format_func=names.get)
    state = judgement(ws, video_id)
    if state is not None:
        st.caption(f"You judged: {target} {'present' if state else 'absent'}")
    left, right = st.columns(2)
    if left.button(f"{target} is in this video"):
        return video_id, "judge", True
    if right.button(f"{target} is not in this video (label all its frames {ws.config.classes[0]})"):
        return video_id, "judge", False
    frames = frames_of_video(ws.db, video_id, limit=VIDEO_GRID_LIMIT)
    if len(frames) == VIDEO_GRID_LIMIT:
        st.caption(f"The first {VIDEO_GRID_LIMIT} frames; the judgement above covers all of them.")
    if chosen := grid_ui(ws, frames, key=f"video-{video_id}"):
        return video_id, "label", chosen
    return None


def judged_in_words(ws, video_id: int, present: bool, labeled: int) -> str:
    """What a judgement did: "Recorded." alone once hid that a clear negative, whose frames the monitor
    does not keep, had nothing to label."""
    none = ws.config.classes[0]
    if present:
        return "Recorded. Its frames stay in the queue: label the ones that show the target."
    if labeled:
        return f"Recorded; {counted(labeled, 'frame')} labeled {none}."
    if frames_of_video(ws.db, video_id, limit=1):
        return f"Recorded; its frames were all labeled {none} already."
    return (f"Recorded; 0 frames labeled: the monitor kept none of this video's frames. Capture the video "
            f"(Dataset page) and its frames are labeled {none} as they arrive.")


def ranked_queue(ws) -> list | None:
    """The stored queue while it holds for the active model; otherwise it is ranked again in a job
    (up to a minute at 100,000 frames) and None is returned meanwhile. A job, not the page: a reload
    or a colleague opening Review joins the ranking instead of starting it over. When few items are
    left, the next ones are ranked meanwhile (each time the queue ran out, a reviewer waited 78-95 s
    for a ranking that then gave one item)."""
    version = active_version(ws)
    frames = frame_count(ws.db)
    last = jobs().get(job_key(ws, RANK_JOB))
    found_nothing = last is not None and last.finished and last.result == (version, frames, 0)
    if (queue := kept_queue(ws, version)) is not None:
        if len(queue) <= RANK_AHEAD_AT and not found_nothing:
            start_unless_failed(ws, RANK_JOB, lambda job: _rank(ws, version, frames, job))  # joined if running
        return queue
    active_card(ws)  # a damaged model card is named now, not once a job has failed to load the model
    if found_nothing:
        return []  # this model found nothing more to review among these frames: not ranked again until one changes
    start_unless_failed(ws, RANK_JOB, lambda job: _rank(ws, version, frames, job))  # a running ranking is joined
    job_ui(ws, RANK_JOB, "Ranking frames", None)
    return None


def _rank(ws, version: str | None, frames: int, job) -> tuple[str | None, int, int]:
    job.progress("loading the model", 0, 0)  # Keras: seconds
    model, backbone = active_model(ws)
    return version, frames, rank_more(ws, model=model, backbone=backbone, progress=job.progress)


def page() -> None:
    ws = current_workspace()
    st.title("Review")
    if not require_labeler():
        return
    similar_ui(ws)
    try:
        queue = ranked_queue(ws)
    except LookoutError as exc:
        st.error(str(exc))
        return
    if queue is None:
        pass  # being ranked: its progress shows
    elif not queue:
        st.success(NOTHING_LEFT)
    else:
        st.caption(f"{counted(len(queue), 'frame')} in the queue")
        item = queue[0]
        chosen, skipped = item_ui(ws, item)
        if chosen is not None:
            label_item(ws, item, chosen, **me())
            st.rerun()
        if skipped:
            skip(ws, item.frame_id)
            st.rerun()
        if item.duplicates and st.toggle(f"Show the {len(item.duplicates) + 1} near-identical frames", key="cluster"):
            if bulk := grid_ui(ws, cluster_frames(ws, item), key=f"cluster-{item.frame_id}"):
                ticked, label = bulk
                set_labels(ws, dict.fromkeys(ticked, label), source="review", **me(), reason=item.strategy)
                st.rerun()
    st.subheader("Whole videos")
    if message := st.session_state.pop("review_message", None):
        st.success(message)
    if request := video_ui(ws):
        video_id, kind, what = request
        if kind == "judge":
            labeled = judge_video(ws, video_id, present=what, **me())
            message = judged_in_words(ws, video_id, what, labeled)
        else:
            ticked, label = what
            set_labels(ws, dict.fromkeys(ticked, label), source="review", **me(), reason="video grid")
            message = f"{counted(len(ticked), 'frame')} labeled {ws.config.classes[label]}."
        st.session_state.review_message = message
        st.rerun()
