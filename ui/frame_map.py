"""Map page: every frame as a point, look-alikes together; draw a box around a cluster to label it
as one undoable action. The map is redrawn in the background when frames gain features."""

import base64
import io

import altair as alt
import pandas as pd
import streamlit as st
from PIL import Image

from data import LookoutError
from data.errors import full_disk_as_error
from data.labels import set_labels
from labeler.frame_map import compute_map, in_box, load_map, map_points
from trainer.registry import load_model
from ui.grid import GRID_COLUMNS
from ui.people import labeler, me, undo_mine
from ui.progress import job_running, job_ui, start_job, start_unless_failed
from ui.similar import UPDATED_ON_PAGE, search_index
from ui.words import counted
from ui.workspace import active_card, current_workspace

MAX_DRAWN = 20_000  # points drawn; a box still selects every frame inside it
THUMBNAILS_UP_TO = 800  # points whose hover shows the picture: each carries a small JPEG
SHOWN_SELECTED = 24
COLOURS = {"label": "Label", "score": "Model score", "disagreement": "Label and model disagree"}


@st.cache_data(max_entries=5000, show_spinner=False)
def thumbnail(path: str) -> str:
    image = Image.open(path)
    image.thumbnail((96, 96))
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def with_colour(ws, points: pd.DataFrame, colour: str, thresholds_note: str) -> tuple[pd.DataFrame, alt.Color]:
    names = ws.config.classes
    points = points.assign(labeled=[names[int(v)] if pd.notna(v) else "unlabeled" for v in points.label])
    if colour == "score":
        return points, alt.Color("score:Q", title="model score", scale=alt.Scale(scheme="viridis", domain=[0, 1]))
    if colour == "disagreement":
        agree = [("unlabeled" if pd.isna(label) else "agree" if int(label) == int(call) else "disagree")
                 for label, call in zip(points.label, points.call)]
        points = points.assign(model=agree)
        scale = alt.Scale(domain=["disagree", "agree", "unlabeled"], range=["#d62728", "#2ca02c", "#cccccc"])
        return points, alt.Color("model:N", title=thresholds_note, scale=scale)
    palette = ["#c7c7c7", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    return points, alt.Color("labeled:N", title="label", scale=alt.Scale(domain=["unlabeled", *names], range=palette))


def model_says(ws, scores) -> list[str]:
    """The hover's words for a model score: "Trump 1.00", not "score 0.999245643616"."""
    targets = ws.config.classes[1:]
    name = targets[0] if len(targets) == 1 else "most likely target"
    return [f"{name} {score:.2f}" for score in scores]


def chart(ws, points: pd.DataFrame, colour: alt.Color) -> alt.Chart:
    tooltip = [alt.Tooltip("file_name:N", title="frame"), alt.Tooltip("labeled:N", title="label")]
    if "score" in points:
        points = points.assign(model_says=model_says(ws, points.score))
        tooltip.append(alt.Tooltip("model_says:N", title="the model says"))
    if len(points) <= THUMBNAILS_UP_TO:
        points = points.assign(image=[thumbnail(str(ws.frames_dir / name)) for name in points.file_name])
        tooltip.append(alt.Tooltip("image:N", title="image"))  # shown as the picture itself
    box = alt.selection_interval(name="box", encodings=["x", "y"])
    return (alt.Chart(points[[c for c in points if c != "label"]]).mark_circle(size=30, opacity=0.7)
            .encode(x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None), color=colour, tooltip=tooltip)
            .add_params(box).properties(height=560))


def selection_ui(ws, points: pd.DataFrame, box: dict) -> None:
    """The frames inside the box: a sample to look at, then one button per class."""
    selected = in_box(points, box)
    unlabeled = selected[selected.label.isna()]
    st.write(f"**{counted(len(selected), 'frame')} selected**, {len(unlabeled)} of them unlabeled.")
    keep = st.checkbox("Leave frames that already have a label as they are", value=True, key="map-keep")
    target = unlabeled if keep else selected
    columns = st.columns(GRID_COLUMNS)
    for i, row in enumerate(selected.head(SHOWN_SELECTED).itertuples()):
        columns[i % GRID_COLUMNS].image(str(ws.frames_dir / row.file_name), caption=row.file_name)
    if len(selected) > SHOWN_SELECTED:
        st.caption(f"The first {SHOWN_SELECTED} of {len(selected)} shown.")
    if labeler() is None:
        st.caption("Give your name in the sidebar to label the selection.")
        return
    buttons = st.columns(len(ws.config.classes))
    ids = target.id.astype(int).tolist()
    for i, name in enumerate(ws.config.classes):
        # the frames bound now, as shown: a map redrawn before the click must not move the box onto others
        buttons[i].button(f"Label {counted(len(ids), 'frame')} {name}", key=f"map-as-{i}", disabled=not ids,
                          on_click=_label_selection, args=(ws, ids, i))


def _label_selection(ws, ids: list[int], label: int) -> None:
    try:
        with full_disk_as_error(ws.root):  # a button's callback runs before the page: say why it failed
            set_labels(ws, dict.fromkeys(ids, label), **me(), reason="map selection")
    except LookoutError as exc:
        st.session_state.map_error = str(exc)
        return
    st.session_state.map_note = f"{counted(len(ids), 'frame')} labeled {ws.config.classes[label]}; one undo restores them all."


def page() -> None:
    ws = current_workspace()
    st.title("Map")
    st.write("Every frame as a point: frames that look alike sit together. Drag a box around a group to label it at once.")
    try:
        card = active_card(ws)
        backbone, index = search_index(ws)
        new = index.new_frames()
        if new <= UPDATED_ON_PAGE:
            index.update(compute=False)
    except LookoutError as exc:
        st.error(str(exc))
        return
    frame_map = load_map(index)
    version = card.version if card else ""

    def redraw(compute_features=False):
        def draw(job):
            job.progress("loading the model", 0, 0)
            model = load_model(ws, version) if version else None  # in the job: the page does not wait for Keras
            thresholds = model.thresholds(ws.config.frame_rule) if model is not None else None
            return compute_map(ws, index, model=model, thresholds=thresholds, progress=job.progress,
                               should_stop=job.cancel.is_set, compute_features=compute_features)
        return draw

    stale = (frame_map is None or frame_map.indexed != len(index.shas) or frame_map.model_version != version
             or new > UPDATED_ON_PAGE)
    if stale and (len(index.shas) or new > UPDATED_ON_PAGE):
        start_unless_failed(ws, "map", redraw())  # frames gained features or the model changed since it was drawn
    if index.unindexed:
        st.caption(f"{counted(index.unindexed, 'frame')} without features yet, so not on the map.")
        if st.button(f"Compute features for {counted(index.unindexed, 'frame')} and redraw"):
            start_job(ws, "map", redraw(compute_features=True))
    job_ui(ws, "map", "Drawing the map", lambda m: f"The map shows {counted(len(m.shas), 'frame')}.")
    if frame_map is None or not len(frame_map.shas):
        if not job_running(ws, "map"):
            st.info("No frame has features yet: import frames and train a model, or compute features above.")
        return
    if note := st.session_state.pop("map_note", None):
        st.success(note)
    if error := st.session_state.pop("map_error", None):
        st.error(error)
    points = map_points(ws, frame_map)
    options = ["label", *(["score", "disagreement"] if frame_map.calls is not None else [])]
    colour = st.radio("Colour by", options, format_func=COLOURS.get, horizontal=True)
    if frame_map.model_version and frame_map.model_version != version:
        st.caption(f"Scores are model {frame_map.model_version}'s; the map is being redrawn for the active one.")
    faceless = len(index.shas) - len(frame_map.shas)
    if faceless > 0 and backbone.name == "face":
        st.caption(f"{counted(faceless, 'frame')} without a face, so not on the map.")
    drawn = points if len(points) <= MAX_DRAWN else points.sample(MAX_DRAWN, random_state=0)
    if len(drawn) < len(points):
        st.caption(f"{len(drawn)} of {len(points)} frames drawn; a box selects every frame inside it.")
    drawn, encoding = with_colour(ws, drawn, colour, f"model {frame_map.model_version}")
    event = st.altair_chart(chart(ws, drawn, encoding), on_select="rerun", selection_mode="box", key="frame-map",
                            width="stretch")
    box = event["selection"].get("box") if event else None  # a dict in tests, a dict with attributes live
    if box and "x" in box and "y" in box:
        selection_ui(ws, points, box)
    if st.button("Undo my last label action", disabled=labeler() is None):
        st.session_state.map_note = undo_mine(ws) or "Nothing of yours to undo in this browser."
        st.rerun()
