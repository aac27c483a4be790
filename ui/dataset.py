"""Dataset page: name the project's targets, bring in frames (a labeled folder, a zip, videos
or URLs), and see what the workspace holds."""

from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from data import LookoutError
from data.capture import capture_frames
from data.config import BACKBONES
from data.images import IMAGE_SUFFIXES
from data.importer import import_folder, import_zip, last_import_report
from data.labels import label_counts, label_timeline, labels_by_person, open_conflicts, resolve_conflict, set_labels
from data.untrusted_input import server_folder
from data.uploads import save_upload
from data.workspace import define_project
from labeler.leases_and_opinions import withdraw_second_opinion
from monitor.download import VIDEO_SUFFIXES, fetch_url
from trainer.backbones import default_backbone
from trainer.predict import chosen_backbone
from ui.people import labeler, me, undo_mine
from ui.progress import job_ui, start_job
from ui.similar import more_like_this_button, similar_ui
from ui.words import counted
from ui.workspace import active_model, current_workspace, serving_others

BACKBONE_HELP = "face: people, works offline. vgg16: the tutorial's, also sees flags and logos."


@st.cache_data(ttl=300, show_spinner=False)
def suggested_backbone(configured_weights: str) -> str:
    """Why this computer starts on a backbone; cached, as it may try to reach the weights' host for seconds."""
    return default_backbone(configured_weights)[1]


def project_ui(ws, *, expanded: bool) -> tuple[str, list[str], str] | None:
    """The project name, targets and backbone, once the user saves them."""
    with st.expander("Project: what Lookout looks for", expanded=expanded), st.form("project"):
        name = st.text_input("Project name", ws.config.name)
        targets = st.text_area("Targets, one per line (a person, a flag, a logo)", "\n".join(ws.config.classes[1:]))
        backbone = st.selectbox("Backbone", BACKBONES, index=BACKBONES.index(chosen_backbone(ws)), help=BACKBONE_HELP)
        if expanded:  # a new project: say why it starts with this backbone
            st.caption("Suggested backbone on this computer: " + suggested_backbone(ws.config.vgg16_weights))
        if st.form_submit_button("Save project"):
            return name, targets.splitlines(), backbone
    return None


def folder_ui() -> tuple[str, str] | None:
    """A folder on the server (and optional CSV) to import, once the user presses the button."""
    with st.form("import"):
        folder = st.text_input("Folder of images on this computer", placeholder="/path/to/Data_deeplearning")
        csv = st.text_input("Mapping CSV (Image_ID,Class)", placeholder="default: mapping_trump.csv in that folder")
        if st.form_submit_button("Import") and folder.strip():
            return folder.strip(), csv.strip()
    return None


def zip_ui():
    """An uploaded zip of frames with its mapping CSV, once the user presses the button."""
    with st.form("import-zip", clear_on_submit=True):
        upload = st.file_uploader("A zip of the folder, with its mapping_trump.csv", type=["zip"])
        if st.form_submit_button("Import the zip"):
            if upload is not None:
                return upload
            st.warning("Choose a zip file first.")
    return None


def capture_ui() -> tuple[list, list[str]] | None:
    """Uploaded videos and URLs to capture frames from, once the user presses the button."""
    with st.form("capture", clear_on_submit=True):
        uploads = st.file_uploader("Videos", type=[s.lstrip(".") for s in VIDEO_SUFFIXES], accept_multiple_files=True)
        urls = st.text_area("...or video URLs, one per line (TikTok or any site yt-dlp reads)", key="capture-urls")
        if st.form_submit_button("Capture frames"):
            urls = [u.strip() for u in urls.splitlines() if u.strip()]
            if uploads or urls:
                return uploads, urls
            st.warning("Choose video files or paste URLs first.")
    return None


def allowed_folder_and_csv(ws, folder: str, csv: str) -> tuple[Path, Path | None]:
    """The typed folder and CSV, resolved, if this app may read them (data/untrusted_input.py)."""
    rules = dict(roots=ws.config.import_roots, serving_others=serving_others())
    return server_folder(folder, **rules), server_folder(csv, **rules) if csv else None


def import_zip_upload(ws, archive: Path, job):
    try:
        return import_zip(ws, archive, progress=job.progress)
    finally:
        archive.unlink(missing_ok=True)  # its frames are stored; the zip itself is not needed


def capture_videos(ws, videos: list[Path], urls: list[str], job) -> list:
    """Capture frames from uploaded files, then from each URL's videos, reporting each."""
    reports = []
    for url in urls:
        job.progress(f"downloading {url}", 0, 0)
        videos = videos + [path for path, _ in fetch_url(ws, url, source="capture", from_page=True)]
    for i, video in enumerate(videos):
        job.progress(f"capturing {video.name}", i, len(videos))
        reports.append(capture_frames(ws, video))
    return reports


def conflicts_ui(ws) -> None:
    """Images whose CSV rows disagreed: show each, let the journalist decide."""
    conflicts = open_conflicts(ws)
    if not conflicts:
        return
    st.subheader(f"Conflicting labels to resolve ({len(conflicts)})")
    for conflict in conflicts[:10]:
        left, right = st.columns([1, 2])
        left.image(str(ws.frames_dir / conflict["file_name"]), width=200)
        right.write(f"{conflict['file_name']}: the CSV said {conflict['detail']}")
        for i, name in enumerate(ws.config.classes):
            if right.button(name, key=f"conflict-{conflict['id']}-{i}"):
                resolve_conflict(ws, conflict["id"], i, **me())
                st.rerun()


def agreement_ui(ws) -> None:
    """How often second opinions agree with labels, per target, and the frames they disagree on."""
    from data.leases import opinions
    from labeler.leases_and_opinions import agreement

    rows = opinions(ws.db)
    if not rows:
        return
    st.subheader("Agreement between labelers")
    st.caption("Cohen's kappa between each frame's label and a second opinion given blind: 1 is full agreement, "
               "0 no better than chance. Below 0.6, agree on what counts as the target before labeling more.")
    st.dataframe(pd.DataFrame(agreement(ws)).T, width="content")
    names = ws.config.classes
    differ = [r for r in rows if r["opinion"] != r["label"]]
    if differ:
        st.write(f"{counted(len(differ), 'frame')} to resolve: the label and the second opinion differ")
    for row in differ[:10]:
        left, right = st.columns([1, 2])
        left.image(str(ws.frames_dir / row["file_name"]), width=200)
        right.write(f"{row['file_name']}: {row['labeled_by']} said {names[row['label']]}, "
                    f"{row['second']} said {names[row['opinion']]}")
        for i, name in enumerate(names):
            if right.button(name, key=f"resolve-{row['id']}-{row['second']}-{i}"):
                set_labels(ws, {row["id"]: i}, **me(), reason="resolved a second opinion")
                withdraw_second_opinion(ws, row["id"], who=row["second"])
                st.rerun()


def browse_ui(ws) -> None:
    """Labeled frames by filter, several relabeled as one undoable action."""
    from data.browse_labeled import BrowseFilter, labeled_videos, labelers
    from labeler.browse import browse

    names = ws.config.classes
    with st.expander("Browse and relabel labeled frames"):
        columns = st.columns(4)
        classes = columns[0].multiselect("Class", range(len(names)), format_func=names.__getitem__)
        videos = dict(labeled_videos(ws.db))
        chosen_videos = columns[1].multiselect("Video or source", list(videos), format_func=videos.__getitem__)
        people = columns[2].multiselect("Labeled by", labelers(ws.db))
        dates = columns[3].date_input("Labeled between", value=(), help="leave empty for any day")
        disagrees = st.checkbox("Only frames the active model disagrees with")
        model, backbone = active_model(ws) if disagrees else (None, None)
        if disagrees and model is None:
            st.info("No model is active yet; train and activate one on the Train page.")
        since, until = (dates[0].isoformat(), dates[-1].isoformat()) if dates else (None, None)
        found = browse(ws, BrowseFilter(tuple(classes), tuple(chosen_videos), tuple(people), since, until, disagrees),
                       model=model, backbone=backbone)
        st.caption(f"{found.total} frames match" + (f"; showing the newest {len(found.frames)}" if found.total > len(found.frames)
                                                     else "") + (f"; {found.unscored} not yet scored by the model"
                                                                 if found.unscored else ""))
        grid = st.columns(6)
        selected = []
        for i, frame in enumerate(found.frames):
            cell = grid[i % 6]
            cell.image(str(ws.frames_dir / frame["file_name"]), width="stretch")
            said = f"; model: {frame['model_says']}" if "model_says" in frame else ""
            if cell.checkbox(f"{names[frame['label']]} by {frame['who']}{said}", key=f"pick-{frame['id']}"):
                selected.append(frame["id"])
            more_like_this_button(cell, frame["id"], "browse")
        target = st.selectbox("Relabel the selected frames as", range(len(names)), format_func=names.__getitem__)
        if labeler() is None:
            st.caption("Give your name in the sidebar to relabel.")
        if st.button(f"Relabel {counted(len(selected), 'frame')}", disabled=not selected or labeler() is None):
            set_labels(ws, dict.fromkeys(selected, target), **me(), reason="relabeled from the grid")
            for frame_id in selected:
                st.session_state.pop(f"pick-{frame_id}", None)
            st.session_state.label_note = (f"Relabeled {counted(len(selected), 'frame')} as {names[target]}; "
                                           "one undo restores them all.")
            st.rerun()
        if st.button("Undo my last label action", disabled=labeler() is None):
            st.session_state.label_note = undo_mine(ws) or "Nothing of yours to undo in this browser."
            st.rerun()
        if note := st.session_state.pop("label_note", None):
            st.info(note)


def add_frames_ui(ws) -> None:
    folder_tab, zip_tab, capture_tab = st.tabs(["Import a folder", "Upload a zip", "Capture from videos"])
    with folder_tab:
        if request := folder_ui():
            try:
                folder, csv = allowed_folder_and_csv(ws, *request)
            except LookoutError as exc:
                st.error(str(exc))
            else:
                start_job(ws, "import", lambda job: import_folder(ws, folder, csv, progress=job.progress))
    with zip_tab:
        if upload := zip_ui():
            archive = save_upload(upload.name, upload.getvalue(), ws.root / "uploads")
            start_job(ws, "import", lambda job: import_zip_upload(ws, archive, job))
    with capture_tab:
        if request := capture_ui():
            uploads, urls = request
            videos = [save_upload(u.name, u.getvalue(), ws.videos_dir) for u in uploads]
            start_job(ws, "capture", lambda job: capture_videos(ws, videos, urls, job))
    job_ui(ws, "import", "Importing", describe_import)
    job_ui(ws, "capture", "Capturing", lambda reports: " ".join(r.summary() + "." for r in reports))


def describe_import(report) -> tuple[str, str]:
    """(level, words): a folder with no images imported nothing, which is no success."""
    if not report.image_files:
        return "warning", ("No images found there, so nothing was imported. Check that the folder (or zip) holds the "
                           f"frames themselves ({', '.join(IMAGE_SUFFIXES)} files).")
    if not report.new_frames:
        return "info", f"Nothing new: all {report.distinct_images} images are in the workspace already."
    return "success", f"Imported {report.new_frames} new frame{'s' if report.new_frames != 1 else ''}."


def page() -> None:
    ws = current_workspace()
    st.title("Dataset")
    counts = label_counts(ws)
    empty = sum(counts.values()) == 0
    if empty:
        st.info(
            "This workspace is empty. Name what you are looking for, then bring in frames: "
            "a labeled folder like the tutorial's (Image_ID,Class), or videos to capture frames from."
        )
    if request := project_ui(ws, expanded=empty):
        name, targets, backbone = request
        try:
            define_project(ws, name=name, targets=targets, backbone=backbone)
        except LookoutError as exc:
            st.error(str(exc))
        else:  # drawn anew, so every count and label on the page uses the new names (it still said "target")
            st.session_state.dataset_note = f"Saved. Lookout looks for: {', '.join(ws.config.classes[1:])}."
            st.rerun()
    if note := st.session_state.pop("dataset_note", None):
        st.success(note)
    similar_ui(ws)
    add_frames_ui(ws)
    st.subheader("Frames per class")
    st.dataframe(pd.DataFrame({"frames": counts}), width="content")
    if people := labels_by_person(ws):
        st.subheader("Labels per person")
        st.dataframe(pd.DataFrame(people).T, width="content")
    timeline = label_timeline(ws)
    if len(timeline) > 1:
        st.subheader("Labels over time")
        st.line_chart(pd.DataFrame(timeline).set_index("day"))
    conflicts_ui(ws)
    agreement_ui(ws)
    if not empty:
        browse_ui(ws)
    report = last_import_report(ws)
    if report:
        if serving_others():  # the folder it came from is a server path: its name says enough
            report = replace(report, folder=Path(report.folder).name, csv=report.csv and Path(report.csv).name)
        st.subheader("Last import")
        st.code(report.summary(), language=None)
