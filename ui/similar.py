"""More like this: any page opens it from a frame; the look-alike frames, unlabeled first, in a
grid that labels the ticked ones as one undoable action."""

import streamlit as st

from data import LookoutError
from data.frames import frame_by_id_or_name
from data.labels import set_labels
from labeler.similar import SimilarityIndex, similar_frames
from trainer.backbones import DeferredBackbone
from ui.grid import grid_ui
from ui.people import labeler, me
from ui.progress import job_ui, start_job, start_unless_failed
from ui.words import counted
from ui.workspace import active_card, active_model, project_backbone_once

SIMILAR = "similar_to"  # session state: the frame whose look-alikes are shown
LIMIT = 24
UPDATED_ON_PAGE = 2_000  # frames new to the search index read while a page draws; more are read by a job
INDEX_JOB = "similar-index"


def more_like_this_button(container, frame_id: int, key: str) -> None:
    """A button that opens the look-alikes of `frame_id` on this page (inside fragments too)."""
    if container.button("More like this", key=f"similar-{key}-{frame_id}", help="frames that look alike, to label at once"):
        st.session_state[SIMILAR] = frame_id
        st.rerun()  # the whole page: the panel sits outside any fragment


@st.cache_resource(max_entries=2)
def _index(root: str, identity: str, _ws, _backbone) -> SimilarityIndex:
    """One index per workspace and backbone for the server: each query only adds new frames."""
    return SimilarityIndex(_ws, _backbone)


@st.cache_resource(max_entries=2)
def _deferred_backbone(root: str, name: str, identity: str, feature_shape: tuple, _ws) -> DeferredBackbone:
    from trainer.predict import project_backbone

    return DeferredBackbone(name, identity, feature_shape, lambda: project_backbone(_ws, name, identity=identity))


def search_index(ws) -> tuple:
    """(backbone, its similarity index): the active model's backbone, or the project's before any model.
    The active model's is known from its card: searching cached features loads no weights."""
    card = active_card(ws)
    if card is not None and card.backbone_identity:
        backbone = _deferred_backbone(str(ws.root), card.backbone, card.backbone_identity, card.input_shape, ws)
    else:  # before any model, or a tutorial model whose card does not say which features it was trained on
        model, backbone = active_model(ws)
        if model is None:
            with st.spinner("Loading the backbone..."):
                backbone = project_backbone_once(ws)
    return backbone, _index(str(ws.root), backbone.identity, ws, backbone)


def similar_ui(ws) -> None:
    """The panel, when a "More like this" button was pressed in this session."""
    frame_id = st.session_state.get(SIMILAR)
    if frame_id is None:
        return
    with st.container(border=True):
        title, close = st.columns([5, 1])
        if close.button("Close", key="similar-close"):
            st.session_state.pop(SIMILAR, None)
            st.rerun()
        try:
            backbone, index = search_index(ws)
            new = index.new_frames()
            if new > UPDATED_ON_PAGE:  # reading them would hold the page (half a minute for 100,000 vgg16 frames)
                start_unless_failed(ws, INDEX_JOB, lambda job: index.update(compute=False, progress=job.progress))
            found, index = similar_frames(ws, backbone, frame_id, limit=LIMIT, compute=False, index=index,
                                          update=new <= UPDATED_ON_PAGE)
        except LookoutError as exc:
            st.warning(str(exc))
            return
        query = frame_by_id_or_name(ws.db, frame_id)
        title.subheader(f"More like {query['file_name']}")
        title.image(str(ws.frames_dir / query["file_name"]), width=160)
        if new > UPDATED_ON_PAGE:
            st.caption(f"{new} frames are new since the last search: they are being added, and their look-alikes "
                       "show here once they are.")
        if index.unindexed:
            st.caption(f"{counted(index.unindexed, 'frame')} without features yet, so not searched.")
            if st.button(f"Compute features for {counted(index.unindexed, 'frame')}", key="similar-compute"):
                start_job(ws, INDEX_JOB, lambda job: index.update(progress=job.progress, should_stop=job.cancel.is_set))
        job_ui(ws, INDEX_JOB, "Updating the search", lambda added: f"{counted(added, 'frame')} added to the search.")
        if not found:
            st.info("No other frame to compare with yet.")
            return
        nearness = {n.frame_id: rank for rank, n in enumerate(sorted(found, key=lambda n: n.distance), start=1)}
        frames = [{"id": n.frame_id, "file_name": n.file_name, "label": n.label, "timestamp_s": n.timestamp_s,
                   "nearness": nearness[n.frame_id]} for n in sorted(found, key=lambda n: n.label is not None)]
        st.caption("Unlabeled frames first, nearest first; the unlabeled ones are ticked.")
        if labeler() is None:
            st.caption("Give your name in the sidebar to label these.")
        picked = grid_ui(ws, frames, key=f"similar-{frame_id}", ticked_ids={f["id"] for f in frames if f["label"] is None},
                         note=lambda f: f" · look-alike no. {f['nearness']}")
        if picked and labeler() is not None:
            ticked, label = picked
            set_labels(ws, dict.fromkeys(ticked, label), **me(), reason="more like this")
            st.session_state.similar_note = (f"{counted(len(ticked), 'frame')} labeled "
                                             f"{ws.config.classes[label]}; one undo restores them.")
            st.rerun()
        if note := st.session_state.pop("similar_note", None):
            st.success(note)
